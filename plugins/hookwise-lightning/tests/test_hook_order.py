"""The adapted callback's hooks run in Lightning's order and see the same position and stage:
one recording callback, on Lightning's own Trainer and on hookwise's, compared call by call."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from hookwise.testing import run_fit

LightningFit = Callable[..., pl.Trainer]

#: Every Lightning hook the adapter calls (those of a fit and a test).
RECORDED = (
    "setup", "teardown", "on_fit_start", "on_fit_end", "on_train_start", "on_train_end",
    "on_train_epoch_start", "on_train_epoch_end", "on_train_batch_start", "on_train_batch_end",
    "on_after_backward", "on_before_optimizer_step", "on_validation_start",
    "on_validation_epoch_start", "on_validation_batch_end", "on_validation_epoch_end",
    "on_validation_end", "on_test_start", "on_test_epoch_start", "on_test_batch_end",
    "on_test_epoch_end", "on_test_end",
)  # fmt: skip


class Recorder(pl.Callback):
    """Records ``(hook, epoch, step, stage, fn, extra arguments)`` for every hook call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        for hook in RECORDED:
            setattr(self, hook, self._recording(hook))

    def _recording(self, hook: str) -> Any:
        def record(trainer: Any, pl_module: Any, *args: Any, **kwargs: Any) -> None:
            state = trainer.state
            # batch_idx, dataloader_idx, and setup/teardown's stage (by keyword, as Lightning)
            extra = [a for a in args if isinstance(a, int)] + sorted(kwargs.items())
            stage = None if state.stage is None else str(state.stage.value)
            position = (trainer.current_epoch, trainer.global_step)
            self.calls.append((hook, *position, stage, str(state.fn.value), *extra))

        return record


def test_hooks_run_in_lightnings_order_with_lightnings_position(
    lightning_fit: LightningFit, tmp_path: Path
) -> None:
    reference = Recorder()
    lightning_fit([reference], epochs=2, test=True)
    adapted = Recorder()
    run_fit([adapted], epochs=2, tmp_path=tmp_path)
    assert len(reference.calls) > 40
    assert adapted.calls == reference.calls
