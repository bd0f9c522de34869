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
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from hookwise.collectives import (
    all_gather_object,
    all_reduce_flag,
    all_reduce_max,
    broadcast,
    synchronize,
)
from hookwise.errors import ConfigError
from hookwise.ranks import (
    TORCHRUN_ENV,
    get_local_rank,
    get_rank,
    get_world_size,
    is_distributed,
    is_rank_zero,
    launched_by_torchrun,
    restart_count,
)
from hookwise.sharding import DistributedEvalSampler, shard_eval_loader, shard_train_loader
from hookwise.watchdog import DEFAULT_STALL_TIMEOUT_S, Watchdog

T = TypeVar("T")

logger = logging.getLogger("hookwise")

#: How long a collective call waits for the other ranks by default (seconds). torch's own
#: default is 30 minutes for gloo and 10 for NCCL; a hung peer is found within this time even
#: when no launcher tears the job down.
DEFAULT_TIMEOUT_S = 1800.0
_ZERO_ONLY_MARK = "__hookwise_rank_zero_only__"
#: How many process groups this process has created (each gets its own store prefix).
_generation = 0
#: The watchdog of the group this module created.
_watchdog: Watchdog | None = None
#: The rendezvous store of the group this module created: torchrun's store, which every
#: attempt of the job shares (see :func:`remember_for_restarts`).
_job_store: Any = None
_JOB_KEYS = "hookwise/job/"


def _forget_group() -> None:
    """Stop the watchdog of the group this module created."""
    global _watchdog, _job_store
    if _watchdog is not None:
        _watchdog.stop()
    _watchdog = _job_store = None


def remember_for_restarts(key: str, value: str) -> None:
    """Record ``value`` under ``key`` in torchrun's rendezvous store, where the workers that
    ``torchrun --max-restarts`` starts after a failure read it
    (:func:`recall_from_earlier_attempt`). A no-op unless hookwise created the process group
    (``Trainer`` or :func:`process_group`); call it on one rank."""
    if _job_store is not None:
        _job_store.set(_JOB_KEYS + key, value)


def recall_from_earlier_attempt(key: str) -> str | None:
    """After ``torchrun --max-restarts`` restarted the workers: the value an earlier attempt
    of this job recorded under ``key`` (:func:`remember_for_restarts`); ``None`` on the first
    attempt, when none was recorded, or without a process group hookwise created.

    The store lives as long as torchrun's agent (on a multi-node job, the agent of the node
    that hosts the rendezvous); a restart after which another node hosts it finds nothing."""
    if _job_store is None or restart_count() == 0:
        return None
    if not _job_store.check([_JOB_KEYS + key]):
        return None
    value: bytes = _job_store.get(_JOB_KEYS + key)
    return value.decode()


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


def init_process_group(
    device: torch.device,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
) -> bool:
    """Initialise the default process group from torchrun's environment, if it is not yet,
    and start this rank's :class:`~hookwise.watchdog.Watchdog` (stopped with the group).

    :param device: where this rank computes; on CUDA it must be ``cuda:LOCAL_RANK``, and it
        becomes the current device.
    :param timeout_s: how long any collective call waits for the other ranks before failing.
    :param stall_timeout_s: how long another rank may send no heartbeat before this rank ends
        with an error naming it (see :mod:`hookwise.watchdog`).
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
    global _job_store
    _job_store = store
    # Each group gets its own key space in the rendezvous store: a group created after an
    # earlier one was destroyed, or by workers torchrun restarted (--max-restarts) against the
    # same store, must not read the stale addresses of the earlier group's processes.
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    store = PrefixStore(f"hookwise/{attempt}/{_generation}", store)
    _generation += 1
    dist.init_process_group(
        backend=backend, store=store, rank=rank, world_size=world_size, timeout=timeout
    )
    global _watchdog
    if world_size > 1:
        _watchdog = Watchdog(store, rank, world_size, stall_timeout_s)
        _watchdog.start()
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
    device: torch.device | str = "auto",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
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
    created = init_process_group(device_for_rank(torch.device(device)), timeout_s, stall_timeout_s)
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
    _forget_group()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def abort_process_group() -> None:
    """Tear the default process group down at once, on a failure path.

    Makes no collective call. NCCL communicators are aborted (so that no kernel waits for a
    peer); other backends are destroyed. Never raises.
    """
    _forget_group()
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


__all__ = [
    "DEFAULT_TIMEOUT_S",
    "TORCHRUN_ENV",
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
    "recall_from_earlier_attempt",
    "record_failure",
    "remember_for_restarts",
    "restart_count",
    "shard_eval_loader",
    "shard_train_loader",
    "synchronize",
    "unwrap_model",
]
