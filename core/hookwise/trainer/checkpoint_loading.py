"""Reading a checkpoint to resume from: which file (``last``, and ``auto`` after a torchrun
restart, resolved on rank 0 and shared), loading it on every rank, and putting its weights,
optimizer and scheduler states and plugin states in place (:mod:`hookwise.trainer.resume`
holds the rest of resuming)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from hookwise import checkpointing
from hookwise.distributed import restart_count, unwrap_model
from hookwise.errors import CheckpointError
from hookwise.last import newest_checkpoint

if TYPE_CHECKING:
    from hookwise.plugins import PluginManager
    from hookwise.trainer.strategy import Strategy

logger = logging.getLogger("hookwise")


def find_last_checkpoint(output_dir: Path) -> Path:
    """The newest complete checkpoint under ``output_dir`` by the step recorded inside (the
    one resolver of ``last``: :func:`hookwise.last.newest_checkpoint`)."""
    found = newest_checkpoint(output_dir)
    logger.info("resume_from='last': %s", found.describe())
    return found.path


# -- reading ------------------------------------------------------------------------------------


#: ``resume_from`` after torchrun restarted the workers: ``"last"`` when the output folder has
#: a complete checkpoint, nothing (a fresh start) when it has none.
AUTO_RESUME = "auto"


def resume_file(path: str | os.PathLike[str], output_dir: Path, strategy: Strategy) -> Path | None:
    """The checkpoint to resume: ``"last"`` (and :data:`AUTO_RESUME`) is resolved on rank 0
    and shared; :data:`AUTO_RESUME` gives ``None`` when there is no checkpoint."""
    if str(path) not in ("last", AUTO_RESUME):
        return Path(path)
    found: str | None = None
    error: str | None = None
    if strategy.rank == 0:
        try:
            found = str(find_last_checkpoint(output_dir))
        except CheckpointError as exc:
            error = str(exc)
    if strategy.world_size > 1:
        found, error = strategy.broadcast((found, error))
    if str(path) == AUTO_RESUME and found is None:
        logger.warning(
            "torchrun restarted the workers (attempt %d), and %s holds no complete checkpoint: "
            "training starts again from step 0",
            restart_count(),
            output_dir,
        )
        return None
    if error is not None or found is None:
        raise CheckpointError(error if strategy.world_size == 1 else f"rank 0: {error}")
    return Path(found)


def load_for_resume(file: Path, device: torch.device, strategy: Strategy) -> dict[str, Any]:
    """Load ``file``; in a distributed run every rank raises if any rank failed to."""
    if strategy.world_size == 1:
        return checkpointing.load_checkpoint(file, map_location=device)
    data: dict[str, Any] = {}
    error: CheckpointError | None = None
    try:
        data = checkpointing.load_checkpoint(file, map_location=device)
    except CheckpointError as exc:
        error = exc
    failures = strategy.all_gather_object(None if error is None else str(error))
    if error is not None:
        raise error
    for rank, message in enumerate(failures):
        if message is not None:
            raise CheckpointError(
                f"rank {rank} could not load the checkpoint to resume, so no rank does: "
                f"{message}. Every rank reads the file: put it on storage all nodes share."
            )
    return data


def load_weights(model: nn.Module, weights: Mapping[str, Any], file: Path) -> None:
    """Load a checkpoint's weights into ``model`` (DDP's ``module.`` prefix is accepted)."""
    target = unwrap_model(model)
    if set(weights) != set(target.state_dict()):  # keys that fit are never renamed
        weights = checkpointing.strip_module_prefix(weights)
    try:
        target.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {str(file)!r} does not fit the model: {exc}") from exc


def load_optimizers(
    data: Mapping[str, Any],
    file: Path,
    optimizers: Sequence[torch.optim.Optimizer],
    lr_schedulers: Sequence[Any],
    *,
    restored: bool = False,
) -> None:
    """Restore the optimizers' and the stateful schedulers' states (``restored``: the
    optimizers' are restored already, by :func:`hookwise.sharded.restore_training`)."""
    saved = data.get("optimizers", [])
    if restored or "sharded" in data:
        saved, optimizers = [], []
    if len(saved) != len(optimizers):
        raise CheckpointError(
            f"checkpoint {str(file)!r} has {len(saved)} optimizer states; the run has "
            f"{len(optimizers)} optimizers"
        )
    for optimizer, state in zip(optimizers, saved, strict=True):
        optimizer.load_state_dict(state)
    stateful = [s for s in lr_schedulers if hasattr(s, "load_state_dict")]
    for scheduler, state in zip(stateful, data.get("lr_schedulers", []), strict=False):
        scheduler.load_state_dict(state)


def load_plugin_states(pm: PluginManager, data: Mapping[str, Any], file: Path) -> None:
    """Give every plugin its saved state."""
    versions = data.get("plugin_state_versions", {})
    for name in pm.load_state_dict(data.get("plugins", {}), versions):
        logger.info("checkpoint %s has no state for plugin %r; it starts fresh", file, name)


__all__ = [
    "AUTO_RESUME",
    "find_last_checkpoint",
    "load_for_resume",
    "load_optimizers",
    "load_plugin_states",
    "load_weights",
    "resume_file",
]
