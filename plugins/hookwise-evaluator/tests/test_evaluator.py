"""The ``evaluator`` plugin in real tiny training runs, its numbers checked by hand."""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import (
    Callback,
    ConfigError,
    DataConnector,
    LossConnector,
    LossModule,
    PluginManager,
    Trainer,
    data_key,
    pred_key,
)
from hookwise.testing import tiny_loss
from hookwise_evaluator import (
    ClassificationEvaluator,
    Evaluator,
    EvaluatorCallback,
    RegressionEvaluator,
)
from torch import nn
from torch.utils.data import DataLoader

NUM_CLASSES = 4


def _classification_data(n: int, seed: int) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, 4, generator=generator)
    labels = inputs @ torch.tensor([[1.0, -1, 0, 0.5], [0, 1, -1, 0], [1, 1, 1, -1], [0, 0, 1, 1]])
    return [{"inputs": x, "labels": y} for x, y in zip(inputs, labels.argmax(dim=1), strict=True)]


class Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, NUM_CLASSES)

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.linear(inputs)}


def _fit(
    tmp_path: Path,
    plugins: Any,
    *,
    epochs: int = 2,
    val: list[dict[str, torch.Tensor]] | None = None,
) -> tuple[Trainer, nn.Module, list[dict[str, torch.Tensor]]]:
    torch.manual_seed(0)
    model = Classifier()
    val_data = val if val is not None else _classification_data(22, seed=1)
    trainer = Trainer(
        device="cpu",
        output_dir=tmp_path / "run",
        train_dataloader=DataLoader(_classification_data(24, seed=0), batch_size=4, shuffle=True),
        test_dataloader=[DataLoader(val_data, batch_size=5)],
        train_data_connector=DataConnector({"inputs": "inputs"}),
        num_epochs=epochs,
        plugins=plugins,
        seed=0,
    )
    loss = tiny_loss()
    trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.3), None, loss)
    return trainer, model, val_data


def _hand_predictions(
    model: nn.Module, data: list[dict[str, torch.Tensor]]
) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        logits = model(torch.stack([d["inputs"] for d in data]))["logits"]
    return logits, torch.stack([d["labels"] for d in data])


def _fraction(hits: torch.Tensor) -> float:
    """The share of ``True`` in ``hits``, computed exactly (counts, not a float32 mean)."""
    return int(hits.sum()) / hits.numel()


class ValidationLog(Callback):
    """Keeps every evaluation pass's metrics (``on_validation_end``)."""

    def __init__(self) -> None:
        super().__init__()
        self.passes: list[dict[str, float]] = []

    def on_validation_end(self, trainer_state: Any, model: Any, metrics: Any) -> None:
        self.passes.append(dict(metrics))


# -- accuracy --------------------------------------------------------------------------------


def test_accuracy_by_name_equals_hand_computation(tmp_path: Path) -> None:
    trainer, model, val = _fit(
        tmp_path,
        [("evaluator", {"evaluator": "accuracy", "top_k": [1, 3], "report_count": True})],
    )
    logits, labels = _hand_predictions(model, val)
    top1 = _fraction(logits.argmax(dim=1) == labels)
    top3 = _fraction((logits.topk(3, dim=1).indices == labels[:, None]).any(dim=1))
    assert 0 < top1 < 1, "the data should leave some samples wrong, or the test proves little"
    assert top1 < top3
    metrics = trainer.metrics
    assert metrics["val/accuracy/top1"] == pytest.approx(top1, abs=1e-12)
    assert metrics["val/accuracy/top3"] == pytest.approx(top3, abs=1e-12)
    assert metrics["val/accuracy/count"] == len(val)
    tested = trainer.test(model)
    assert tested == {
        "test/accuracy/top1": pytest.approx(top1, abs=1e-12),
        "test/accuracy/top3": pytest.approx(top3, abs=1e-12),
        "test/accuracy/count": len(val),
    }


