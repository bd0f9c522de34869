"""Everything the adapter asks of hookwise's trainer, in one place.

The adapter reads the run through these functions only, and they read hookwise's trainer API
for plugins (:class:`hookwise.TrainerAPI`, ``trainer_state["trainer"]``) and
:mod:`hookwise.distributed`; nothing here reaches into the trainer's own attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hookwise import distributed
from hookwise.errors import ConfigError

if TYPE_CHECKING:
    import torch
    from hookwise import TrainerAPI as Trainer


def trainer_of(trainer_state: Mapping[str, Any]) -> Trainer:
    """The hookwise trainer running the hook (``trainer_state["trainer"]``)."""
    trainer: Trainer | None = trainer_state.get("trainer")
    if trainer is None:
        raise ConfigError(
            "hookwise-lightning: a Lightning callback runs on hookwise's Trainer only (the "
            "hook's trainer_state has no 'trainer'); it was called from somewhere else"
        )
    return trainer


def global_step(trainer: Trainer) -> int:
    return trainer.global_step


def current_epoch(trainer: Trainer) -> int:
    return trainer.epoch


def max_epochs(trainer: Trainer) -> int:
    return int(trainer.run_settings["num_epochs"])


def max_steps(trainer: Trainer) -> int:
    return int(trainer.run_settings["num_steps"])


def output_dir(trainer: Trainer) -> Path:
    return trainer.output_dir


def device(trainer: Trainer) -> torch.device:
    return trainer.device


def metrics(trainer: Trainer) -> dict[str, float]:
    """The latest value of every logged key, as floats."""
    return dict(trainer.metrics)


def should_stop(trainer: Trainer) -> bool:
    return trainer.should_stop


def request_stop(trainer: Trainer, reason: str, plugin: str | None) -> None:
    trainer.request_stop(reason, plugin)


def optimizers(trainer: Trainer) -> list[Any]:
    return list(trainer.optimizers)


def lr_schedulers(trainer: Trainer) -> list[Any]:
    return list(trainer.lr_schedulers)


def scheduler_interval(trainer: Trainer) -> str:
    return str(trainer.run_settings["scheduler_interval"])


def check_val_every_n_epoch(trainer: Trainer) -> int | None:
    value = trainer.run_settings["check_val_every_n_epoch"]
    return None if value is None else int(value)


def val_check_interval(trainer: Trainer) -> int | None:
    value = trainer.run_settings["val_check_interval"]
    return None if value is None else int(value)


def validates_after_epoch(trainer: Trainer, epoch: int) -> bool:
    return trainer.validates_after_epoch(epoch)


def log_every_n_steps(trainer: Trainer) -> int:
    return trainer.log_every_n_steps


def accumulate_grad_batches(trainer: Trainer) -> int:
    return int(trainer.run_settings.get("accumulate_grad_batches", 1))


def train_batches(trainer: Trainer) -> int | None:
    loader = trainer.train_dataloader
    try:
        return len(loader) if loader is not None else None
    except TypeError:
        return None


def eval_batches(trainer: Trainer) -> list[int]:
    sizes = []
    for loader in trainer.test_dataloader or []:
        try:
            sizes.append(len(loader))
        except TypeError:
            sizes.append(0)
    return sizes


def save_checkpoint(trainer: Trainer, path: str | Path, *, weights_only: bool) -> Path:
    """Write the run's checkpoint (hookwise's format, atomically; rank 0 writes)."""
    return trainer.save_checkpoint(path, weights_only=weights_only)


def resumed_from(trainer: Trainer) -> Path | None:
    """The checkpoint the current fit resumed from (``None``: it did not resume)."""
    return trainer.resumed_from


def log(trainer: Trainer, plugin: str, hook: str, values: Mapping[str, Any]) -> None:
    """Log fully named values (``train/...``, ``val/...``) as plugin ``plugin`` in ``hook``,
    with the trainer's checks, clash rule and listeners (the logging plugin)."""
    trainer.log_dict(values, plugin=plugin, prefix="")


def plugin_name(trainer: Trainer, plugin: object) -> str:
    """The name ``plugin`` is registered under in the trainer's plugin manager."""
    name = trainer.plugin_manager.get_name(plugin)
    return name if name is not None else type(plugin).__name__


def rank() -> int:
    return distributed.get_rank()


def local_rank() -> int:
    return distributed.get_local_rank()


def world_size() -> int:
    return distributed.get_world_size() if distributed.is_distributed() else 1


def broadcast(obj: Any, src: int = 0) -> Any:
    return distributed.broadcast(obj, src) if distributed.is_distributed() else obj


def barrier() -> None:
    distributed.synchronize()


def any_rank(flag: bool) -> bool:
    return distributed.all_reduce_flag(flag) if distributed.is_distributed() else flag


def all_ranks(flag: bool) -> bool:
    return not distributed.all_reduce_flag(not flag) if distributed.is_distributed() else flag
