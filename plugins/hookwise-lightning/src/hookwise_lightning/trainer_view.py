"""``trainer`` as a Lightning callback sees it: a view of hookwise's trainer.

It offers what callbacks commonly read and do (see :data:`OFFERED`); anything else raises
:class:`~hookwise_lightning.UnsupportedLightningFeature` naming the attribute, never a made-up
value. Values are read live from hookwise's trainer at each access.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from lightning.pytorch.trainer.states import RunningStage, TrainerFn, TrainerState, TrainerStatus

from hookwise_lightning import _hookwise_api as api
from hookwise_lightning.errors import UnsupportedLightningFeature
from hookwise_lightning.loops import FitLoopView, LoggerConnectorView, StrategyView

if TYPE_CHECKING:
    from hookwise_lightning.context import RunContext

#: The ``trainer`` attributes the adapter offers.
OFFERED = frozenset(
    {
        "accumulate_grad_batches", "callback_metrics", "check_val_every_n_epoch", "ckpt_path",
        "current_epoch",
        "default_root_dir", "enable_validation", "estimated_stepping_batches", "fast_dev_run",
        "fit_loop", "global_rank", "global_step", "is_global_zero", "lightning_module",
        "local_rank", "log_dir", "log_every_n_steps", "logged_metrics", "logger", "loggers",
        "lr_scheduler_configs", "max_epochs", "max_steps", "model", "node_rank", "num_devices",
        "num_nodes", "num_test_batches", "num_training_batches", "num_val_batches",
        "optimizers", "predicting", "progress_bar_metrics", "sanity_checking",
        "save_checkpoint", "should_stop", "state", "strategy", "testing", "training",
        "val_check_interval", "validating", "world_size", "_logger_connector",
    }
)  # fmt: skip


def _tensor(value: Any) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.tensor(float(value))


class CallbackMetrics(MutableMapping[str, torch.Tensor]):
    """``trainer.callback_metrics``: every value hookwise logged (latest, as tensors), plus
    what the adapted callbacks logged or wrote here. Writes stay here (as in Lightning, they
    are not logged); ``deepcopy`` gives a plain ``dict``."""

    def __init__(self, context: RunContext) -> None:
        self._context = context

    def _all(self) -> dict[str, Any]:
        return {**api.metrics(self._context.trainer), **self._context.overlay}

    def __getitem__(self, key: str) -> torch.Tensor:
        overlay = self._context.overlay
        return _tensor(overlay[key] if key in overlay else api.metrics(self._context.trainer)[key])

    def __setitem__(self, key: str, value: torch.Tensor) -> None:
        self._context.overlay[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self._context.overlay:
            raise UnsupportedLightningFeature(
                f"del trainer.callback_metrics[{key!r}]",
                reason="hookwise's logged values cannot be deleted",
            )
        del self._context.overlay[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return repr(dict(self.items()))

    def __copy__(self) -> dict[str, torch.Tensor]:
        return dict(self.items())

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, torch.Tensor]:
        return {key: value.clone() for key, value in self.items()}


class LightningTrainerView:
    """The ``trainer`` argument of an adapted Lightning callback's hooks."""

    _context: RunContext

    def __init__(self, context: RunContext) -> None:
        object.__setattr__(self, "_context", context)

    @property
    def _trainer(self) -> Any:
        return self._context.trainer

    def __getattr__(self, name: str) -> Any:
        raise UnsupportedLightningFeature(f"trainer.{name}", OFFERED)

    def __setattr__(self, name: str, value: Any) -> None:
        if name != "should_stop":
            raise UnsupportedLightningFeature(
                f"trainer.{name} = ...", ["should_stop"], "only should_stop can be set"
            )
        object.__setattr__(self, name, value)

    # -- position and limits ---------------------------------------------------------------------

    @property
    def global_step(self) -> int:
        """Optimizer steps done (hookwise's ``global_step``)."""
        return api.global_step(self._trainer)

    @property
    def current_epoch(self) -> int:
        return api.current_epoch(self._trainer)

    @property
    def max_epochs(self) -> int:
        """hookwise's ``num_epochs`` (``-1``: unlimited, as in Lightning)."""
        return api.max_epochs(self._trainer)

    @property
    def max_steps(self) -> int:
        """hookwise's ``num_steps`` (``-1``: unlimited, as in Lightning)."""
        return api.max_steps(self._trainer)

    @property
    def num_training_batches(self) -> float:
        batches = api.train_batches(self._trainer)
        return math.inf if batches is None else batches

    @property
    def num_val_batches(self) -> list[int]:
        return api.eval_batches(self._trainer)

    @property
    def num_test_batches(self) -> list[int]:
        return api.eval_batches(self._trainer)

    @property
    def accumulate_grad_batches(self) -> int:
        """hookwise's ``accumulate_grad_batches`` (batches per optimizer step)."""
        return api.accumulate_grad_batches(self._trainer)

    @property
    def estimated_stepping_batches(self) -> float:
        """Optimizer steps of the whole fit, as Lightning counts them: an epoch's last,
        shorter accumulation window is a step too."""
        epochs, batches = self.max_epochs, self.num_training_batches
        per_epoch = (
            batches if batches == math.inf else math.ceil(batches / self.accumulate_grad_batches)
        )
        total = math.inf if epochs == -1 else epochs * per_epoch
        return total if self.max_steps == -1 else min(total, self.max_steps)

    @property
    def val_check_interval(self) -> float | int:
        """``1.0`` (once per epoch) or hookwise's ``val_check_interval`` (every N steps)."""
        interval = api.val_check_interval(self._trainer)
        return 1.0 if interval is None else interval

    @property
    def check_val_every_n_epoch(self) -> int | None:
        return api.check_val_every_n_epoch(self._trainer)

    @property
    def enable_validation(self) -> bool:
        trainer = self._trainer
        scheduled = api.check_val_every_n_epoch(trainer) is not None
        return bool(api.eval_batches(trainer)) and (
            scheduled or api.val_check_interval(trainer) is not None
        )

    @property
    def log_every_n_steps(self) -> int:
        return api.log_every_n_steps(self._trainer)

    @property
    def fast_dev_run(self) -> bool:
        return False

    # -- state -----------------------------------------------------------------------------------

    @property
    def state(self) -> TrainerState:
        context = self._context
        fn = context.fn if context.fn is not None else TrainerFn.FITTING
        return TrainerState(status=TrainerStatus.RUNNING, fn=fn, stage=context.stage)

    @property
    def training(self) -> bool:
        return self._context.stage is RunningStage.TRAINING

    @property
    def validating(self) -> bool:
        return self._context.stage is RunningStage.VALIDATING

    @property
    def testing(self) -> bool:
        return self._context.stage is RunningStage.TESTING

    @property
    def predicting(self) -> bool:
        return False

    @property
    def sanity_checking(self) -> bool:
        return self._context.sanity_checking

    @property
    def should_stop(self) -> bool:
        """Whether the run stops at its next check. Setting ``True`` requests hookwise's stop
        (a latch, attributed to the callback); ``False`` cannot undo a request."""
        return api.should_stop(self._trainer)

    @should_stop.setter
    def should_stop(self, value: bool) -> None:
        trainer = self._trainer
        if value and not api.should_stop(trainer):
            plugin = self._context.plugin
            label = type(plugin.callback).__name__ if plugin is not None else "a callback"
            name = api.plugin_name(trainer, plugin) if plugin is not None else None
            api.request_stop(trainer, f"{label} set trainer.should_stop = True", name)
        elif not value and api.should_stop(trainer):
            raise UnsupportedLightningFeature(
                "trainer.should_stop = False",
                reason="a stop request is a latch in hookwise; it cannot be withdrawn",
            )

    # -- metrics ---------------------------------------------------------------------------------

    @property
    def callback_metrics(self) -> CallbackMetrics:
        return CallbackMetrics(self._context)

    @property
    def logged_metrics(self) -> dict[str, torch.Tensor]:
        return {key: _tensor(value) for key, value in api.metrics(self._trainer).items()}

    @property
    def progress_bar_metrics(self) -> dict[str, float]:
        return {key: float(value) for key, value in self._context.logbook.progress_bar.items()}

    # -- optimizers ------------------------------------------------------------------------------

    @property
    def optimizers(self) -> list[Any]:
        return api.optimizers(self._trainer)

    @property
    def lr_scheduler_configs(self) -> list[Any]:
        """One Lightning ``LRSchedulerConfig`` per scheduler given to ``fit``; ``interval`` is
        hookwise's ``scheduler_interval`` (a vis4d ``LRSchedulerWrapper`` also steps per step)."""
        from lightning.pytorch.utilities.types import LRSchedulerConfig

        interval = api.scheduler_interval(self._trainer)
        return [
            LRSchedulerConfig(scheduler, interval=interval)
            for scheduler in api.lr_schedulers(self._trainer)
        ]

    # -- processes, folders, loggers -------------------------------------------------------------

    @property
    def global_rank(self) -> int:
        return api.rank()

    @property
    def local_rank(self) -> int:
        return api.local_rank()

    @property
    def node_rank(self) -> int:
        return api.rank() // max(1, self.num_devices)

    @property
    def world_size(self) -> int:
        return api.world_size()

    @property
    def num_devices(self) -> int:
        import os

        return int(os.environ.get("LOCAL_WORLD_SIZE", api.world_size()))

    @property
    def num_nodes(self) -> int:
        return max(1, api.world_size() // max(1, self.num_devices))

    @property
    def is_global_zero(self) -> bool:
        return api.rank() == 0

    @property
    def default_root_dir(self) -> str:
        return str(api.output_dir(self._trainer))

    @property
    def log_dir(self) -> str:
        return str(api.output_dir(self._trainer))

    @property
    def loggers(self) -> list[Any]:
        return [self._context.logger]

    @property
    def logger(self) -> Any:
        return self._context.logger

    @property
    def strategy(self) -> StrategyView:
        return StrategyView(self._context)

    @property
    def fit_loop(self) -> FitLoopView:
        return FitLoopView(self._context)

    @property
    def _logger_connector(self) -> LoggerConnectorView:
        return LoggerConnectorView(self._context)

    @property
    def lightning_module(self) -> Any:
        module = self._context.module
        if module is None:
            raise UnsupportedLightningFeature(
                "trainer.lightning_module", OFFERED, "no hook has seen the model yet"
            )
        return module

    @property
    def model(self) -> Any:
        return self.lightning_module

    # -- checkpoints -----------------------------------------------------------------------------

    @property
    def ckpt_path(self) -> str | None:
        """The checkpoint this fit resumed from (``None``: it did not resume)."""
        path = api.resumed_from(self._trainer)
        return None if path is None else str(path)

    def save_checkpoint(
        self, filepath: str | Path, weights_only: bool = False, storage_options: Any = None
    ) -> None:
        """Write hookwise's checkpoint of the run to ``filepath`` (atomically; rank 0 writes).
        ``weights_only`` keeps the model's weights and the position only."""
        if storage_options is not None:
            raise UnsupportedLightningFeature(
                "trainer.save_checkpoint(storage_options=...)",
                reason="hookwise writes local files only",
            )
        context = self._context
        path = Path(filepath)
        api.save_checkpoint(self._trainer, path, weights_only=weights_only)
        context.checkpoint_dirs.add(path.resolve().parent)
        context.written.add(path.resolve())


__all__ = ["OFFERED", "CallbackMetrics", "LightningTrainerView"]