def test_default_job_convention_just_works(run_fit: Any) -> None:
    """``-p evaluator:evaluator=accuracy`` on the logits/labels convention, no connector given."""
    result = run_fit([("evaluator", {"evaluator": "accuracy"})], epochs=2)
    loader = result.trainer.test_dataloader[0]
    data = [sample for batch in loader for sample in _unbatch(batch)]
    logits, labels = _hand_predictions(result.model, data)
    expected = _fraction(logits.argmax(dim=1) == labels)
    assert result.test_metrics["test/accuracy/top1"] == pytest.approx(expected, abs=1e-12)
    # the last validation ran on the same (final) weights
    assert result.metrics["val/accuracy/top1"] == pytest.approx(expected, abs=1e-12)
    returned = result.calls.results("on_test_epoch_end", plugin="evaluator")
    assert len(returned) == 3  # two validation passes and the test
    assert returned[-1] == {"accuracy/top1": pytest.approx(expected, abs=1e-12)}
    result.calls.assert_order("on_test_epoch_end", "on_validation_end")


def test_two_instances_log_side_by_side(run_fit: Any) -> None:
    result = run_fit(
        [
            ("evaluator", {"evaluator": "accuracy", "report_count": True}),
            (
                "evaluator@classes",
                {"evaluator": "classification", "per_class": True, "metrics_to_eval": "per_class"},
            ),
        ],
        epochs=1,
    )
    assert result.metrics["val/accuracy/count"] == 8  # run_fit: 2 batches of 4
    assert {k for k in result.metrics if k.startswith("val/per_class/")} == {
        "val/per_class/class0",
        "val/per_class/class1",
    }


def test_plugin_is_valid(assert_plugin_valid: Any) -> None:
    report = assert_plugin_valid("evaluator", evaluator="accuracy", top_k=[1, 2])
    assert report.hooks["evaluator"] == [
        "on_test_batch_end",
        "on_test_epoch_end",
        "on_test_epoch_start",
        "setup",
    ]


