"""Rank and world helpers over ``torch.distributed`` (launched by ``torchrun``).

Every helper is a no-op, or the trivial answer, when no process group is initialised, so
plugins can call them unconditionally. hookwise adds no launcher and no communication layer of
its own.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


def is_distributed() -> bool:
    """Whether a process group with more than one process is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    """This process's global rank (0 when not distributed; ``RANK`` before initialisation)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def get_world_size() -> int:
    """The number of processes (1 when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def get_local_rank() -> int:
    """This process's rank on its node (``LOCAL_RANK``, set by torchrun)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_rank_zero() -> bool:
    """Whether this is the rank-0 process."""
    return get_rank() == 0


def synchronize() -> None:
    """A barrier across all processes; a no-op when not distributed."""
    if is_distributed():
        dist.barrier()


def broadcast(obj: T, src: int = 0) -> T:
    """Return ``src``'s ``obj`` on every rank (any picklable object)."""
    if not is_distributed():
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=src)
    return holder[0]


def all_gather_object(obj: T) -> list[T]:
    """Gather ``obj`` from every rank; every rank gets the list, in rank order."""
    if not is_distributed():
        return [obj]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def all_reduce_flag(flag: bool) -> bool:
    """``True`` on every rank if ``flag`` is ``True`` on any rank (one small all-reduce)."""
    if not is_distributed():
        return flag
    device = (
        torch.device("cuda", torch.cuda.current_device())
        if (dist.get_backend() == "nccl")
        else torch.device("cpu")
    )
    value = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def rank_zero_only(function: Callable[..., T]) -> Callable[..., T | None]:
    """Decorate a function (or a hook method) so it runs on rank 0 only; elsewhere it returns
    ``None``. A plugin whose hooks are all rank-zero-only may also set the class attribute
    ``rank_zero_only = True``: the trainer then registers it on rank 0 only."""

    @functools.wraps(function)
    def wrapped(*args: Any, **kwargs: Any) -> T | None:
        if get_rank() == 0:
            return function(*args, **kwargs)
        return None

    wrapped.__hookwise_rank_zero_only__ = True  # type: ignore[attr-defined]
    return wrapped


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside DDP/DataParallel wrappers (recursively)."""
    while isinstance(model, (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)):
        model = model.module
    return model
