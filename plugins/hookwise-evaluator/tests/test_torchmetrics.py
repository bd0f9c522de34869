"""torchmetrics metrics in the ``evaluator`` plugin, checked against the shipped accuracy."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import ConfigError
from hookwise.testing import run_torchrun
from hookwise_evaluator import EvaluatorCallback, TorchMetricsEvaluator
from torch import nn

ACCURACY = "torchmetrics.classification:MulticlassAccuracy"


def _predictions(n: int = 23, classes: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(n, classes, generator=generator), torch.randint(
        0, classes, (n,), generator=generator
    )


def _evaluate(callback: EvaluatorCallback, logits: torch.Tensor, labels: torch.Tensor) -> Any:
    """One evaluation pass over ``logits``/``labels`` in batches of 5, as the trainer drives it."""
    callback.setup()
    callback.on_test_epoch_start({}, nn.Identity())
    for index, start in enumerate(range(0, len(labels), 5)):
        part = slice(start, start + 5)
        outputs, batch = {"logits": logits[part]}, {"labels": labels[part]}
        callback.on_test_batch_end({}, nn.Identity(), outputs, batch, index)
    return callback.on_test_epoch_end({}, nn.Identity())


def test_a_metric_by_import_path_equals_the_shipped_accuracy() -> None:
    logits, labels = _predictions()
    shipped = _evaluate(EvaluatorCallback("accuracy", top_k=[1, 2]), logits, labels)
    top1 = EvaluatorCallback({"target": ACCURACY, "num_classes": 3, "average": "micro"})
    assert isinstance(top1.evaluator, TorchMetricsEvaluator)
    assert _evaluate(top1, logits, labels) == {
        "torchmetrics/MulticlassAccuracy": pytest.approx(shipped["accuracy/top1"], abs=1e-6)
    }
    # parameters beside the import path go to the metric too, as for the shipped evaluators
    top2 = EvaluatorCallback(ACCURACY, num_classes=3, top_k=2, average="micro")
    assert _evaluate(top2, logits, labels) == {
        "torchmetrics/MulticlassAccuracy": pytest.approx(shipped["accuracy/top2"], abs=1e-6)
    }
    assert 0 < shipped["accuracy/top1"] < shipped["accuracy/top2"] < 1


def test_a_named_collection_logs_like_the_shipped_evaluator() -> None:
    logits, labels = _predictions()
    shipped = _evaluate(EvaluatorCallback("accuracy", top_k=[1, 2], per_class=True), logits, labels)
    member = {"target": ACCURACY, "num_classes": 3}
    callback = EvaluatorCallback(
        {
            "target": "torchmetrics",
            "name": "accuracy",
            "metric": {
                "top1": {**member, "average": "micro"},
                "top2": {**member, "average": "micro", "top_k": 2},
                "per_class": {**member, "average": None},
            },
        }
    )
    results = _evaluate(callback, logits, labels)
    assert results == {
        "accuracy/top1": pytest.approx(shipped["accuracy/top1"], abs=1e-6),
        "accuracy/top2": pytest.approx(shipped["accuracy/top2"], abs=1e-6),
        # a 1-d result (one value per class) gives one key per element
        **{
            f"accuracy/per_class/{c}": pytest.approx(shipped[f"per_class/class{c}"], abs=1e-6)
            for c in range(3)
        },
    }


def test_torchmetrics_in_a_real_fit_matches_the_shipped_evaluator(run_fit: Any) -> None:
    result = run_fit(
        [
            ("evaluator", {"evaluator": "accuracy"}),
            ("evaluator@tm", {"evaluator": ACCURACY, "num_classes": 2, "average": "micro"}),
        ],
        epochs=2,
        lr=0.05,
    )
    shipped = result.metrics["val/accuracy/top1"]
    assert 0 < shipped < 1, "some samples should be wrong, or the comparison proves little"
    assert result.metrics["val/torchmetrics/MulticlassAccuracy"] == pytest.approx(shipped, abs=1e-6)
    assert result.test_metrics["test/torchmetrics/MulticlassAccuracy"] == pytest.approx(
        result.test_metrics["test/accuracy/top1"], abs=1e-6
    )


def test_each_pass_starts_from_fresh_states() -> None:
    logits, labels = _predictions()
    callback = EvaluatorCallback(ACCURACY, num_classes=3, average="micro")
    first = _evaluate(callback, logits, labels)
    flipped = _evaluate(callback, logits, (labels + 1) % 3)
    assert first != flipped
    assert _evaluate(callback, logits, labels) == first


def test_metric_objects_and_lists_are_accepted() -> None:
    from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

    logits, labels = _predictions()
    by_object = EvaluatorCallback(MulticlassAccuracy(num_classes=3, average="micro"))
    listed = EvaluatorCallback(
        TorchMetricsEvaluator(
            [
                MulticlassAccuracy(num_classes=3, average="micro"),
                {
                    "target": ACCURACY.replace("MulticlassAccuracy", "MulticlassF1Score"),
                    "num_classes": 3,
                },
            ],
            name="tm",
        )
    )
    expected_f1 = MulticlassF1Score(num_classes=3)(logits, labels).item()
    accuracy = _evaluate(by_object, logits, labels)["torchmetrics/MulticlassAccuracy"]
    assert _evaluate(listed, logits, labels) == {
        "tm/MulticlassAccuracy": pytest.approx(accuracy),
        "tm/MulticlassF1Score": pytest.approx(expected_f1),
    }


def test_bad_metrics_are_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="not a torchmetrics Metric"):
        EvaluatorCallback({"target": "torchmetrics", "metric": {"target": "torch.nn:Identity"}})
    with pytest.raises(ConfigError, match="give metric"):
        EvaluatorCallback("torchmetrics")
    with pytest.raises(ConfigError, match="Did you mean 'MulticlassAccuracy'"):
        EvaluatorCallback("torchmetrics.classification:MulticlassAccurac")
    two_d = EvaluatorCallback(
        "torchmetrics.classification:MulticlassConfusionMatrix", num_classes=3
    )
    with pytest.raises(TypeError, match=r"\(3, 3\); only numbers, 0-d and 1-d tensors"):
        _evaluate(two_d, *_predictions())
    # without torchmetrics installed, the error names the extra to install
    for module in ("torchmetrics", "torchmetrics.classification"):
        monkeypatch.setitem(sys.modules, module, None)  # what an import then finds: nothing
    with pytest.raises(ConfigError, match=r"hookwise-evaluator\[torchmetrics\]"):
        EvaluatorCallback({"target": ACCURACY, "num_classes": 3})
    with pytest.raises(ConfigError, match=r"hookwise-evaluator\[torchmetrics\]"):
        EvaluatorCallback({"target": "torchmetrics", "metric": {"target": ACCURACY}})


# -- two processes under torchrun (gloo) -----------------------------------------------------

WORKER = """
import json, os, sys
from hookwise.testing import run_fit

