"""Lightning's own callbacks, unchanged, on hookwise's trainer, each compared with the same
job on Lightning's own Trainer (the ``lightning_fit`` fixture)."""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import lightning.pytorch.callbacks.timer as timer_module
import pytest
import torch
from hookwise import Callback, ConfigError, hookimpl
from hookwise.testing import FitResult, run_fit
from lightning.pytorch.callbacks import (
    EarlyStopping,
    LambdaCallback,
    LearningRateMonitor,
    ModelCheckpoint,
    Timer,
)
from lightning_reference import MemoryLogger, Scripted

LightningFit = Callable[..., pl.Trainer]


def _epochs_trained(result: FitResult) -> int:
    return len(result.calls.values("on_train_epoch_start", "trainer_state"))


# -- EarlyStopping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "params"),
    [
        # best 0.9 at epoch 1, then 3 validations without improvement: stops after epoch 4
        ([1.0, 0.9, 0.95, 0.92, 0.91, 0.5, 0.4], {"patience": 3}),
        # improvements smaller than min_delta do not count
        ([1.0, 0.95, 0.91, 0.88, 0.5], {"patience": 2, "min_delta": 0.1}),
        # max mode with a threshold; the check after validation, not at the epoch's end
        (
            [0.1, 0.5, 0.95, 0.99],
            {"mode": "max", "stopping_threshold": 0.9, "check_on_train_epoch_end": False},
        ),
    ],
)
def test_early_stopping_stops_where_lightning_stops(
    lightning_fit: LightningFit, tmp_path: Path, values: list[float], params: dict[str, Any]
) -> None:
    reference = EarlyStopping(monitor="val/score", **params)
    lightning = lightning_fit([reference], epochs=len(values), values=values)
    adapted = EarlyStopping(monitor="val/score", **params)
    result = run_fit([adapted, Scripted(values)], epochs=len(values), test=False, tmp_path=tmp_path)

    assert reference.stopped_epoch > 0 and lightning.current_epoch < len(values)
    assert adapted.stopped_epoch == reference.stopped_epoch
    assert _epochs_trained(result) == lightning.current_epoch == reference.stopped_epoch + 1
    assert (adapted.wait_count, float(adapted.best_score)) == (
        reference.wait_count,
        float(reference.best_score),
    )
    assert adapted.stopping_reason == reference.stopping_reason
    request = result.stop_request
    assert request is not None and request.plugin == "EarlyStopping"
    assert request.epoch == reference.stopped_epoch


def test_early_stopping_by_import_path_with_parameters_and_a_missing_metric(
    tmp_path: Path,
) -> None:
    path = "lightning.pytorch.callbacks:EarlyStopping"
    result = run_fit(
        [(path, {"monitor": "val/score", "patience": 1}), Scripted([1.0, 2.0, 3.0])],
        epochs=5,
        test=False,
        tmp_path=tmp_path / "a",
    )
    assert _epochs_trained(result) == 2
    assert result.stop_request is not None and result.stop_request.plugin == path

    with pytest.raises(ConfigError, match=r"has no parameter\(s\) \['patients'\]"):
        run_fit([(path, {"monitor": "val/score", "patients": 1})], tmp_path=tmp_path / "b")
    with pytest.raises(RuntimeError, match="`val/accuracy` which is not available") as info:
        run_fit([(path, {"monitor": "val/accuracy"})], epochs=1, tmp_path=tmp_path / "c")
    assert "Pass in or modify your `EarlyStopping` callback to use any of the following" in str(
        info.value
    )
    assert "`val/loss`" in str(info.value)  # the metrics hookwise logged are offered


def test_early_stopping_state_survives_a_resume(tmp_path: Path) -> None:
    plateau = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99]
    whole = EarlyStopping(monitor="val/score", patience=3)
    run_fit([whole, Scripted(plateau)], epochs=7, test=False, tmp_path=tmp_path / "whole")
    assert whole.stopped_epoch == 4

    first = EarlyStopping(monitor="val/score", patience=3)
    part = run_fit([first, Scripted(plateau)], epochs=3, test=False, tmp_path=tmp_path / "a")
    checkpoint = part.trainer.save_checkpoint(tmp_path / "after-epoch-2.ckpt")
    saved = torch.load(checkpoint, weights_only=True)["plugins"]["EarlyStopping"]
    assert saved["state"]["wait_count"] == 1 and float(
        saved["state"]["best_score"]
    ) == pytest.approx(0.9)

    second = EarlyStopping(monitor="val/score", patience=3)
    resumed = run_fit(
        [second, Scripted(plateau)],
        epochs=7,
        test=False,
        tmp_path=tmp_path / "b",
        resume_from=checkpoint,
    )
    assert _epochs_trained(resumed) == 2  # epochs 3 and 4
    assert second.stopped_epoch == 4 and second.wait_count == whole.wait_count


