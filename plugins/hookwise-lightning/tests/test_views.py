"""What ``trainer`` and ``pl_module`` offer an adapted callback, compared with Lightning where
Lightning has the same thing, and the clear refusal of what they do not offer."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from hookwise import ConfigError
from hookwise.testing import IsolatedPluginManager, TinyModel, run_fit
from hookwise_lightning import UnsupportedLightningFeature
from lightning.pytorch.callbacks import Callback
from lightning_reference import Scripted

LightningFit = Callable[..., pl.Trainer]

#: ``trainer`` attributes whose values match Lightning's for the same job
SAME_AS_LIGHTNING = (
    "current_epoch", "global_step", "max_epochs", "max_steps", "is_global_zero", "global_rank",
    "local_rank", "world_size", "num_nodes", "training", "validating", "testing",
    "sanity_checking", "should_stop", "fast_dev_run", "num_training_batches", "num_val_batches",
    "val_check_interval", "check_val_every_n_epoch", "enable_validation",
    "estimated_stepping_batches", "log_every_n_steps",
)  # fmt: skip


class Probe(Callback):
    """Reads the trainer at the end of each training epoch (after its validation)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        values = {name: getattr(trainer, name) for name in SAME_AS_LIGHTNING}
        values["stage"] = str(trainer.state.stage.value)
        values["fn"] = str(trainer.state.fn.value)
        values["val/score"] = float(trainer.callback_metrics["val/score"])
        values["schedulers"] = [(c.interval, c.frequency) for c in trainer.lr_scheduler_configs]
        values["optimizer"] = type(trainer.optimizers[0]).__name__
        values["module"] = (pl_module.current_epoch, pl_module.global_step)
        values["automatic_optimization"] = pl_module.automatic_optimization
        values["lr_schedulers"] = type(pl_module.lr_schedulers()).__name__
        self.seen.append(values)


def test_trainer_reads_as_in_lightning(lightning_fit: LightningFit, tmp_path: Path) -> None:
    def halving(optimizer: Any) -> Any:
        return torch.optim.lr_scheduler.StepLR(optimizer, 1, 0.5)

    values = [0.5, 0.25, 0.125]
    reference = Probe()
    lightning_fit([reference], epochs=3, values=values, scheduler=halving, log_every_n_steps=50)
    adapted = Probe()
    run_fit([adapted, Scripted(values)], epochs=3, scheduler=halving, test=False, tmp_path=tmp_path)
    assert len(adapted.seen) == 3
    assert adapted.seen == reference.seen


class Steps(Callback):
    """Reads the step counts at the end of each training epoch."""

    NAMES = ("global_step", "accumulate_grad_batches", "estimated_stepping_batches")

    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self.seen.append(tuple(getattr(trainer, name) for name in self.NAMES))


def test_step_counts_with_accumulation_read_as_in_lightning(
    lightning_fit: LightningFit, tmp_path: Path
) -> None:
    """3 batches an epoch accumulated 2 at a time: 2 optimizer steps an epoch in both."""
    reference, adapted = Steps(), Steps()
    lightning_fit([reference], epochs=3, accumulate_grad_batches=2)
    run_fit([adapted], epochs=3, test=False, tmp_path=tmp_path, accumulate_grad_batches=2)
    assert adapted.seen == reference.seen == [(2, 2, 6), (4, 2, 6), (6, 2, 6)]


class Touch(Callback):
    """Runs ``action(trainer, pl_module)`` in ``on_train_epoch_start``."""

    def __init__(self, action: Callable[[Any, Any], Any]) -> None:
        self.action = action
        self.results: list[Any] = []

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self.results.append(self.action(trainer, pl_module))


@pytest.mark.parametrize(
    ("action", "what"),
    [
        (lambda t, m: t.datamodule, "`trainer.datamodule`"),
        (lambda t, m: t.fit_loop.epoch_loop.automatic_optimization, "`trainer.fit_loop.epoch"),
        (lambda t, m: t.strategy.model, "`trainer.strategy.model`"),
        (lambda t, m: t.logger.experiment, "`trainer.logger.experiment`"),
        (lambda t, m: setattr(t, "limit_val_batches", 0), "`trainer.limit_val_batches = ...`"),
        (lambda t, m: m.hparams, "`pl_module.hparams`"),
        (lambda t, m: m.log("x", 1.0, enable_graph=True), "enable_graph=True"),
    ],
)
def test_what_is_not_offered_is_refused_by_name(
    tmp_path: Path, action: Callable[[Any, Any], Any], what: str
) -> None:
    with pytest.raises(UnsupportedLightningFeature) as info:
        run_fit([Touch(action)], epochs=1, tmp_path=tmp_path)
    message = str(info.value)
    assert what in message and "is not supported" in message
    assert isinstance(info.value, AttributeError)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "plugin 'Touch' failed in hook 'on_train_epoch_start'" in notes