out = sys.argv[1]
accuracy = "torchmetrics.classification:MulticlassAccuracy"
result = run_fit(
    [
        ("evaluator", {"evaluator": "accuracy", "report_count": True}),
        ("evaluator@tm", {"evaluator": accuracy, "num_classes": 2, "average": "micro"}),
        # the same metric without synchronisation: rank 0 sees only its own shard
        ("evaluator@local", {"evaluator": {"target": "torchmetrics", "name": "local", "metric": {
            "target": accuracy, "num_classes": 2, "average": "micro", "sync_on_compute": False}}}),
    ],
    epochs=2, batch_size=3, val_batches=3, lr=0.05, tmp_path=out, dist_timeout=60,
)
rank = os.environ["RANK"]
with open(os.path.join(out, f"metrics-rank{rank}.json"), "w") as handle:
    json.dump({"metrics": result.metrics, "test": result.test_metrics}, handle)
"""


@pytest.mark.slow
def test_two_ranks_under_torchrun_synchronise_through_torchmetrics(tmp_path: Path) -> None:
    """9 validation samples split 5/4 over two gloo ranks: torchmetrics' own synchronisation
    gives the accuracy of all 9, as the shipped evaluator's summed counts do."""
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    run_torchrun([script, tmp_path], nproc=2, timeout=240)
    ranks = [json.loads((tmp_path / f"metrics-rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["metrics"]["val/accuracy/count"] == 9
    for report in ranks:
        metrics = report["metrics"]
        assert metrics["val/torchmetrics/MulticlassAccuracy"] == pytest.approx(
            ranks[0]["metrics"]["val/accuracy/top1"], abs=1e-6
        )
        assert report["test"]["test/torchmetrics/MulticlassAccuracy"] == pytest.approx(
            ranks[0]["test"]["test/accuracy/top1"], abs=1e-6
        )
    # without synchronisation rank 0 reports its own 5 samples: a different number, so the
    # equality above is torchmetrics' synchronisation at work
    local = ranks[0]["metrics"]["val/local/MulticlassAccuracy"]
    assert local != pytest.approx(ranks[0]["metrics"]["val/accuracy/top1"], abs=1e-6)
    assert local * 5 == pytest.approx(round(local * 5), abs=1e-5)


# -- on a GPU ----------------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)"
)
def test_states_live_on_the_gpu_and_match_the_shipped_accuracy(run_fit: Any) -> None:
    metric = EvaluatorCallback(ACCURACY, num_classes=2, average="micro")
    result = run_fit(
        [("evaluator", {"evaluator": "accuracy"}), metric], epochs=2, lr=0.05, device="cuda"
    )
    states = [t for m in metric.evaluator.collection.values() for t in m.metric_state.values()]
    assert states and all(t.device.type == "cuda" for t in states)
    assert result.metrics["val/torchmetrics/MulticlassAccuracy"] == pytest.approx(
        result.metrics["val/accuracy/top1"], abs=1e-6
    )