# -- LearningRateMonitor -----------------------------------------------------------------------


def _halving(optimizer: torch.optim.Optimizer) -> Any:
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)


class LogListener(Callback):
    """Keeps every merged log hookwise hands its logging plugin (a trainer API log listener)."""

    def __init__(self) -> None:
        super().__init__()
        self.logged: list[dict[str, float]] = []

    def on_fit_start(self, trainer_state: Any, model: Any) -> None:
        trainer_state["trainer"].add_log_listener(
            lambda logs: self.logged.append({k: float(v) for k, v in logs.items()})
        )


@pytest.mark.parametrize(
    ("interval", "expected"),
    [("step", [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025]), (None, [0.1, 0.05, 0.025])],
)
def test_lr_monitor_logs_the_learning_rate_as_in_lightning(
    lightning_fit: LightningFit,
    tmp_path: Path,
    interval: str | None,
    expected: list[float],
) -> None:
    memory = MemoryLogger()
    reference = LearningRateMonitor(logging_interval=interval)
    lightning_fit([reference], epochs=3, scheduler=_halving, logger=memory)
    lightning_logged = [m["lr-SGD"] for _, m in memory.records if "lr-SGD" in m]

    adapted, listener = LearningRateMonitor(logging_interval=interval), LogListener()
    result = run_fit(
        [listener, adapted],
        epochs=3,
        scheduler=_halving,
        log_every_n_steps=1,
        test=False,
        tmp_path=tmp_path,
    )
    hookwise_logged = [logs["train/lr-SGD"] for logs in listener.logged if "train/lr-SGD" in logs]
    assert reference.lrs == adapted.lrs == {"lr-SGD": pytest.approx(expected)}
    assert hookwise_logged == lightning_logged == pytest.approx(expected)
    assert result.metrics["train/lr-SGD"] == pytest.approx(expected[-1])


def test_lr_monitor_follows_log_every_n_steps(tmp_path: Path) -> None:
    monitor = LearningRateMonitor(logging_interval="step")
    run_fit([monitor], epochs=2, log_every_n_steps=2, test=False, tmp_path=tmp_path)
    assert monitor.lrs == {"lr-SGD": [0.1, 0.1, 0.1]}  # before steps 1, 3 and 5 (0-based)


# -- Timer -------------------------------------------------------------------------------------


