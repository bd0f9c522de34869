"""The parts of Lightning's trainer internals that Lightning's own callbacks read:
``trainer.strategy``, ``trainer.fit_loop.epoch_loop`` and ``trainer._logger_connector``.

Only what those callbacks use is offered, each backed by hookwise's trainer; the rest raises
:class:`~hookwise_lightning.UnsupportedLightningFeature`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from hookwise_lightning import _hookwise_api as api
from hookwise_lightning.errors import UnsupportedLightningFeature

if TYPE_CHECKING:
    from hookwise_lightning.context import RunContext

logger = logging.getLogger("hookwise.lightning")


class _View:
    """Raises a clear error for any attribute not defined on the view."""

    _path = "trainer"
    _offered: tuple[str, ...] = ()

    def __init__(self, context: RunContext) -> None:
        self._context = context

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise UnsupportedLightningFeature(f"{self._path}.{name}", self._offered)


class StrategyView(_View):
    """``trainer.strategy``: hookwise's collectives (no-ops in one process)."""

    _path = "trainer.strategy"
    _offered = (
        "barrier", "broadcast", "global_rank", "is_global_zero", "reduce",
        "reduce_boolean_decision", "remove_checkpoint", "root_device", "world_size",
    )  # fmt: skip

    @property
    def root_device(self) -> torch.device:
        return api.device(self._context.trainer)

    @property
    def global_rank(self) -> int:
        return api.rank()

    @property
    def world_size(self) -> int:
        return api.world_size()

    @property
    def is_global_zero(self) -> bool:
        return api.rank() == 0

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        return api.broadcast(obj, src)

    def barrier(self, name: str | None = None) -> None:
        api.barrier()

    def reduce_boolean_decision(self, decision: bool, all: bool = True) -> bool:
        """In a distributed run: ``all`` ranks must agree (``all=True``) or ``any`` rank."""
        return api.all_ranks(bool(decision)) if all else api.any_rank(bool(decision))

    def reduce(self, tensor: Any, group: Any = None, reduce_op: Any = "mean") -> Any:
        if api.world_size() > 1:
            raise UnsupportedLightningFeature(
                "trainer.strategy.reduce", self._offered, "hookwise reduces no tensor for plugins"
            )
        return tensor

    def remove_checkpoint(self, filepath: str | os.PathLike[str]) -> None:
        """Delete a checkpoint file, only inside a folder this run wrote checkpoints to, and
        only a file this run wrote or a ``*.ckpt`` file there: a saved state names files, and
        data never decides which files are deleted."""
        if api.rank() != 0:
            return
        path = Path(filepath)
        resolved = path.resolve()
        context = self._context
        allowed = resolved.parent in context.checkpoint_dirs and (
            resolved in context.written or resolved.suffix == ".ckpt"
        )
        if not allowed or path.is_dir():
            logger.warning(
                "hookwise-lightning: not deleting %s: it is not a checkpoint file in a folder "
                "this run writes checkpoints to",
                filepath,
            )
            return
        path.unlink(missing_ok=True)
        context.written.discard(resolved)


class _Progress:
    def __init__(self, is_last_batch: bool) -> None:
        self.is_last_batch = is_last_batch


class _ValLoop:
    def __init__(self, has_run: bool) -> None:
        self._has_run = has_run


class EpochLoopView(_View):
    """``trainer.fit_loop.epoch_loop``."""

    _path = "trainer.fit_loop.epoch_loop"
    _offered = ("_batches_that_stepped", "batch_progress", "global_step", "val_loop")

    @property
    def _batches_that_stepped(self) -> int:
        return api.global_step(self._context.trainer)

    @property
    def global_step(self) -> int:
        return api.global_step(self._context.trainer)

    @property
    def batch_progress(self) -> _Progress:
        return _Progress(self._context.is_last_batch)

    @property
    def val_loop(self) -> _ValLoop:
        return _ValLoop(self._context.val_has_run)


class FitLoopView(_View):
    """``trainer.fit_loop``."""

    _path = "trainer.fit_loop"
    _offered = ("epoch_loop", "max_epochs", "max_steps")

    @property
    def epoch_loop(self) -> EpochLoopView:
        return EpochLoopView(self._context)

    @property
    def max_epochs(self) -> int:
        return api.max_epochs(self._context.trainer)

    @property
    def max_steps(self) -> int:
        return api.max_steps(self._context.trainer)


class LoggerConnectorView(_View):
    """``trainer._logger_connector``: when loggers write (every ``log_every_n_steps``)."""

    _path = "trainer._logger_connector"
    _offered = ("should_update_logs",)

    @property
    def should_update_logs(self) -> bool:
        trainer = self._context.trainer
        step = api.global_step(trainer) + 1  # + 1: it is asked before the step too
        return step % api.log_every_n_steps(trainer) == 0 or api.should_stop(trainer)


__all__ = ["EpochLoopView", "FitLoopView", "LoggerConnectorView", "StrategyView"]
