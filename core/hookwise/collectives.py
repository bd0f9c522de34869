"""Collective calls between ranks that are safe up to the last moment of the process.

Every helper is the trivial answer when no process group with more than one process is
initialised, so plugins may call them unconditionally (:mod:`hookwise.distributed` re-exports
them). Call them at points every rank reaches together.

Why these helpers hold on to their calls
----------------------------------------
Since torch keeps a tensor's Python object alive while C++ code also holds the tensor, the
thread that drops the last C++ reference beside the Python object's own takes the GIL to
release that object. gloo runs each collective on a worker thread of its own, which destroys
the call (and so drops its references to the call's tensors) a moment after the caller's wait
returns. When the job's last collective is followed at once by the end of the process, the
interpreter may already be finalizing by then: Python ends the worker thread with
``pthread_exit`` when it asks for the GIL, the unwinding cannot pass torch's ``noexcept``
frames, and the rank aborts ("terminate called without an active exception"; torchrun reports
the job failed after its work was done). Holding on to the tensors does not help: the worker
thread's release is still the one that takes the GIL. Holding on to the call does: each helper
starts its collective asynchronously, waits for it, and keeps the call's ``Work`` object (the
:data:`RETAINED` most recent ones). The worker thread's release is then never the last, the
call and its tensors are freed later by the thread that made it, and the calls still held
when the interpreter exits are deliberately never freed. The object collectives
(:func:`broadcast`, :func:`all_gather_object`) use tensors of their own for the same reason,
instead of ``torch.distributed``'s object collectives, whose calls are private.
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

#: How many of the most recent collective calls stay referenced. A gloo worker thread drops
#: its reference microseconds after the call returns; this many calls later it surely has.
RETAINED = 64
_retained: deque[dist.Work] = deque(maxlen=RETAINED)


def _complete(work: dist.Work | None) -> None:
    """Keep the call ``work`` referenced, and wait for it (see the module's docstring)."""
    if work is None:  # pragma: no cover - async_op=True always returns the call
        raise RuntimeError("torch.distributed returned no Work for an asynchronous call")
    _retained.append(work)
    work.wait()


@atexit.register
def _never_free_retained() -> None:
    """At exit, keep the retained calls for good: finalization must not free one whose last
    release a gloo worker thread would make (see the module's docstring)."""
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(_retained))


def retained_count() -> int:
    """How many collective calls are retained now (for tests and diagnostics)."""
    return len(_retained)


def synchronize() -> None:
    """A barrier across all processes; a no-op when not distributed."""
    if is_distributed():
        _complete(dist.barrier(async_op=True))


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
    _complete(dist.broadcast(size, src=src, async_op=True))
    if payload is None:
        payload = torch.empty(int(size.item()), dtype=torch.uint8, device=device)
    _complete(dist.broadcast(payload, src=src, async_op=True))
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
    _complete(dist.all_gather(sizes, size, async_op=True))
    lengths = [int(s.item()) for s in sizes]
    padded = torch.zeros(max(lengths), dtype=torch.uint8, device=device)
    padded[: payload.numel()] = payload
    gathered = [torch.empty_like(padded) for _ in range(world)]
    _complete(dist.all_gather(gathered, padded, async_op=True))
    return [_decode(tensor, length) for tensor, length in zip(gathered, lengths, strict=True)]


def all_reduce_max(values: Sequence[int]) -> list[int]:
    """The element-wise maximum of ``values`` over every rank (one small all-reduce)."""
    if not is_distributed():
        return list(values)
    tensor = torch.tensor(list(values), dtype=torch.int64, device=_collective_device())
    _complete(dist.all_reduce(tensor, op=dist.ReduceOp.MAX, async_op=True))
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