def test_getattr_probing_gets_its_default(tmp_path: Path) -> None:
    touch = Touch(lambda t, m: (getattr(t, "_val_check_time_interval", None), hasattr(m, "hp")))
    run_fit([touch], epochs=1, tmp_path=tmp_path)
    assert touch.results == [(None, False)]


def test_should_stop_is_a_latch(tmp_path: Path) -> None:
    def stop_then_withdraw(trainer: Any, pl_module: Any) -> None:
        trainer.should_stop = True
        trainer.should_stop = True  # a second request changes nothing
        trainer.should_stop = False

    with pytest.raises(UnsupportedLightningFeature, match="cannot be withdrawn"):
        run_fit([Touch(stop_then_withdraw)], epochs=3, tmp_path=tmp_path)


def test_pl_module_is_the_model(tmp_path: Path) -> None:
    def inspect_module(trainer: Any, module: Any) -> Any:
        return (
            isinstance(module, TinyModel),
            module.trainer is trainer,
            [n for n, _ in module.named_parameters()],
            set(module.state_dict()),
            module.training,
            module(torch.zeros(1, 4))["logits"].shape,
            trainer.lightning_module is module,
        )

    touch = Touch(inspect_module)
    result = run_fit([touch], epochs=1, tmp_path=tmp_path)
    names = [n for n, _ in result.model.named_parameters()]
    assert touch.results == [
        (True, True, names, set(result.model.state_dict()), True, (1, 2), True)
    ]


class Logs(Callback):
    """Logs from several hooks, as a Lightning callback does with ``pl_module.log``."""

    def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        batch_idx = args[-1]
        pl_module.log("batch", float(batch_idx), prog_bar=True)
        pl_module.log("both", float(batch_idx), on_step=True, on_epoch=True)
        pl_module.log("val/kept", 7.0)

    def on_validation_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        batch_idx = args[2]
        pl_module.log("mean", float(batch_idx))  # on_epoch: the pass's mean
        pl_module.log("top", float(batch_idx), reduce_fx="max")
        pl_module.log("hidden", 1.0, logger=False)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        pl_module.log_dict({"a": 1.0, "b": torch.tensor(2.0)})
        self.hidden = float(trainer.callback_metrics["val/hidden"])

    def on_test_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        pl_module.log("done", 1.0)


def test_logged_values_follow_hookwise_naming(tmp_path: Path) -> None:
    logs = Logs()
    result = run_fit([logs], epochs=1, tmp_path=tmp_path)
    metrics = result.metrics
    assert metrics["train/batch"] == 2.0
    assert metrics["train/both_step"] == 2.0 and metrics["train/both_epoch"] == 1.0
    assert metrics["val/kept"] == 7.0  # a name with a phase prefix keeps it
    assert metrics["val/mean"] == 0.5 and metrics["val/top"] == 1.0
    assert (metrics["val/a"], metrics["val/b"], metrics["test/done"]) == (1.0, 2.0, 1.0)
    assert "val/hidden" not in metrics and logs.hidden == 1.0
    assert result.trainer.pm.get_plugin("Logs") is not None


@pytest.mark.parametrize(
    ("hook", "call", "message"),
    [
        ("on_fit_start", lambda m: m.log("x", 1.0), "Lightning does not allow logging there"),
        ("on_train_epoch_start", lambda m: m.log("x", 1.0, on_step=True), "there is no step"),
        ("on_train_epoch_start", lambda m: m.log("x", torch.ones(2)), "one number"),
        ("on_train_epoch_start", lambda m: m.log("x", "high"), "logs numbers"),
        ("on_train_epoch_start", lambda m: m.log("x", 1.0, reduce_fx="median"), "median"),
    ],
)
def test_bad_logs_are_errors(
    tmp_path: Path, hook: str, call: Callable[[Any], Any], message: str
) -> None:
    class Bad(Callback):
        pass

    setattr(Bad, hook, lambda self, trainer, pl_module: call(pl_module))
    with pytest.raises(ConfigError, match=message):
        run_fit([Bad()], epochs=1, tmp_path=tmp_path)


