"""vis4d 0.1.2 fidelity of returned logs: numpy scalars are logged, and what vis4d's trainer
ignores is ignored (with one warning per plugin and hook) instead of failing the plugin."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hookwise import Callback, hookimpl
from hookwise.testing import run_fit
from hookwise.trainer.logs import LogMerger, check_log_value


class NumpyLogs(Callback):
    """Returns numpy values, as vis4d code computing metrics with numpy does."""

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> dict[str, Any]:
        return {"f32": np.float32(1.5), "i64": np.int64(2), "zero_d": np.array(0.25)}

    def on_test_epoch_end(self, trainer_state: Any, model: Any) -> dict[str, Any]:
        return {"f64": np.float64(0.125), "one": np.array([3.0], dtype=np.float32)}


def test_numpy_scalars_and_0d_arrays_are_logged(tmp_path: Path) -> None:
    result = run_fit([NumpyLogs()], tmp_path=tmp_path, epochs=1, test=False)
    metrics = result.metrics
    assert metrics["train/f32"] == 1.5 and metrics["train/i64"] == 2.0
    assert metrics["train/zero_d"] == 0.25
    assert metrics["val/f64"] == 0.125 and metrics["val/one"] == 3.0
    # logged as the Python numbers they hold (listeners and files never see numpy)
    latest = result.trainer._logs.latest
    assert type(latest["train/f32"]) is float and type(latest["train/i64"]) is int


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.float32(0.1), float(np.float32(0.1))),
        (np.int32(-3), -3),
        (np.uint8(7), 7),
        (np.array(2.5), 2.5),
        (np.array([[4]]), 4),
        (torch.tensor([1.0]), None),  # tensors stay tensors (no read off the device)
    ],
)
def test_a_numpy_scalar_is_the_number_it_holds(value: Any, expected: Any) -> None:
    logged = check_log_value("p", "h", "k", value)
    assert (
        logged is value
        if expected is None
        else (logged == expected and type(logged) in (int, float))
    )


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (np.array([1.0, 2.0]), r"numpy ndarray of shape \(2,\) and dtype float64"),
        (np.bool_(True), r"numpy bool of shape \(\) and dtype bool"),
        (np.str_("x"), "numpy str"),
        (torch.ones(3), r"a tensor of shape \(3,\)"),
        ("0.5", "is str"),
        (True, "is bool"),
    ],
)
def test_what_is_not_a_scalar_is_refused_naming_it(value: Any, named: str) -> None:
    with pytest.raises(TypeError, match=rf"plugin 'p', hook 'h': log 'k' .*{named}"):
        check_log_value("p", "h", "k", value)


class Returns(Callback):
    """Returns values from hooks whose return value vis4d's trainer ignores."""

    def __init__(self, epoch_end: Any) -> None:
        super().__init__()
        self.epoch_end = epoch_end

    def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> Any:
        return True

    def on_train_batch_start(
        self, trainer_state: Any, model: Any, loss_module: Any, batch: Any, batch_idx: int
    ) -> Any:
        return {"seen": batch_idx}

    def on_train_epoch_end(self, trainer_state: Any, model: Any, loss_module: Any) -> Any:
        return self.epoch_end

    def on_test_epoch_start(self, trainer_state: Any, model: Any) -> Any:
        return "started"

    def on_test_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> Any:
        return 1


class Hookimpls:
    @hookimpl
    def on_fit_end(self) -> Any:
        return "bye"


@pytest.mark.parametrize("epoch_end", [True, {"note": "done"}, {"note": "done", "acc": 0.5}])
def test_return_values_vis4d_ignores_are_ignored_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, epoch_end: Any
) -> None:
    with caplog.at_level(logging.WARNING, logger="hookwise"):
        result = run_fit([Returns(epoch_end), Hookimpls()], tmp_path=tmp_path, epochs=2, batches=3)
    warned = [r.getMessage() for r in caplog.records if "which is ignored" in r.getMessage()]
    hooks = [
        "on_train_epoch_start",
        "on_train_batch_start",
        "on_train_epoch_end",
        "on_test_epoch_start",
        "on_test_batch_end",
        "on_fit_end",
    ]
    for hook in hooks:
        mine = [m for m in warned if f", hook {hook!r} returned" in m]
        assert len(mine) == 1, (hook, warned)  # once, however many calls
        plugin = "Hookimpls" if hook == "on_fit_end" else "Returns"
        assert mine[0].startswith(f"plugin {plugin!r}, hook {hook!r} returned ")
    assert len(warned) == len(hooks)
    # what is a log there is still logged (a hookwise extension; vis4d ignored it all)
    assert result.metrics.get("train/acc") == (
        0.5 if isinstance(epoch_end, dict) and "acc" in epoch_end else None
    )
    assert "train/note" not in result.metrics


def test_logged_hooks_still_refuse_what_is_not_a_log() -> None:
    failures: list[tuple[str, str, Exception]] = []
    merger = LogMerger(lambda hook, plugin, exc: failures.append((hook, plugin, exc)))
    merger.merge("train/", "on_train_batch_end", [("p", True), ("q", {"note": "x"})])
    assert [(h, p) for h, p, _ in failures] == [
        ("on_train_batch_end", "p"),
        ("on_train_batch_end", "q"),
    ]


class ApiLogs:
    @hookimpl
    def on_train_epoch_end(self, trainer_state: Any) -> None:
        from hookwise import trainer_api

        trainer_api(trainer_state).log("np", np.float32(0.5))
        trainer_api(trainer_state).log_dict({"arr": np.array(2), "i": np.int16(3)})


def test_the_trainer_api_logs_numpy_values(tmp_path: Path) -> None:
    result = run_fit([ApiLogs()], tmp_path=tmp_path, epochs=1, test=False)
    assert result.metrics["train/np"] == 0.5
    assert result.metrics["train/arr"] == 2.0 and result.metrics["train/i"] == 3.0