class FakeClock:
    """``time.monotonic`` of Lightning's timer module: one second passes per training batch."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    fake = FakeClock()
    monkeypatch.setattr(timer_module, "time", types.SimpleNamespace(monotonic=fake.monotonic))
    yield fake


class Tick(pl.Callback):
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def on_train_batch_start(self, *args: Any) -> None:
        self.clock.now += 1.0


class HookwiseTick:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    @hookimpl
    def on_train_batch_start(self) -> None:
        self.clock.now += 1.0


@pytest.mark.parametrize(("interval", "stop_step"), [("step", 5), ("epoch", 6)])
def test_timer_stops_at_its_duration_as_in_lightning(
    lightning_fit: LightningFit, tmp_path: Path, clock: FakeClock, interval: str, stop_step: int
) -> None:
    reference = Timer(duration={"seconds": 5}, interval=interval, verbose=False)
    lightning = lightning_fit([Tick(clock), reference], epochs=10)
    adapted = Timer(duration={"seconds": 5}, interval=interval, verbose=False)
    result = run_fit([HookwiseTick(clock), adapted], epochs=10, test=False, tmp_path=tmp_path)

    assert lightning.global_step == stop_step
    request = result.stop_request
    assert request is not None and request.global_step == stop_step
    assert request.reason == "Timer set trainer.should_stop = True"
    assert adapted.time_elapsed() == reference.time_elapsed() == stop_step


# -- LambdaCallback ----------------------------------------------------------------------------


def test_lambda_callback_runs_its_functions_as_in_lightning(
    lightning_fit: LightningFit, tmp_path: Path
) -> None:
    def recording(calls: list[tuple[Any, ...]], hook: str) -> Callable[..., None]:
        def record(trainer: Any, pl_module: Any, *args: Any, **kwargs: Any) -> None:
            calls.append((hook, trainer.current_epoch, trainer.global_step, *kwargs.values()))

        return record

    hooks = ("setup", "on_train_epoch_end", "on_validation_end", "on_fit_end")
    reference_calls: list[tuple[Any, ...]] = []
    lightning_fit([LambdaCallback(**{h: recording(reference_calls, h) for h in hooks})])
    calls: list[tuple[Any, ...]] = []
    run_fit(
        [LambdaCallback(**{h: recording(calls, h) for h in hooks})], test=False, tmp_path=tmp_path
    )
    assert calls == reference_calls
    assert [c[0] for c in calls[:4]] == [
        "setup",
        "on_validation_end",
        "on_train_epoch_end",
        ("on_validation_end"),
    ]


def test_lambda_callback_with_a_hook_hookwise_lacks_is_refused(tmp_path: Path) -> None:
    callback = LambdaCallback(on_before_backward=lambda *args: None)
    with pytest.raises(ConfigError, match="overrides the Lightning hook 'on_before_backward'"):
        run_fit([callback], tmp_path=tmp_path)


# -- ModelCheckpoint ---------------------------------------------------------------------------

SCORES = [5.0, 3.0, 4.0, 1.0, 2.0]


def _names(paths: Any) -> list[str]:
    return sorted(Path(p).name for p in paths)


def test_model_checkpoint_keeps_the_top_k_as_in_lightning(
    lightning_fit: LightningFit, tmp_path: Path
) -> None:
    options = {"monitor": "val/score", "save_top_k": 2, "save_last": True}
    reference = ModelCheckpoint(**options)
    lightning_fit([reference], epochs=5, values=SCORES)
    adapted = ModelCheckpoint(**options)
    result = run_fit([adapted, Scripted(SCORES)], epochs=5, test=False, tmp_path=tmp_path)

    folder = result.output_dir / "lightning" / "checkpoints"
    assert adapted.dirpath == str(folder)
    kept = ["epoch=3-step=12.ckpt", "epoch=4-step=15.ckpt"]
    assert _names(reference.best_k_models) == _names(adapted.best_k_models) == kept
    assert _names(folder.iterdir()) == sorted([*kept, "last.ckpt"])
    assert Path(adapted.best_model_path).name == Path(reference.best_model_path).name
    assert float(adapted.best_model_score) == float(reference.best_model_score) == 1.0
    assert {Path(k).name: float(v) for k, v in adapted.best_k_models.items()} == {
        Path(k).name: float(v) for k, v in reference.best_k_models.items()
    }
    best = torch.load(adapted.best_model_path, weights_only=True)  # a hookwise checkpoint
    assert (best["format"], best["epoch"], best["global_step"]) == ("hookwise-checkpoint", 3, 12)


def test_model_checkpoint_weights_only_and_every_n_steps(tmp_path: Path) -> None:
    adapted = ModelCheckpoint(every_n_train_steps=2, save_top_k=-1, save_weights_only=True)
    result = run_fit([adapted], epochs=2, test=False, tmp_path=tmp_path)
    folder = result.output_dir / "lightning" / "checkpoints"
    steps = sorted(int(p.stem.split("step=")[1]) for p in folder.iterdir())
    assert steps == [2, 4, 6]
    saved = torch.load(folder / "epoch=1-step=4.ckpt", weights_only=True)
    assert set(saved) == {
        "format",
        "format_version",
        "versions",
        "manifest",
        "epoch",
        "global_step",
        "seed",
        "model",
        "metrics",
    }


def test_model_checkpoint_resumes_where_it_stopped(tmp_path: Path) -> None:
    options = {"monitor": "val/score", "save_top_k": 2, "save_last": True}
    whole = ModelCheckpoint(**options)
    run_fit([whole, Scripted(SCORES)], epochs=5, test=False, tmp_path=tmp_path / "whole")

    first = ModelCheckpoint(**options)
    part = run_fit([first, Scripted(SCORES)], epochs=3, test=False, tmp_path=tmp_path / "run")
    assert _names(first.best_k_models) == ["epoch=1-step=6.ckpt", "epoch=2-step=9.ckpt"]
    second = ModelCheckpoint(**options)
    with pytest.warns(UserWarning, match="exists and is not empty"):  # Lightning warns so too
        run_fit(
            [second, Scripted(SCORES)],
            epochs=5,
            test=False,
            tmp_path=tmp_path / "run",
            resume_from=first.last_model_path,
        )
    assert _names(second.best_k_models) == _names(whole.best_k_models)
    folder = Path(second.dirpath)
    assert _names(folder.iterdir()) == sorted([*_names(whole.best_k_models), "last.ckpt"])
    assert part.output_dir == folder.parent.parent
