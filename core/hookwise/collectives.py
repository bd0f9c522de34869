"""Collective calls between ranks that are safe up to the last moment of the process.

Every helper is the trivial answer when no process group with more than one process is
initialised, so plugins may call them unconditionally (:mod:`hookwise.distributed` re-exports
them). Call them at points every rank reaches together.

Why these helpers hold on to their tensors
------------------------------------------
gloo runs each collective on a worker thread of its own. When the caller's wait returns, that
thread still holds the call's tensors for a moment before it drops them. If the caller has
already dropped its own references by then, the worker thread frees the last one, and freeing
a tensor that Python has seen takes the GIL. When the job's last collective is followed at once
by the end of the process, the interpreter may already be finalizing at that moment: Python
then ends the worker thread with ``pthread_exit``, whose unwinding cannot pass gloo's C++
frames, and the rank aborts ("terminate called without an active exception"; torchrun reports
the job failed after its work was done). So each helper keeps the tensors it hands to a
collective referenced here (the :data:`RETAINED` most recent ones, a few bytes each), and the
ones still referenced when the interpreter exits are deliberately never freed: the worker
thread's release is then never the last one, and needs no GIL. The object collectives
(:func:`broadcast`, :func:`all_gather_object`) pickle into tensors of their own for the same
reason, instead of ``torch.distributed``'s object collectives, whose tensors are private.
"""

from __future__ import annotations

import atexit
import ctypes
import pickle
from collections import deque
from collections.abc import Sequence
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from hookwise.ranks import is_distributed

T = TypeVar("T")

#: How many of the most recent collective tensors stay referenced. A gloo worker thread drops
#: its reference microseconds after the call returns; this many calls later it surely has.
RETAINED = 64
_retained: deque[torch.Tensor] = deque(maxlen=RETAINED)


def _retain(*tensors: torch.Tensor) -> None:
    _retained.extend(tensors)


@atexit.register
def _never_free_retained() -> None:
    """At exit, keep the retained tensors for good: finalization must not free one that a
    gloo worker thread still holds (see the module's docstring)."""
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(_retained))


def retained_count() -> int:
    """How many collective tensors are retained now (for tests and diagnostics)."""
    return len(_retained)


def synchronize() -> None:
    """A barrier across all processes; a no-op when not distributed."""
    if is_distributed():
        dist.barrier()


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _encode(obj: Any, device: torch.device) -> torch.Tensor:
    payload = bytearray(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    return torch.frombuffer(payload, dtype=torch.uint8).to(device)


def _decode(tensor: torch.Tensor, size: int) -> Any:
    # the ranks of one job trust each other, as torch.distributed's object collectives do
    return pickle.loads(tensor[:size].cpu().numpy().tobytes())


def broadcast(obj: T, src: int = 0) -> T:
    """Return ``src``'s ``obj`` on every rank (any picklable object; ``src`` keeps its own)."""
    if not is_distributed():
        return obj
    device = _collective_device()
    is_source = dist.get_rank() == src
    payload = _encode(obj, device) if is_source else None
    size = torch.tensor([0 if payload is None else payload.numel()], dtype=torch.int64)
    size = size.to(device)
    _retain(size)
    dist.broadcast(size, src=src)
    if payload is None:
        payload = torch.empty(int(size.item()), dtype=torch.uint8, device=device)
    _retain(payload)
    dist.broadcast(payload, src=src)
    if is_source:
        return obj
    decoded: T = _decode(payload, int(size.item()))
    return decoded


def all_gather_object(obj: T) -> list[T]:
    """Gather ``obj`` from every rank; every rank gets the list, in rank order."""
    if not is_distributed():
        return [obj]
    device = _collective_device()
    world = dist.get_world_size()
    payload = _encode(obj, device)
    size = torch.tensor([payload.numel()], dtype=torch.int64, device=device)
    sizes = [torch.empty_like(size) for _ in range(world)]
    _retain(size, *sizes)
    dist.all_gather(sizes, size)
    lengths = [int(s.item()) for s in sizes]
    padded = torch.zeros(max(lengths), dtype=torch.uint8, device=device)
    padded[: payload.numel()] = payload
    gathered = [torch.empty_like(padded) for _ in range(world)]
    _retain(padded, *gathered)
    dist.all_gather(gathered, padded)
    return [_decode(tensor, length) for tensor, length in zip(gathered, lengths, strict=True)]


def all_reduce_max(values: Sequence[int]) -> list[int]:
    """The element-wise maximum of ``values`` over every rank (one small all-reduce)."""
    if not is_distributed():
        return list(values)
    tensor = torch.tensor(list(values), dtype=torch.int64, device=_collective_device())
    _retain(tensor)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return [int(v) for v in tensor.tolist()]


def all_reduce_flag(flag: bool) -> bool:
    """``True`` on every rank if ``flag`` is ``True`` on any rank (one small all-reduce)."""
    return bool(all_reduce_max([1 if flag else 0])[0])


__all__ = [
    "RETAINED",
    "all_gather_object",
    "all_reduce_flag",
    "all_reduce_max",
    "broadcast",
    "retained_count",
    "synchronize",
]
