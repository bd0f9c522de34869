"""Which process this is: rank, world size and launch, without touching the process group.

Every helper answers from the initialised process group when there is one, and from
``torchrun``'s environment variables before that (so data factories may call them before the
trainer initialises the group). Reach them as :mod:`hookwise.distributed` re-exports them.
"""

from __future__ import annotations

import os

import torch.distributed as dist

#: The environment variables ``torchrun`` sets for every worker.
TORCHRUN_ENV: tuple[str, ...] = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def is_distributed() -> bool:
    """Whether a process group with more than one process is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    """This process's global rank (0 when not distributed; ``RANK`` before initialisation).

    Data factories may call it before the trainer initialises the process group.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def get_world_size() -> int:
    """The number of processes (1 when not distributed; ``WORLD_SIZE`` before initialisation)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def get_local_rank() -> int:
    """This process's rank on its node (``LOCAL_RANK``, set by torchrun)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_rank_zero() -> bool:
    """Whether this is the rank-0 process."""
    return get_rank() == 0


def launched_by_torchrun() -> bool:
    """Whether this process was started by ``torchrun`` (or a launcher that sets the same
    variables: ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``)."""
    return all(os.environ.get(name) for name in TORCHRUN_ENV)


def restart_count() -> int:
    """How many times ``torchrun --max-restarts`` has restarted this job's workers (0 on the
    first attempt and outside torchrun; ``TORCHELASTIC_RESTART_COUNT``)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0)