def _unbatch(batch: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    return [{k: v[i] for k, v in batch.items()} for i in range(len(batch["labels"]))]


def test_every_validation_pass_evaluates_only_its_own_batches(tmp_path: Path) -> None:
    log = ValidationLog()
    snapshots: list[dict[str, torch.Tensor]] = []

    class Snapshot(Callback):
        def on_test_epoch_start(self, trainer_state: Any, model: Any) -> None:
            snapshots.append({k: v.clone() for k, v in model.state_dict().items()})

    pm = PluginManager()
    pm.enable("evaluator", evaluator="accuracy")
    pm.register(log, "log")
    pm.register(Snapshot(), "snapshot")
    _, _, val = _fit(tmp_path, pm, epochs=3)
    assert len(log.passes) == 3
    for metrics, weights in zip(log.passes, snapshots, strict=True):
        model = Classifier()
        model.load_state_dict(weights)
        logits, labels = _hand_predictions(model, val)
        expected = _fraction(logits.argmax(dim=1) == labels)
        assert metrics == {"val/accuracy/top1": pytest.approx(expected, abs=1e-12)}


def test_per_class_accuracy_and_saved_predictions(tmp_path: Path) -> None:
    names = ["north", "east", "south", "west"]
    trainer, model, val = _fit(
        tmp_path,
        [
            (
                "evaluator",
                {
                    "evaluator": {"target": "accuracy", "per_class": True, "class_names": names},
                    "save_predictions": True,
                },
            )
        ],
        epochs=1,
    )
    logits, labels = _hand_predictions(model, val)
    predicted = logits.argmax(dim=1)
    for index, name in enumerate(names):
        mask = labels == index
        if mask.any():
            expected = _fraction(predicted[mask] == index)
            assert trainer.metrics[f"val/per_class/{name}"] == pytest.approx(expected, abs=1e-12)
        else:
            assert f"val/per_class/{name}" not in trainer.metrics
    folder = tmp_path / "run" / "eval"
    with (folder / "accuracy" / "predictions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["sample"]) for r in rows] == list(range(len(val)))
    assert [r["label"] for r in rows] == [names[i] for i in labels.tolist()]
    assert [r["prediction"] for r in rows] == [names[i] for i in predicted.tolist()]
    confidence = torch.softmax(logits, dim=1).max(dim=1).values
    assert [float(r["confidence"]) for r in rows] == pytest.approx(confidence.tolist(), abs=1e-6)
    with (folder / "per_class" / "per_class.csv").open() as handle:
        table = {r["class"]: r for r in csv.DictReader(handle)}
    for index, name in enumerate(names):
        assert int(table[name]["total"]) == int((labels == index).sum())
        assert int(table[name]["correct"]) == int(((predicted == index) & (labels == index)).sum())


def test_metrics_to_eval_selects_and_save_prefix_moves_the_files(tmp_path: Path) -> None:
    trainer, _, _ = _fit(
        tmp_path,
        [
            (
                "evaluator",
                {
                    "evaluator": "accuracy",
                    "per_class": True,
                    "metrics_to_eval": ["per_class"],
                    "save_predictions": True,
                    "save_prefix": str(tmp_path / "elsewhere"),
                },
            )
        ],
        epochs=1,
    )
    assert trainer.metrics, "per_class logs something"
    assert all(key.startswith("val/per_class/class") for key in trainer.metrics)
    assert (tmp_path / "elsewhere" / "eval" / "per_class" / "per_class.csv").is_file()
    assert not (tmp_path / "run" / "eval").exists()


def test_standalone_test_with_import_path_and_explicit_connector(tmp_path: Path) -> None:
    data = _classification_data(13, seed=5)
    torch.manual_seed(1)
    model = Classifier()
    trainer = Trainer(
        device="cpu",
        output_dir=tmp_path,
        test_dataloader=DataLoader(
            [{"x": d["inputs"], "y": d["labels"]} for d in data], batch_size=4
        ),
        test_data_connector=DataConnector({"inputs": "x"}),
        plugins=[
            (
                "evaluator",
                {
                    "evaluator": "hookwise_evaluator.classification:ClassificationEvaluator",
                    "test_connector": {
                        "prediction": {"pred": "logits"},
                        "groundtruth": {"data": "y"},
                    },
                },
            )
        ],
    )
    logits, labels = _hand_predictions(model, data)
    expected = _fraction(logits.argmax(dim=1) == labels)
    assert trainer.test(model) == {"test/accuracy/top1": pytest.approx(expected, abs=1e-12)}


# -- regression ------------------------------------------------------------------------------


class Regressor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"preds": self.linear(features)}


class MSE(nn.Module):
    def forward(self, preds: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(preds, targets)


def _regression_data(n: int, seed: int) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(n, 3, generator=generator)
    targets = features[:, :2] * 2 - features[:, 2:] + 0.1 * torch.randn(n, 2, generator=generator)
    return [{"features": f, "targets": t} for f, t in zip(features, targets, strict=True)]


def test_regression_errors_equal_hand_computation(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Regressor()
    val = _regression_data(11, seed=3)
    trainer = Trainer(
        device="cpu",
        output_dir=tmp_path / "run",
        train_dataloader=DataLoader(_regression_data(16, seed=2), batch_size=4, shuffle=True),
        test_dataloader=[DataLoader(val, batch_size=4)],
        train_data_connector=DataConnector({"features": "features"}),
        num_epochs=2,
        seed=0,
        plugins=[
            (
                "evaluator",
                {
                    "evaluator": "regression",
                    "errors": ["mse", "mae", "rmse"],
                    "report_count": True,
                    "save_predictions": True,
                },
            )
        ],
    )
    loss = LossModule(
        {
            "loss": MSE(),
            "connector": LossConnector(
                {"preds": pred_key("preds"), "targets": data_key("targets")}
            ),
        }
    )
    trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.05), None, loss)
    with torch.no_grad():
        preds = model(torch.stack([d["features"] for d in val]))["preds"].double()
    diff = preds - torch.stack([d["targets"] for d in val]).double()
    metrics = trainer.metrics
    assert metrics["val/regression/mse"] == pytest.approx(diff.square().mean().item(), rel=1e-9)
    assert metrics["val/regression/mae"] == pytest.approx(diff.abs().mean().item(), rel=1e-9)
    assert metrics["val/regression/rmse"] == pytest.approx(
        diff.square().mean().sqrt().item(), rel=1e-9
    )
    assert metrics["val/regression/count"] == diff.numel()
    with (tmp_path / "run" / "eval" / "regression" / "predictions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["mse"]) for r in rows] == pytest.approx(
        diff.square().mean(dim=1).tolist(), rel=1e-6
    )


def test_regression_accepts_matching_shapes_and_rejects_others() -> None:
    evaluator = RegressionEvaluator(errors="mae")
    evaluator.process_batch(torch.tensor([[1.0], [2.0]]), torch.tensor([0.0, 4.0]))
    assert evaluator.evaluate("regression") == ({"mae": 1.5}, "mae: 1.5")
    with pytest.raises(ValueError, match=r"prediction \(2, 2\) and target \(2,\) do not match"):
        evaluator.process_batch(torch.zeros(2, 2), torch.zeros(2))
    with pytest.raises(ValueError, match="errors must be a non-empty list"):
        RegressionEvaluator(errors=["mse", "r2"])


# -- vis4d protocol, custom evaluators -------------------------------------------------------


class CountingEvaluator(Evaluator):
    """A vis4d-style evaluator: counts samples and sums the labels; records the call order."""

    calls: list[str] = []  # noqa: RUF012 - shared on purpose, inspected by the test

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self.reset()

    @property
    def metrics(self) -> list[str]:
        return ["count", "sum"]

    def reset(self) -> None:
        self.seen: list[int] = []
        self.calls.append("reset")

    def process_batch(self, labels: torch.Tensor) -> None:
        self.seen.extend(labels.tolist())
        self.calls.append("process_batch")

    def gather(self, gather_func: Any) -> None:
        self.calls.append("gather")
        parts = gather_func(self.seen)
        self.seen = [x for part in parts for x in part]

    def process(self) -> None:
        self.calls.append("process")

    def evaluate(self, metric: str) -> tuple[dict[str, Any], str]:
        self.calls.append(f"evaluate:{metric}")
        if metric == "count":
            return {"n": len(self.seen)}, f"{len(self.seen)} samples"
        return {"total": torch.tensor(sum(self.seen) * self.scale)}, ""

    def save_batch(self, metric: str, output_dir: str) -> None:
        self.calls.append(f"save_batch:{metric}")

    def save(self, metric: str, output_dir: str) -> None:
        self.calls.append(f"save:{metric}")
        Path(output_dir, "done.txt").write_text(str(len(self.seen)))


def test_custom_evaluator_table_follows_the_vis4d_call_order(tmp_path: Path) -> None:
    CountingEvaluator.calls = []
    val = _classification_data(7, seed=4)
    trainer, _, _ = _fit(
        tmp_path,
        [
            (
                "evaluator",
                {
                    "evaluator": {"target": f"{__name__}:CountingEvaluator", "scale": 2.0},
                    "metrics_to_eval": ["sum", "count"],
                    "save_predictions": True,
                    "test_connector": {"labels": {"data": "labels"}},
                },
            )
        ],
        epochs=1,
        val=val,
    )
    labels = [int(d["labels"]) for d in val]
    assert trainer.metrics == {"val/sum/total": 2.0 * sum(labels), "val/count/n": 7.0}
    batches = ["process_batch", "save_batch:sum", "save_batch:count"]
    assert CountingEvaluator.calls == [
        "reset",  # built
        "reset",  # setup
        "reset",  # the pass starts
        *batches,
        *batches,
        "gather",
        "process",
        "save:sum",
        "evaluate:sum",
        "save:count",
        "evaluate:count",
        "reset",  # the pass ends
    ]
    assert (tmp_path / "run" / "eval" / "count" / "done.txt").read_text() == "7"


def test_a_pass_never_sees_batches_of_an_earlier_one(tmp_path: Path) -> None:
    callback = EvaluatorCallback(evaluator="accuracy")
    callback.evaluator.process_batch(torch.tensor([[0.0, 9.0]] * 5), torch.zeros(5).long())
    data = _classification_data(6, seed=8)
    torch.manual_seed(2)
    model = Classifier()
    trainer = Trainer(
        device="cpu",
        output_dir=tmp_path,
        test_dataloader=DataLoader(data, batch_size=3),
        test_data_connector=DataConnector({"inputs": "inputs"}),
        callbacks=[callback],
    )
    logits, labels = _hand_predictions(model, data)
    expected = _fraction(logits.argmax(dim=1) == labels)
    assert trainer.test(model)["test/accuracy/top1"] == pytest.approx(expected, abs=1e-12)
    assert callback.last_results == {"accuracy/top1": pytest.approx(expected, abs=1e-12)}


def test_vis4d_style_direct_calls() -> None:
    callback = EvaluatorCallback(
        evaluator=ClassificationEvaluator(top_k=[1, 2]),
        test_connector={"prediction": {"pred": "scores"}, "groundtruth": {"data": "gt"}},
    )
    callback.setup()
    state: dict[str, Any] = {"current_epoch": 0, "global_step": 0}
    callback.on_test_epoch_start(state, nn.Identity())
    scores = torch.tensor([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5], [0.25, 0.35, 0.4]])
    labels = torch.tensor([2, 0, 2, 0])
    callback.on_test_batch_end(
        state, nn.Identity(), outputs={"scores": scores}, batch={"gt": labels}, batch_idx=0
    )
    # top-1 guesses 1, 0, 2, 2: two right. Top-2 sets {1, 2}, {0, 1}, {2, 1}, {2, 1}: three.
    results = callback.on_test_epoch_end(state, nn.Identity())
    assert results == {"accuracy/top1": 0.5, "accuracy/top2": 0.75}


