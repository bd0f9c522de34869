"""Trainer: vis4d's call order with its faults fixed, logs, stopping, checkpoints."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import (
    Callback,
    CallbackConnector,
    CheckpointError,
    PluginManager,
    Trainer,
    data_key,
    hookimpl,
    pred_key,
)
from hookwise.checkpointing import load_checkpoint

Parts = Callable[..., dict[str, Any]]


class Recorder(Callback):
    """Records every hook it receives, with a few arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[Any, ...]] = []

    def setup(self) -> None:
        self.events.append(("setup",))

    def on_fit_start(self, trainer_state: Any, model: Any) -> None:
        self.events.append(("fit_start", trainer_state["current_epoch"]))

    def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
        self.events.append(("epoch_start", trainer_state["current_epoch"]))

    def on_train_batch_start(
        self, trainer_state: Any, model: Any, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        self.events.append(("batch_start", batch_idx, trainer_state["global_step"]))

    def on_before_optimizer_step(self, trainer_state: Any, model: Any, optimizer: Any) -> None:
        self.events.append(("before_step", trainer_state["global_step"]))

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.events.append(
            ("batch_end", batch_idx, trainer_state["global_step"], "metrics" in trainer_state)
        )

    def on_train_epoch_end(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
        self.events.append(
            ("epoch_end", trainer_state["current_epoch"], "optimizers" in trainer_state)
        )

    def on_test_epoch_start(self, trainer_state: Any, model: Any) -> None:
        self.events.append(("test_start", model.training))

    def on_test_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self.events.append(("test_batch", batch_idx, dataloader_idx))

    def on_test_epoch_end(self, trainer_state: Any, model: Any) -> None:
        self.events.append(("test_end",))

    def on_validation_end(self, trainer_state: Any, model: Any, metrics: Any) -> None:
        self.events.append(("validation_end", tuple(sorted(metrics))))

    def on_fit_end(self, trainer_state: Any, model: Any) -> None:
        self.events.append(("fit_end", trainer_state["global_step"]))

    def kinds(self) -> list[str]:
        return [e[0] for e in self.events]


def fit(
    parts: Parts, callbacks: list[Any] | None = None, plugins: Any = None, **kwargs: Any
) -> tuple[Trainer, dict[str, Any]]:
    p = parts()
    trainer_kwargs = {**p["trainer"], **kwargs}
    trainer = Trainer(**trainer_kwargs, callbacks=callbacks, plugins=plugins)
    trainer.fit(p["model"], [p["optimizer"]], [], p["loss"])
    return trainer, p


def test_call_order_of_one_fit(fit_parts: Parts) -> None:
    recorder = Recorder()
    fit(fit_parts, [recorder], num_epochs=1, seed=0)
    assert recorder.events == [
        ("setup",),
        ("fit_start", 0),
        ("epoch_start", 0),
        ("batch_start", 0, 0),
        ("before_step", 0),
        ("batch_end", 0, 1, True),
        ("batch_start", 1, 1),
        ("before_step", 1),
        ("batch_end", 1, 2, True),
        ("batch_start", 2, 2),
        ("before_step", 2),
        ("batch_end", 2, 3, True),
        ("epoch_end", 0, True),
        ("test_start", False),
        ("test_batch", 0, 0),
        ("test_batch", 1, 0),
        ("test_end",),
        ("validation_end", ()),
        ("fit_end", 3),
    ]


class Vis4dAccuracy(Callback):
    """A callback as written for vis4d: no decorators, connectors, positional-friendly methods."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.correct = 0
        self.total = 0
        self.loader_indices: list[int] = []
        self.train_inputs: list[Any] = []

    def on_train_batch_end(self, trainer_state, model, loss_module, outputs, batch, batch_idx):  # type: ignore[no-untyped-def]
        inputs = self.get_train_callback_inputs(outputs, batch)
        self.train_inputs.append(sorted(inputs))
        return {"loss": trainer_state["metrics"]["loss"]}

    def on_test_batch_end(self, trainer_state, model, outputs, batch, batch_idx, dataloader_idx=0):  # type: ignore[no-untyped-def]
        inputs = self.get_test_callback_inputs(outputs, batch)
        self.correct += int((inputs["preds"].argmax(1) == inputs["labels"]).sum())
        self.total += len(inputs["labels"])
        self.loader_indices.append(dataloader_idx)

    def on_test_epoch_end(self, trainer_state, model):  # type: ignore[no-untyped-def]
        result = {"accuracy": self.correct / self.total}
        self.correct = self.total = 0
        return result


def test_vis4d_callback_runs_unchanged_with_two_test_loaders(fit_parts: Parts) -> None:
    connector = CallbackConnector({"preds": pred_key("logits"), "labels": data_key("labels")})
    callback = Vis4dAccuracy(train_connector=connector, test_connector=connector)
    p = fit_parts(test_sizes=(8, 4))
    trainer = Trainer(**p["trainer"], callbacks=[callback], num_epochs=2, seed=0)
    trainer.fit(p["model"], [p["optimizer"]], [], p["loss"])
    assert callback.loader_indices == [0, 0, 1] * 2
    assert callback.train_inputs == [["labels", "preds"]] * 6
    assert set(trainer.metrics) == {"train/loss", "val/accuracy"}
    assert 0.0 <= trainer.metrics["val/accuracy"] <= 1.0
    test_metrics = trainer.test(p["model"])
    assert set(test_metrics) == {"test/accuracy"}
    # The direct, positional vis4d calling style still works.
    outputs = {"logits": torch.zeros(2, 2)}
    batch = {"labels": torch.tensor([0, 1])}
    callback.on_test_batch_end({}, None, outputs, batch, 0)
    assert callback.loader_indices[-1] == 0


def test_global_step_counts_batches_not_optimizers(fit_parts: Parts) -> None:
    p = fit_parts()
    model = p["model"]
    optimizers = [
        torch.optim.SGD([model.linear.weight], lr=0.1),
        torch.optim.SGD([model.linear.bias], lr=0.1),
    ]
    recorder = Recorder()
    trainer = Trainer(**p["trainer"], callbacks=[recorder], num_epochs=1, seed=0)
    trainer.fit(model, optimizers, [], p["loss"])
    assert trainer.global_step == 3
    assert [e for e in recorder.events if e[0] == "before_step"] == [
        ("before_step", s) for s in (0, 0, 1, 1, 2, 2)
    ]


def test_num_steps_ending_an_epoch_still_runs_epoch_end_hooks(fit_parts: Parts) -> None:
    recorder = Recorder()
    trainer, _ = fit(fit_parts, [recorder], num_epochs=5, num_steps=4, seed=0)
    assert trainer.global_step == 4
    assert [e for e in recorder.events if e[0] == "epoch_end"] == [
        ("epoch_end", 0, True),
        ("epoch_end", 1, True),
    ]
    assert recorder.kinds()[-1] == "fit_end"


def test_step_validation_is_logged_under_val_at_multiples(fit_parts: Parts) -> None:
    steps: list[int] = []

    class Probe(Callback):
        def on_test_epoch_end(self, trainer_state: Any, model: Any) -> dict[str, float]:
            steps.append(trainer_state["global_step"])
            return {"step": float(trainer_state["global_step"])}

    trainer, _ = fit(
        fit_parts,
        [Probe()],
        num_epochs=2,
        val_check_interval=2,
        check_val_every_n_epoch=None,
        seed=0,
    )
    assert steps == [2, 4, 6]
    assert trainer.metrics == {"val/step": 6.0}


def test_schedulers_step_after_epoch_end_hook(fit_parts: Parts) -> None:
    seen: list[float] = []

    class LR(Callback):
        def on_train_epoch_end(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
            seen.append(trainer_state["optimizers"][0].param_groups[0]["lr"])

    p = fit_parts()
    scheduler = torch.optim.lr_scheduler.StepLR(p["optimizer"], step_size=1, gamma=0.5)
    trainer = Trainer(**p["trainer"], callbacks=[LR()], num_epochs=3, seed=0)
    trainer.fit(p["model"], [p["optimizer"]], [scheduler], p["loss"])
    assert seen == [0.1, 0.05, 0.025]


def test_step_interval_schedulers(fit_parts: Parts) -> None:
    p = fit_parts()
    scheduler = torch.optim.lr_scheduler.StepLR(p["optimizer"], step_size=1, gamma=0.5)
    trainer = Trainer(**p["trainer"], num_epochs=1, seed=0, scheduler_interval="step")
    trainer.fit(p["model"], [p["optimizer"]], [scheduler], p["loss"])
    assert p["optimizer"].param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**3)


def test_same_key_from_two_plugins_keeps_both(
    fit_parts: Parts, caplog: pytest.LogCaptureFixture
) -> None:
    class A(Callback):
        def on_test_epoch_end(self, trainer_state: Any, model: Any) -> dict[str, float]:
            return {"score": 1.0}

    class B(Callback):
        def on_test_epoch_end(self, trainer_state: Any, model: Any) -> dict[str, float]:
            return {"score": 2.0}

    with caplog.at_level(logging.WARNING, logger="hookwise"):
        trainer, _ = fit(fit_parts, [A(), B()], num_epochs=2, seed=0)
    assert trainer.metrics == {"val/score": 1.0, "val/score@B": 2.0}
    warnings = [r.message for r in caplog.records if "both returned" in r.message]
    assert len(warnings) == 1 and "'A' and 'B'" in warnings[0]


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ([1.0], "returned list"),
        ({"x": "high"}, "log 'x' is str"),
        ({"x": torch.ones(3)}, r"shape \(3,\)"),
        ({3: 1.0}, "not a string"),
    ],
)
def test_bad_hook_return_values_name_plugin_and_hook(
    fit_parts: Parts, returned: Any, message: str
) -> None:
    class Bad(Callback):
        def on_train_batch_end(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            return returned

    with pytest.raises(TypeError, match=rf"plugin 'Bad', hook 'on_train_batch_end'.*{message}"):
        fit(fit_parts, [Bad()], num_epochs=1, seed=0)


def test_stop_request_is_a_latch_naming_the_plugin(fit_parts: Parts) -> None:
    class Stopper(Callback):
        def on_train_batch_end(
            self,
            trainer_state: Any,
            model: Any,
            loss_module: Any,
            outputs: Any,
            batch: Any,
            batch_idx: int,
        ) -> None:
            if trainer_state["global_step"] == 2:
                trainer_state["train_module"].request_stop("enough")
            if trainer_state["global_step"] == 3:
                trainer_state["train_module"].request_stop("too late")

    recorder = Recorder()
    trainer, _ = fit(fit_parts, [Stopper(), recorder], num_epochs=5, seed=0)
    assert trainer.global_step == 2
    request = trainer.stop_request
    assert request is not None and (request.reason, request.plugin, request.global_step) == (
        "enough",
        "Stopper",
        2,
    )
    # The current batch finishes, the epoch ends (with its validation), then the end hooks run.
    assert recorder.kinds()[-8:] == [
        "batch_end",
        "epoch_end",
        "test_start",
        "test_batch",
        "test_batch",
        "test_end",
        "validation_end",
        "fit_end",
    ]


def test_setup_runs_once_per_process(fit_parts: Parts) -> None:
    recorder = Recorder()
    p = fit_parts()
    trainer = Trainer(**p["trainer"], callbacks=[recorder], num_epochs=1, seed=0)
    trainer.test(p["model"])
    trainer.fit(p["model"], [p["optimizer"]], [], p["loss"])
    trainer.test(p["model"])
    assert recorder.kinds().count("setup") == 1


def test_plugins_by_name_and_hookimpl_module(
    fit_parts: Parts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    p = fit_parts()
    trainer = Trainer(
        **p["trainer"], num_epochs=1, seed=0, plugins=["tests_core_hookimpls:Counter"]
    )
    trainer.fit(p["model"], [p["optimizer"]], [], p["loss"])
    counter = trainer.pm.get_plugin("tests_core_hookimpls:Counter")
    assert counter.batches == 3


def test_checkpoint_round_trip_and_errors(fit_parts: Parts, tmp_path: Any) -> None:
    trainer, p = fit(fit_parts, num_epochs=1, seed=0)
    path = trainer.save_checkpoint(tmp_path / "c" / "x.ckpt")
    data = load_checkpoint(path)
    assert data["format_version"] == 1 and data["global_step"] == 3
    # after fit, the position is the start of the next epoch (resuming there skips nothing)
    assert (data["epoch"], data["batch_in_epoch"], data["epoch_complete"]) == (1, 0, False)
    assert torch.equal(data["model"]["linear.weight"], p["model"].linear.weight.detach())
    assert not list((tmp_path / "c").glob(".*tmp"))
    torch.save({"model": {}}, tmp_path / "foreign.ckpt")
    with pytest.raises(CheckpointError, match="not a hookwise checkpoint"):
        load_checkpoint(tmp_path / "foreign.ckpt")
    (tmp_path / "cut.ckpt").write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(tmp_path / "cut.ckpt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.ckpt")


# An expected manifest change: the resume leaves out the saving plugin.
@pytest.mark.filterwarnings("ignore::hookwise.ManifestChangedWarning")
def test_resume_continues_bit_exact(fit_parts: Parts) -> None:
    class Saver(Callback):
        def on_train_batch_end(
            self,
            trainer_state: Any,
            model: Any,
            loss_module: Any,
            outputs: Any,
            batch: Any,
            batch_idx: int,
        ) -> None:
            if trainer_state["global_step"] == 4:
                trainer_state["train_module"].save_checkpoint(
                    trainer_state["train_module"].output_dir / "mid.ckpt"
                )

    straight, p_straight = fit(fit_parts, [Saver()], num_epochs=3, seed=3)
    p = fit_parts()
    resumed = Trainer(**p["trainer"], num_epochs=3, seed=3)
    resumed.fit(
        p["model"], [p["optimizer"]], [], p["loss"], resume_from=straight.output_dir / "mid.ckpt"
    )
    assert resumed.global_step == straight.global_step == 9
    for a, b in zip(p_straight["model"].parameters(), p["model"].parameters(), strict=True):
        assert torch.equal(a, b)


def test_hookimpl_functions_receive_only_what_they_ask(fit_parts: Parts) -> None:
    seen: list[int] = []

    class Plugin:
        @hookimpl
        def on_train_batch_end(self, batch_idx: int) -> None:
            seen.append(batch_idx)

    pm = PluginManager()
    pm.register(Plugin(), "plugin")
    fit(fit_parts, plugins=pm, num_epochs=1, seed=0)
    assert seen == [0, 1, 2]