def test_callback_metrics_take_writes_and_copy_as_a_dict(tmp_path: Path) -> None:
    def write_and_copy(trainer: Any, pl_module: Any) -> Any:
        trainer.callback_metrics.update({"custom": torch.tensor(3.0)})
        copied = copy.deepcopy(trainer.callback_metrics)
        return type(copied), float(copied["custom"]), "custom" in trainer.callback_metrics

    touch = Touch(write_and_copy)
    result = run_fit([touch], epochs=1, tmp_path=tmp_path)
    assert touch.results == [(dict, 3.0, True)]
    assert "custom" not in result.metrics  # written, not logged (as in Lightning)


class Saver(Callback):
    """Adds to the checkpoint in ``on_save_checkpoint``, reads it back on load."""

    def __init__(self) -> None:
        self.counter = 0
        self.loaded: dict[str, Any] | None = None

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self.counter += 1

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        checkpoint["saver_note"] = f"epoch {checkpoint['epoch']}"

    def on_load_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        self.loaded = dict(checkpoint)

    def state_dict(self) -> dict[str, Any]:
        return {"counter": self.counter}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.counter = state_dict["counter"]


def test_checkpoint_hooks_and_state_round_trip(tmp_path: Path) -> None:
    first = Saver()
    part = run_fit([first], epochs=2, test=False, tmp_path=tmp_path / "a")
    checkpoint = part.trainer.save_checkpoint(tmp_path / "saved.ckpt")
    second = Saver()
    run_fit([second], epochs=3, test=False, tmp_path=tmp_path / "b", resume_from=checkpoint)
    assert second.loaded == {"epoch": 2, "global_step": 6, "saver_note": "epoch 2"}
    assert second.counter == 3


class Failing(Callback):
    def __init__(self) -> None:
        self.exceptions: list[BaseException] = []

    def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        if trainer.global_step == 2:
            raise ValueError("boom")

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self.exceptions.append(exception)


def test_on_exception_sees_the_error_that_ends_the_run(tmp_path: Path) -> None:
    failing = Failing()
    with pytest.raises(ValueError, match="boom"):
        run_fit([failing], epochs=1, tmp_path=tmp_path)
    assert [str(e) for e in failing.exceptions] == ["boom"]


def test_a_tolerated_failure_is_not_an_exception_of_the_run(tmp_path: Path) -> None:
    failing = Failing()
    pm = IsolatedPluginManager(entry_points=True)
    pm.enable_object(failing, on_error="warn")
    run_fit(pm=pm, epochs=1, tmp_path=tmp_path)
    assert failing.exceptions == []
    assert pm.failures["Failing"].count == 1


def test_ckpt_path_is_the_checkpoint_the_fit_resumed_from(tmp_path: Path) -> None:
    fresh = Touch(lambda t, m: t.ckpt_path)
    part = run_fit([fresh], epochs=1, test=False, tmp_path=tmp_path / "a")
    assert fresh.results == [None]
    checkpoint = part.trainer.save_checkpoint(tmp_path / "saved.ckpt")
    resumed = Touch(lambda t, m: t.ckpt_path)
    run_fit([resumed], epochs=2, test=False, tmp_path=tmp_path / "b", resume_from=checkpoint)
    assert resumed.results == [str(checkpoint)]


def test_remove_checkpoint_deletes_only_checkpoints_the_run_writes_beside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outside = tmp_path / "precious.ckpt"
    outside.write_text("not the run's")
    folder = tmp_path / "ckpts"

    def save_and_remove(trainer: Any, pl_module: Any) -> Any:
        trainer.strategy.remove_checkpoint(outside)  # a folder the run never wrote to
        trainer.save_checkpoint(folder / "mine.ckpt")
        (folder / "notes.txt").write_text("beside, not a checkpoint")
        trainer.strategy.remove_checkpoint(folder / "notes.txt")
        trainer.strategy.remove_checkpoint(folder / "mine.ckpt")
        return sorted(p.name for p in folder.iterdir())

    touch = Touch(save_and_remove)
    run_fit([touch], epochs=1, tmp_path=tmp_path)
    assert touch.results == [["notes.txt"]]
    assert outside.read_text() == "not the run's"
    assert caplog.text.count("not deleting") == 2