def test_gather_sums_the_parts_of_every_process() -> None:
    logits = torch.randn(10, 3, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1, 2, 2, 1, 0, 0, 1, 2, 1])
    whole = ClassificationEvaluator(top_k=[1, 2], per_class=True, report_count=True)
    whole.process_batch(logits, labels)
    parts = [
        ClassificationEvaluator(top_k=[1, 2], per_class=True, report_count=True) for _ in range(3)
    ]
    parts[0].process_batch(logits[:4], labels[:4])
    parts[1].process_batch(logits[4:9], labels[4:9])
    parts[2].process_batch(logits[9:], labels[9:])  # one sample: fewer classes seen
    collected: list[Any] = []  # what each "process" contributes
    for part in parts:
        part.gather(lambda own: collected.append(own) or [own])
    parts[0].gather(lambda own: collected)  # rank 0 receives every part
    for metric in ("accuracy", "per_class"):
        assert parts[0].evaluate(metric) == whole.evaluate(metric)


# -- errors a user can act on ----------------------------------------------------------------


def test_unknown_evaluator_name_lists_the_known_ones() -> None:
    pm = PluginManager()
    with pytest.raises(ConfigError) as info:
        pm.enable("evaluator", evaluator="acuracy")
    message = str(info.value)
    assert "no evaluator named 'acuracy'" in message
    assert "Did you mean 'accuracy'" in message
    assert "classification" in message and "regression" in message


