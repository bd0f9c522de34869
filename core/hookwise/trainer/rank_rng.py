"""Every rank's RNG states in a checkpoint: gathered at a save every rank makes together,
and each rank's own restored on resume.

A checkpoint's ``rng`` entry holds rank 0's states (all a one-process run has). A save that
every rank makes together (``save_checkpoint(path, all_ranks=True)``) also stores
``rng_per_rank``: one entry per rank, in rank order, gathered to rank 0 by one collective call.
A save that one rank makes alone (an error handler, an emergency checkpoint) makes no
collective call, so its file holds rank 0's states only; a resume from it gives every rank
rank 0's states (not bit-exact when the ranks' randomness differs).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hookwise import checkpointing
from hookwise.errors import CheckpointError

if TYPE_CHECKING:
    from hookwise.trainer.strategy import Strategy

logger = logging.getLogger("hookwise")


def gather_rng_states(strategy: Strategy) -> list[dict[str, Any]]:
    """Every rank's RNG states, in rank order, on every rank (one collective call: every rank
    must call this at the same point; the process group's timeout bounds the wait)."""
    return strategy.all_gather_object(checkpointing.capture_rng_state())


def rng_for_rank(
    data: Mapping[str, Any], file: Path, *, rank: int, world_size: int
) -> Mapping[str, Any] | None:
    """The RNG states that ``rank`` restores from the checkpoint ``data`` (read from ``file``):
    its own when the checkpoint holds every rank's and the number of processes is the same,
    else rank 0's (``rng``), said once in the log by rank 0.

    :raises CheckpointError: ``rng_per_rank`` holds something other than RNG states.
    """
    shared: Mapping[str, Any] | None = data.get("rng")
    per_rank = data.get("rng_per_rank")
    if per_rank is None:
        if world_size > 1 and shared is not None and rank == 0:
            logger.info(
                "checkpoint %s holds rank 0's RNG states only (written by one rank, or by an "
                "older hookwise): every rank restores them, so randomness that differs across "
                "ranks does not continue bit-exactly",
                file,
            )
        return shared
    if not all(isinstance(entry, Mapping) for entry in per_rank):
        raise CheckpointError(
            f"checkpoint {str(file)!r} is damaged or was not written by hookwise: "
            f"'rng_per_rank' must be a list of RNG states (mappings)"
        )
    if len(per_rank) == world_size:
        own: Mapping[str, Any] = per_rank[rank]
        return own
    if rank == 0:
        logger.warning(
            "checkpoint %s holds the RNG states of %d processes; this run has %d: every rank "
            "restores rank 0's, so the run continues, but not bit-exactly (resume on %d "
            "processes for that)",
            file,
            len(per_rank),
            world_size,
            len(per_rank),
        )
    return shared if shared is not None else per_rank[0]


__all__ = ["gather_rng_states", "rng_for_rank"]
