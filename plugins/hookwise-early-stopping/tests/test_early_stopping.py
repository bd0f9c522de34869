"""The early_stopping plugin in real tiny runs, driven by scripted validation metrics."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import Callback, ConfigError, TrainerState
from hookwise.hookspecs import MetricLogs
from hookwise.testing import FitResult
from hookwise_early_stopping import EarlyStopping
from torch import nn

RunFit = Callable[..., FitResult]
NAN = float("nan")


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread (several threads thrash on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Scripted(Callback):
    """Returns ``{"score": values[i]}`` from the i-th validation pass of the current epoch's
    script: by epoch (``by_epoch``) or by pass count."""

    def __init__(self, values: Sequence[float], by_epoch: bool = True) -> None:
        super().__init__()
        self.values = list(values)
        self.by_epoch = by_epoch
        self.passes = 0

    def on_test_epoch_end(self, trainer_state: TrainerState, model: nn.Module) -> MetricLogs:
        index = trainer_state["current_epoch"] if self.by_epoch else self.passes
        self.passes += 1
        return {"score": self.values[min(index, len(self.values) - 1)]}


def _fit(run_fit: RunFit, values: Sequence[float], epochs: int, **params: Any) -> FitResult:
    options = {key: params.pop(key) for key in list(params) if key in _RUN_OPTIONS}
    plugins = [("early_stopping", {"monitor": "val/score", **params}), Scripted(values)]
    return run_fit(plugins, epochs=epochs, **options)


_RUN_OPTIONS = ("tmp_path", "resume_from", "val_check_interval", "test")


def _plugin(result: FitResult) -> EarlyStopping:
    plugin = result.pm.get_plugin("early_stopping")
    assert isinstance(plugin, EarlyStopping)
    return plugin


def _epochs_trained(result: FitResult) -> list[int]:
    states = result.calls.values("on_train_epoch_start", "trainer_state")
    return [state["current_epoch"] for state in states]


# -- loading, parameters -----------------------------------------------------------------------


def test_plugin_is_valid(assert_plugin_valid: Callable[..., Any]) -> None:
    report = assert_plugin_valid("early_stopping", monitor="val/loss", patience=2)
    assert report.distribution == "hookwise-early-stopping"
    assert "on_validation_end" in report.hooks["early_stopping"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"monitor": "val/loss", "mode": "avg"}, "mode must be 'min' or 'max', got 'avg'"),
        ({"monitor": "val/loss", "patience": -1}, "patience must be an integer >= 0, got -1"),
        # Types are checked against the constructor's annotations by the loader.
        ({"monitor": "val/loss", "patience": 1.5}, "'patience' must be int, got 1.5"),
        ({"monitor": "val/loss", "min_delta": -0.1}, "min_delta must be >= 0"),
        ({"monitor": "val/loss", "stopping_threshold": "low"}, "'stopping_threshold' must be"),
        ({"monitor": "train/loss"}, "Use monitor='val/loss'"),
        ({"monitor": "val/loss", "wait": 3}, r"has no parameter\(s\) \['wait'\]"),
    ],
)
def test_bad_parameters_are_named(hookwise_pm: Any, params: dict[str, Any], message: str) -> None:
    hookwise_pm.use_installed_plugins()
    with pytest.raises(ConfigError, match=message):
        hookwise_pm.enable("early_stopping", **params)


def test_monitor_is_required(hookwise_pm: Any) -> None:
    hookwise_pm.use_installed_plugins()
    with pytest.raises(ConfigError, match="monitor"):
        hookwise_pm.enable("early_stopping")


# -- when it stops -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "params", "stop_epoch"),
    [
        # best 0.9 at epoch 1; epochs 2, 3, 4 do not improve -> stop after epoch 4
        ([1.0, 0.9, 0.95, 0.92, 0.91, 0.5, 0.4], {"patience": 3}, 4),
        # an improvement at epoch 3 restarts the count
        ([1.0, 1.1, 1.2, 0.8, 0.9, 1.0, 1.1, 0.1], {"patience": 3}, 6),
        # improvements smaller than min_delta do not count
        ([1.0, 0.95, 0.91, 0.88, 0.5], {"patience": 2, "min_delta": 0.1}, 2),
        # max mode; an equal value is no improvement
        ([0.1, 0.2, 0.2, 0.15, 0.3], {"patience": 2, "mode": "max"}, 3),
        # patience 0: the first pass that does not improve
        ([1.0, 0.9, 0.9, 0.5], {"patience": 0}, 2),
        # a non-finite value stops at once
        ([1.0, 0.9, NAN, 0.5], {"patience": 5}, 2),
        # ... unless check_finite=False: then it is just no improvement
        ([1.0, NAN, NAN, 0.5], {"patience": 2, "check_finite": False}, 2),
        ([1.0, 0.5, 0.09, 0.01], {"patience": 5, "stopping_threshold": 0.1}, 2),
        ([1.0, 2.0, 6.0, 0.5], {"patience": 5, "divergence_threshold": 5.0}, 2),
        ([0.1, 0.5, 0.95, 0.99], {"patience": 5, "mode": "max", "stopping_threshold": 0.95}, 2),
    ],
)
def test_stops_at_the_right_epoch(
    run_fit: RunFit, values: list[float], params: dict[str, Any], stop_epoch: int
) -> None:
    result = _fit(run_fit, values, epochs=len(values), **params)
    assert _epochs_trained(result) == list(range(stop_epoch + 1))
    plugin = _plugin(result)
    assert plugin.stopped_epoch == stop_epoch
    request = result.stop_request
    assert request is not None and request.plugin == "early_stopping"
    assert request.reason == plugin.stop_reason and request.epoch == stop_epoch
    assert "val/score" in request.reason


def test_reasons_say_what_happened(run_fit: RunFit) -> None:
    patience = _fit(run_fit, [1.0, 0.9, 0.95, 0.92], epochs=4, patience=2)
    assert patience.stop_request is not None
    assert patience.stop_request.reason == (
        "val/score did not improve by more than 0 for 2 validation(s) (best 0.9, last 0.92)"
    )
    finite = _fit(run_fit, [1.0, NAN], epochs=3, tmp_path=patience.output_dir.parent / "nan")
    assert finite.stop_request is not None
    assert "val/score = nan is not finite (best 1)" in finite.stop_request.reason


def test_does_not_stop_while_the_metric_improves(run_fit: RunFit) -> None:
    values = [1.0 - 0.1 * e for e in range(8)]
    result = _fit(run_fit, values, epochs=8, patience=1)
    assert _epochs_trained(result) == list(range(8))
    assert result.stop_request is None
    plugin = _plugin(result)
    assert plugin.stopped_epoch is None and plugin.wait_count == 0
    assert plugin.best == pytest.approx(values[-1])


def test_patience_counts_validation_passes(run_fit: RunFit) -> None:
    # batches=3 and val_check_interval=3: a step validation and the epoch's validation at
    # every epoch end, two passes an epoch; the 4th pass without improvement is in epoch 1
    result = run_fit(
        [("early_stopping", {"monitor": "score", "patience": 3}), Scripted([1.0], False)],
        epochs=5,
        val_check_interval=3,
    )
    assert _epochs_trained(result) == [0, 1]
    assert _plugin(result).wait_count == 3


def test_missing_monitored_key_is_an_error_listing_the_keys(run_fit: RunFit) -> None:
    with pytest.raises(ConfigError) as info:
        run_fit([("early_stopping", {"monitor": "val/accuracy"}), Scripted([1.0])], epochs=2)
    message = str(info.value)
    assert "monitor='val/accuracy' is not among this validation pass's metrics" in message
    assert "['val/loss', 'val/score']" in message
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "plugin 'early_stopping' failed in hook 'on_validation_end'" in notes


def test_standalone_test_pass_is_ignored(run_fit: RunFit) -> None:
    result = _fit(run_fit, [1.0, 0.9], epochs=2, patience=0, test=True)
    assert "test/loss" in result.test_metrics  # the test pass has no val/score: no error
    assert result.stop_request is None and _plugin(result).wait_count == 0


# -- state and resume --------------------------------------------------------------------------

PLATEAU = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 1.0, 1.01, 1.02]


def test_state_survives_resume(run_fit: RunFit, tmp_path: Path) -> None:
    """Stopped after epoch 2 (one validation without improvement so far) and resumed, the run
    stops after epoch 4, as the uninterrupted run does (a fresh count would stop at 6)."""
    uninterrupted = _fit(run_fit, PLATEAU, epochs=10, patience=3, tmp_path=tmp_path / "full")
    assert _plugin(uninterrupted).stopped_epoch == 4

    stopped = _fit(run_fit, PLATEAU, epochs=3, patience=3, tmp_path=tmp_path / "a", test=False)
    assert stopped.stop_request is None
    assert _plugin(stopped).state_dict()["wait_count"] == 1
    checkpoint = stopped.trainer.save_checkpoint(tmp_path / "after-epoch-2.ckpt")
    assert torch.load(checkpoint, weights_only=True)["plugins"]["early_stopping"] == {
        "version": 1,
        "monitor": "val/score",
        "mode": "min",
        "best": 0.9,
        "wait_count": 1,
        "last_value": 0.95,
        "stopped_epoch": None,
        "stop_reason": None,
        "stop_kind": None,
    }

    resumed = _fit(
        run_fit, PLATEAU, epochs=10, patience=3, tmp_path=tmp_path / "b", resume_from=checkpoint
    )
    assert _epochs_trained(resumed) == [3, 4]
    assert _plugin(resumed).stopped_epoch == 4
    assert resumed.stop_request is not None
    assert resumed.stop_request.reason == uninterrupted.stop_request.reason  # type: ignore[union-attr]


# An expected manifest change: the resume changes patience on purpose.
@pytest.mark.filterwarnings("ignore::hookwise.ManifestChangedWarning")
def test_resumed_after_a_stop_it_stops_again_unless_patience_grew(
    run_fit: RunFit, tmp_path: Path
) -> None:
    stopped = _fit(run_fit, PLATEAU, epochs=10, patience=3, tmp_path=tmp_path / "a", test=False)
    assert _plugin(stopped).stopped_epoch == 4
    checkpoint = stopped.trainer.save_checkpoint(tmp_path / "stopped.ckpt")

    again = _fit(
        run_fit, PLATEAU, epochs=10, patience=3, tmp_path=tmp_path / "b", resume_from=checkpoint
    )
    assert _epochs_trained(again) == []
    assert again.stop_request is not None
    assert again.stop_request.reason.startswith("resumed after early stopping had asked to stop")

    more_patience = _fit(
        run_fit, PLATEAU, epochs=10, patience=5, tmp_path=tmp_path / "c", resume_from=checkpoint
    )
    assert _epochs_trained(more_patience) == [5, 6]
    assert _plugin(more_patience).stopped_epoch == 6


def test_state_for_another_monitor_is_ignored(caplog: pytest.LogCaptureFixture) -> None:
    saved = EarlyStopping("val/loss", patience=2)
    saved.update(1.0)
    saved.update(2.0)
    other = EarlyStopping("val/score", patience=2)
    with caplog.at_level(logging.WARNING, logger="hookwise.early_stopping"):
        other.load_state_dict(saved.state_dict())
    assert other.best is None and other.wait_count == 0
    assert "the patience count starts over" in caplog.text
    same = EarlyStopping("val/loss", patience=2)
    same.load_state_dict(saved.state_dict())
    assert (same.best, same.wait_count, same.last_value) == (1.0, 1, 2.0)


def test_update_rule_without_a_trainer() -> None:
    """vis4d-style direct use: ``update`` applies the rule to one value."""
    plugin = EarlyStopping("loss", mode="max", patience=1, min_delta=0.5)
    assert plugin.update(1.0) is None
    assert plugin.update(1.4) is not None  # 1.4 is not better than 1.0 + 0.5
    assert plugin.best == 1.0 and plugin.wait_count == 1
    assert math.isclose(plugin.min_delta, 0.5)