def test_unknown_parameter_names_the_evaluator_and_the_plugin_parameters() -> None:
    with pytest.raises(ConfigError) as info:
        PluginManager().enable("evaluator", evaluator="accuracy", topk=[5])
    message = str(info.value)
    assert "unknown parameter(s) ['topk']" in message
    assert "Did you mean 'top_k'" in message
    assert "ClassificationEvaluator accepts ['top_k'" in message
    assert "metrics_to_eval" in message
    with pytest.raises(ValueError, match="top_k=\\[5\\]: top-5 accuracy needs at least 5"):
        ClassificationEvaluator(top_k=5).process_batch(torch.zeros(2, 3), torch.zeros(2).long())


def test_missing_evaluator_and_bad_objects_are_explained() -> None:
    pm = PluginManager()
    with pytest.raises(ConfigError, match="the parameter 'evaluator' is required"):
        pm.enable("evaluator")
    with pytest.raises(ConfigError, match=r"is not an evaluator: it lacks \['metrics', 'reset'"):
        EvaluatorCallback(evaluator=object())
    with pytest.raises(ConfigError, match="cannot go to it either"):
        EvaluatorCallback(evaluator=ClassificationEvaluator(), top_k=[2])
    with pytest.raises(ConfigError, match="has no attribute 'Nope'"):
        EvaluatorCallback(evaluator="hookwise_evaluator:Nope")
    with pytest.raises(ConfigError, match=r"metrics_to_eval=\[\] must name some of"):
        EvaluatorCallback(evaluator="accuracy", metrics_to_eval=[])
    with pytest.raises(ConfigError, match=r"metrics_to_eval=\['top1'\] must name some of"):
        EvaluatorCallback(evaluator="accuracy", metrics_to_eval=["top1"])


def test_a_connector_that_does_not_fit_process_batch_fails_when_built() -> None:
    with pytest.raises(ConfigError) as info:
        EvaluatorCallback(
            evaluator="accuracy",
            test_connector={"preds": {"pred": "logits"}, "groundtruth": {"data": "labels"}},
        )
    message = str(info.value)
    assert "gives ['preds', 'groundtruth']" in message
    assert "takes ['prediction', 'groundtruth']" in message
    assert "unknown: ['preds']" in message and "missing: ['prediction']" in message


