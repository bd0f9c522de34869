"""Rank and world helpers over ``torch.distributed`` (launched by ``torchrun``).

Every helper is a no-op, or the trivial answer, when no process group is initialised, so
plugins can call them unconditionally. hookwise adds no launcher and no communication layer of
its own: :class:`~hookwise.Trainer` notices a ``torchrun`` launch (the ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and ``MASTER_ADDR`` variables), initialises the process group
(gloo on the CPU, NCCL on CUDA) with a bounded timeout, wraps the model in
``DistributedDataParallel`` and shards the data.

Rank-aware plugins
------------------
Every hook runs on every rank, as in vis4d. Three markers change that or vouch for a plugin:

``rank_zero_only = True`` (a class or object attribute)
    The plugin acts on rank 0 only (it writes files, prints, talks to a tracker). The trainer
    unregisters it on the other ranks before ``setup``, so none of its hooks run there and
    the checkpoint (written by rank 0) holds its state.

``@rank_zero_only`` (this module's decorator, on one hook method or function)
    That hook runs on rank 0 only and returns ``None`` elsewhere. ``functools.wraps`` keeps the
    signature, so the plugin manager passes the same arguments as to the undecorated method.

``collective_free = True`` (a class or object attribute)
    The plugin promises that its hooks make no collective call (``all_gather_object``,
    ``broadcast``, ``synchronize``, ``all_reduce``...), so one rank may skip or fail one of
    its hooks without the others waiting for it.

Only plugins marked ``rank_zero_only`` or ``collective_free`` (or whose hooks are all
decorated with ``@rank_zero_only``) may use ``on_error="warn"`` or ``"disable"`` in a
distributed run: a tolerated failure on one rank would otherwise leave the ranks out of step
at that plugin's next collective call. The trainer refuses the combination with a
:class:`~hookwise.ConfigError` before training starts.

Collective calls belong at points every rank reaches together: ``on_test_epoch_end``,
``on_validation_end``, ``on_train_epoch_end``, ``on_fit_start``/``on_fit_end`` and checkpoint
saves, never in a hook that only some ranks run (a ``@rank_zero_only`` hook, an exception
handler).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import inspect
import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence, Sized
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch.utils.data import (
    DataLoader,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
)

from hookwise.errors import ConfigError

T = TypeVar("T")

logger = logging.getLogger("hookwise")

#: The environment variables ``torchrun`` sets for every worker.
TORCHRUN_ENV: tuple[str, ...] = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
#: How long a collective call waits for the other ranks by default (seconds). torch's own
#: default is 30 minutes for gloo and 10 for NCCL; a hung peer is found within this time even
#: when no launcher tears the job down.
DEFAULT_TIMEOUT_S = 1800.0
_ZERO_ONLY_MARK = "__hookwise_rank_zero_only__"
#: How many process groups this process has created (each gets its own store prefix).
_generation = 0


# -- ranks ----------------------------------------------------------------------------------------


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


# -- the process group ----------------------------------------------------------------------------


def device_for_rank(device: torch.device) -> torch.device:
    """``cuda`` without an index becomes ``cuda:LOCAL_RANK`` under torchrun (one GPU per
    process); any other device, or an explicit index, is returned as it is."""
    if device.type == "cuda" and device.index is None and launched_by_torchrun():
        return torch.device("cuda", get_local_rank())
    return device


def backend_for(device: torch.device) -> str:
    """The process-group backend for ``device``: ``"nccl"`` on CUDA, ``"gloo"`` otherwise."""
    return "nccl" if device.type == "cuda" else "gloo"


def init_process_group(device: torch.device, timeout_s: float = DEFAULT_TIMEOUT_S) -> bool:
    """Initialise the default process group from torchrun's environment, if it is not yet.

    :param device: where this rank computes; on CUDA it must be ``cuda:LOCAL_RANK``, and it
        becomes the current device.
    :param timeout_s: how long any collective call waits for the other ranks before failing.
    :returns: ``True`` when this call created the group (its caller then destroys it),
        ``False`` when one existed already or the process was not launched by torchrun.
    :raises ConfigError: ``timeout_s`` is not positive, or torch has no distributed support.
    """
    if not launched_by_torchrun() or (dist.is_available() and dist.is_initialized()):
        return False
    if not dist.is_available():
        raise ConfigError(
            "this process was launched by torchrun, but this torch build has no "
            "torch.distributed support; install a torch wheel with distributed support"
        )
    if not timeout_s > 0:
        raise ConfigError(f"dist_timeout must be a positive number of seconds, got {timeout_s!r}")
    global _generation
    from torch.distributed.distributed_c10d import PrefixStore
    from torch.distributed.rendezvous import rendezvous

    backend = backend_for(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    timeout = datetime.timedelta(seconds=timeout_s)
    store, rank, world_size = next(rendezvous("env://", timeout=timeout))
    # Each group this process creates gets its own key space in the rendezvous store: a group
    # created after an earlier one was destroyed must not read that one's stale addresses.
    store = PrefixStore(f"hookwise/{_generation}", store)
    _generation += 1
    dist.init_process_group(
        backend=backend, store=store, rank=rank, world_size=world_size, timeout=timeout
    )
    logger.info(
        "Process group initialised: rank %d of %d (local rank %d), backend %s, device %s",
        dist.get_rank(),
        dist.get_world_size(),
        get_local_rank(),
        backend,
        device,
    )
    return True


@contextlib.contextmanager
def process_group(
    device: torch.device | str = "auto", timeout_s: float = DEFAULT_TIMEOUT_S
) -> Iterator[bool]:
    """Join torchrun's process group for a block (a no-op outside torchrun).

    For code that needs the ranks to agree before a :class:`~hookwise.Trainer` exists, such
    as a command that makes a new run folder on rank 0 and shares its path::

        with process_group(device):
            folder = broadcast(str(new_run_dir(root)) if is_rank_zero() else None)
            ...  # the trainer uses this group; it neither creates nor destroys it

    Yields whether the block created the group. The group is destroyed when the block ends,
    if the block created it; after an exception it is aborted without any collective call.

    :param device: the device of this process (``"auto"``: CUDA when available); ``"cuda"``
        means ``cuda:LOCAL_RANK``. It decides the backend (NCCL on CUDA, gloo otherwise).
    """
    if isinstance(device, str) and device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    created = init_process_group(device_for_rank(torch.device(device)), timeout_s)
    try:
        yield created
    except BaseException:
        if created:
            abort_process_group()
        raise
    if created:
        destroy_process_group()


def destroy_process_group() -> None:
    """Destroy the default process group (local: no collective call); a no-op without one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def abort_process_group() -> None:
    """Tear the default process group down at once, on a failure path.

    Makes no collective call. NCCL communicators are aborted (so that no kernel waits for a
    peer); other backends are destroyed. Never raises.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    try:
        abort = getattr(dist.distributed_c10d, "_abort_process_group", None)
        if dist.get_backend() == "nccl" and abort is not None:
            abort()
        else:
            dist.destroy_process_group()
    except Exception:  # the group may already be broken; the process is ending anyway
        logger.debug("could not tear the process group down cleanly", exc_info=True)


#: Phrases of the errors a collective call raises when another rank has gone away.
_PEER_FAILURE_PHRASES = (
    "closed by peer",
    "reset by peer",
    "remote worker",
    "broken pipe",
    "timed out",
    "communicator was aborted",
)


def is_peer_failure(exc: BaseException) -> bool:
    """Whether ``exc`` looks like a collective call failing because another rank failed or
    left (a ``torch.distributed.DistError``, or gloo's "connection closed by peer"), rather
    than a failure of this rank's own."""
    if isinstance(exc, dist.DistError):
        return True
    message = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(p in message for p in _PEER_FAILURE_PHRASES)


def record_failure(exc: BaseException) -> None:
    """Write ``exc`` into torchrun's per-worker error file (``TORCHELASTIC_ERROR_FILE``), so
    torchrun's failure summary shows it (with the notes naming rank, plugin and hook) as the
    root cause. A no-op outside torchrun; never raises. Call it from an ``except`` block."""
    if not os.environ.get("TORCHELASTIC_ERROR_FILE"):
        return
    try:
        from torch.distributed.elastic.multiprocessing.errors import ErrorHandler

        ErrorHandler().record_exception(exc)
    except Exception:
        logger.debug("could not write torchrun's error file", exc_info=True)


# -- collectives ----------------------------------------------------------------------------------


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


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_max(values: Sequence[int]) -> list[int]:
    """The element-wise maximum of ``values`` over every rank (one small all-reduce)."""
    if not is_distributed():
        return list(values)
    tensor = torch.tensor(list(values), dtype=torch.int64, device=_collective_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return [int(v) for v in tensor.tolist()]


def all_reduce_flag(flag: bool) -> bool:
    """``True`` on every rank if ``flag`` is ``True`` on any rank (one small all-reduce)."""
    return bool(all_reduce_max([1 if flag else 0])[0])


# -- rank-zero-only plugins and hooks -------------------------------------------------------------


def rank_zero_only(function: Callable[..., T]) -> Callable[..., T | None]:
    """Decorate a function (or a hook method) so it runs on rank 0 only; elsewhere it returns
    ``None``. A plugin whose hooks are all rank-zero-only may also set the class attribute
    ``rank_zero_only = True``: the trainer then registers it on rank 0 only.

    The decorated function keeps its name, docstring and signature (``functools.wraps``), so
    hook implementations receive the same arguments as without it::

        class Printer(Callback):
            @rank_zero_only
            def on_train_epoch_end(self, trainer_state, model, loss_module):
                print("epoch", trainer_state["current_epoch"], "done")
    """

    @functools.wraps(function)
    def wrapped(*args: Any, **kwargs: Any) -> T | None:
        if get_rank() == 0:
            return function(*args, **kwargs)
        return None

    setattr(wrapped, _ZERO_ONLY_MARK, True)
    return wrapped


def is_rank_zero_only(plugin: Any) -> bool:
    """Whether ``plugin`` is marked ``rank_zero_only = True`` (the attribute must be ``True``
    itself: a module that merely imports the :func:`rank_zero_only` decorator is not marked)."""
    return getattr(plugin, "rank_zero_only", False) is True


def is_collective_free(plugin: Any, hook_functions: Sequence[Any] = ()) -> bool:
    """Whether ``plugin`` may tolerate a failure on one rank: it is marked
    ``rank_zero_only = True`` or ``collective_free = True``, or every one of its hook functions
    (``hook_functions``, when given) is decorated with :func:`rank_zero_only`."""
    if is_rank_zero_only(plugin) or getattr(plugin, "collective_free", False) is True:
        return True
    return bool(hook_functions) and all(
        getattr(function, _ZERO_ONLY_MARK, False) is True for function in hook_functions
    )


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside DDP/DataParallel wrappers (recursively)."""
    while isinstance(model, (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)):
        model = model.module
    return model


# -- data -----------------------------------------------------------------------------------------


class DistributedEvalSampler(Sampler[int]):
    """Shards a dataset for evaluation without padding or repeating samples.

    Rank ``r`` of ``W`` gets indices ``r, r + W, r + 2W, ...`` in order, so the ranks together
    see every sample exactly once: counts gathered from every rank equal one process's counts.
    (``DistributedSampler`` pads the last shard with repeated samples so that every rank has
    the same length, which makes gathered evaluation counts too large.) Ranks may get one
    sample more or less than each other, so nothing may run a collective call per batch during
    evaluation; the trainer's evaluation forward pass bypasses ``DistributedDataParallel``.

    :param data_source: the dataset (anything with a length).
    :param num_replicas: the number of ranks (default: the world size).
    :param rank: this rank (default: the current rank).
    """

    def __init__(
        self, data_source: Sized, num_replicas: int | None = None, rank: int | None = None
    ) -> None:
        self.data_source = data_source
        self.num_replicas = get_world_size() if num_replicas is None else num_replicas
        self.rank = get_rank() if rank is None else rank
        if self.num_replicas < 1 or not 0 <= self.rank < self.num_replicas:
            raise ConfigError(
                f"DistributedEvalSampler: rank {self.rank} is not in [0, {self.num_replicas})"
            )

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, len(self.data_source), self.num_replicas))

    def __len__(self) -> int:
        return max(0, math.ceil((len(self.data_source) - self.rank) / self.num_replicas))


def _rebuild(loader: DataLoader[Any], sampler: Sampler[int], role: str) -> DataLoader[Any]:
    """The same loader (dataset, batch size, collate_fn, workers, ...) with another sampler."""
    fix = (
        f"give the {role} loader a DistributedSampler (or hookwise.distributed."
        f"DistributedEvalSampler for evaluation) yourself, or shard the data per rank and pass "
        f"use_distributed_sampler=False"
    )
    if type(loader) is not DataLoader:
        raise ConfigError(
            f"the {role} loader is a {type(loader).__name__}, a DataLoader subclass the trainer "
            f"cannot rebuild with a distributed sampler; {fix}"
        )
    if loader.batch_size is None:
        raise ConfigError(
            f"the {role} loader uses its own batch_sampler "
            f"({type(loader.batch_sampler).__name__}), which the trainer cannot shard across "
            f"ranks; {fix}"
        )
    candidates: dict[str, Any] = {
        "batch_size": loader.batch_size,
        "sampler": sampler,
        "num_workers": loader.num_workers,
        "collate_fn": loader.collate_fn,
        "pin_memory": loader.pin_memory,
        "drop_last": loader.drop_last,
        "timeout": loader.timeout,
        "worker_init_fn": loader.worker_init_fn,
        "multiprocessing_context": loader.multiprocessing_context,
        "generator": loader.generator,
        "persistent_workers": loader.persistent_workers,
        "pin_memory_device": getattr(loader, "pin_memory_device", ""),
        "in_order": getattr(loader, "in_order", True),
    }
    if loader.num_workers > 0:
        candidates["prefetch_factor"] = loader.prefetch_factor
    accepted = inspect.signature(DataLoader.__init__).parameters
    kwargs = {k: v for k, v in candidates.items() if k in accepted}
    return DataLoader(loader.dataset, **kwargs)


def _is_sharded(loader: DataLoader[Any]) -> bool:
    return isinstance(loader.sampler, (DistributedSampler, DistributedEvalSampler)) or isinstance(
        loader.dataset, IterableDataset
    )


def shard_train_loader(
    loader: DataLoader[Any], *, seed: int, num_replicas: int, rank: int
) -> DataLoader[Any]:
    """``loader`` rebuilt with a ``DistributedSampler`` (seeded with ``seed``; the trainer
    calls ``set_epoch`` every epoch, so the order depends only on the seed and the epoch).

    A loader that already has a ``DistributedSampler`` or an iterable dataset (which must
    shard itself, e.g. by :func:`get_rank`) is returned as it is. A ``RandomSampler`` becomes
    a shuffling ``DistributedSampler``, a ``SequentialSampler`` a non-shuffling one. The last
    shard is padded with repeated samples, as ``DistributedSampler`` does, so that every rank
    runs the same number of steps.

    :raises ConfigError: the sampler or loader cannot be sharded (the message says what to do).
    """
    if isinstance(loader.dataset, IterableDataset) and not isinstance(
        loader.sampler, DistributedSampler
    ):
        logger.warning(
            "the train loader's dataset is an IterableDataset, which the trainer cannot shard; "
            "it must yield a different part of the data on each rank (hookwise.distributed."
            "get_rank() / get_world_size())"
        )
    if _is_sharded(loader):
        return loader
    sampler = loader.sampler
    if isinstance(sampler, RandomSampler):
        if sampler.replacement or getattr(sampler, "_num_samples", None) is not None:
            raise ConfigError(
                "the train loader's RandomSampler draws with replacement or a custom "
                "num_samples, which DistributedSampler cannot reproduce; give the loader a "
                "sampler that shards by rank, or pass use_distributed_sampler=False"
            )
        shuffle = True
    elif isinstance(sampler, SequentialSampler):
        shuffle = False
    else:
        raise ConfigError(
            f"the train loader's sampler is a {type(sampler).__name__}, which the trainer cannot "
            f"shard across {num_replicas} ranks; give the loader a DistributedSampler (or a "
            f"sampler that yields this rank's part), or pass use_distributed_sampler=False"
        )
    distributed: DistributedSampler[Any] = DistributedSampler(
        loader.dataset,
        num_replicas=num_replicas,
        rank=rank,
        shuffle=shuffle,
        seed=seed,
    )
    return _rebuild(loader, distributed, "train")


def shard_eval_loader(loader: DataLoader[Any], *, num_replicas: int, rank: int) -> DataLoader[Any]:
    """``loader`` rebuilt with a :class:`DistributedEvalSampler` (no padding, no repeats).

    A loader that already has a ``DistributedSampler`` or ``DistributedEvalSampler``, or an
    iterable dataset, is returned as it is (a ``DistributedSampler`` pads: gathered counts then
    include repeated samples).

    :raises ConfigError: the sampler or loader cannot be sharded (the message says what to do).
    """
    if isinstance(loader.sampler, DistributedSampler):
        logger.info(
            "an evaluation loader has a DistributedSampler, which repeats samples to pad the "
            "last shard: gathered metrics count them twice. hookwise.distributed."
            "DistributedEvalSampler shards without padding."
        )
    if _is_sharded(loader):
        return loader
    if not isinstance(loader.sampler, (SequentialSampler, RandomSampler)):
        raise ConfigError(
            f"an evaluation loader's sampler is a {type(loader.sampler).__name__}, which the "
            f"trainer cannot shard across {num_replicas} ranks; give it a "
            f"hookwise.distributed.DistributedEvalSampler, or pass use_distributed_sampler=False"
        )
    sampler = DistributedEvalSampler(
        loader.dataset,  # type: ignore[arg-type]
        num_replicas=num_replicas,
        rank=rank,
    )
    return _rebuild(loader, sampler, "evaluation")


__all__ = [
    "DEFAULT_TIMEOUT_S",
    "DistributedEvalSampler",
    "abort_process_group",
    "all_gather_object",
    "all_reduce_flag",
    "all_reduce_max",
    "backend_for",
    "broadcast",
    "destroy_process_group",
    "device_for_rank",
    "get_local_rank",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_collective_free",
    "is_distributed",
    "is_peer_failure",
    "is_rank_zero",
    "is_rank_zero_only",
    "launched_by_torchrun",
    "process_group",
    "rank_zero_only",
    "record_failure",
    "shard_eval_loader",
    "shard_train_loader",
    "synchronize",
    "unwrap_model",
]