def test_wrong_output_key_names_the_plugin_hook_and_keys(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as info:
        _fit(
            tmp_path,
            [
                (
                    "evaluator",
                    {
                        "evaluator": "accuracy",
                        "test_connector": {
                            "prediction": {"pred": "scores"},
                            "groundtruth": {"data": "labels"},
                        },
                    },
                )
            ],
            epochs=1,
        )
    text = str(info.value) + "".join(getattr(info.value, "__notes__", []))
    assert "'scores'" in text and "'logits'" in text
    assert "plugin 'evaluator' failed in hook 'on_test_batch_end'" in text


def test_an_empty_evaluation_pass_is_an_error() -> None:
    with pytest.raises(ValueError, match="processed no samples"):
        ClassificationEvaluator().evaluate("accuracy")


def test_results_are_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="hookwise.evaluator"):
        _fit(tmp_path, [("evaluator", {"evaluator": "accuracy"})], epochs=1)
    assert "Running evaluator ClassificationEvaluator..." in caplog.text
    assert "accuracy/top1: " in caplog.text
    assert "top-1 accuracy: " in caplog.text


# -- two real processes (gloo) ---------------------------------------------------------------

WORKER = """
import json, sys, datetime
import torch, torch.distributed as dist
from hookwise_evaluator import EvaluatorCallback, Evaluator

rank, world, store, out = int(sys.argv[1]), 2, sys.argv[2], sys.argv[3]
dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world,
                        timeout=datetime.timedelta(seconds=60))

class Failing(Evaluator):
    metrics = ["m"]
    default_connector = {"prediction": {"pred": "logits"}, "groundtruth": {"data": "labels"}}
    def reset(self): pass
    def process_batch(self, prediction, groundtruth): pass
    def evaluate(self, metric): raise RuntimeError("broken metric")

generator = torch.Generator().manual_seed(0)
logits = torch.randn(11, 3, generator=generator)
labels = torch.randint(0, 3, (11,), generator=generator)
answers = {}
for mode, callback in [
    ("ok", EvaluatorCallback("accuracy", top_k=[1, 2], report_count=True, per_class=True)),
    ("fail", EvaluatorCallback(Failing())),
]:
    callback.setup()
    callback.on_test_epoch_start({}, None)
    for start in range(rank * 2, 11, world * 2):  # batches of 2, uneven shards, no padding
        end = min(start + 2, 11)
        callback.on_test_batch_end({}, None, outputs={"logits": logits[start:end]},
                                   batch={"labels": labels[start:end]}, batch_idx=0)
    try:
        answers[mode] = {"ok": callback.on_test_epoch_end({}, None)}
    except Exception as exc:
        answers[mode] = {"error": f"{type(exc).__name__}: {exc}"}
with open(f"{out}.{rank}", "w") as handle:
    json.dump(answers, handle)
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_two_processes_gather_to_one_result_and_share_a_rank_zero_error(tmp_path: Path) -> None:
    """Two real gloo processes, each evaluating its own shard of the data."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(11, 3, generator=generator)
    labels = torch.randint(0, 3, (11,), generator=generator)
    single = EvaluatorCallback("accuracy", top_k=[1, 2], report_count=True, per_class=True)
    single.on_test_epoch_start({}, nn.Identity())
    single.on_test_batch_end({}, nn.Identity(), {"logits": logits}, {"labels": labels}, 0)
    expected = single.on_test_epoch_end({}, nn.Identity())
    assert expected is not None and expected["accuracy/count"] == 11

    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    store, out = tmp_path / "store", tmp_path / "out"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(rank), str(store), str(out)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(2)
    ]
    logs = []
    try:
        for proc in procs:
            logs.append(proc.communicate(timeout=150)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, log in zip(procs, logs, strict=True):
        assert proc.returncode == 0, log
    answers = [json.loads(Path(f"{out}.{rank}").read_text()) for rank in range(2)]

    assert answers[0]["ok"] == answers[1]["ok"] == {"ok": pytest.approx(expected, abs=1e-12)}
    assert answers[0]["fail"] == {"error": "RuntimeError: broken metric"}
    assert answers[1]["fail"] == {
        "error": "RuntimeError: evaluator Failing failed on rank 0: RuntimeError: broken metric"
    }
