"""Savers: the one interface through which the core writes checkpoints (DESIGN decision 22).

A :class:`Saver` takes a checkpoint state (already checked) and a target path and writes it
atomically (:func:`hookwise.checkpointing.atomic_save`: temporary file, fsync, rename, folder
fsync). ``on_done(path)`` runs once the file is durable, so that whatever depends on the file
(retention deletes, moving ``last``) happens only then.

- :class:`SyncSaver` writes before ``save`` returns.
- :class:`AsyncSaver` copies every tensor of the state to host memory before ``save`` returns
  (so later optimizer steps do not change what is written) and writes in a background thread.
  At most one write is in flight: a second ``save`` waits for the first. A failed write is
  kept (:meth:`AsyncSaver.take_failure`) and raised by the trainer at its next check, naming
  the file. The writer thread is not a daemon and is joined at exit (and at every fit's end),
  so no write is cut off by interpreter shutdown and no thread outlives the run's process
  group; it makes no collective call.
"""

from __future__ import annotations

import atexit
import copy
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import torch

from hookwise.checkpointing import atomic_save
from hookwise.errors import CheckpointError

#: Called with the path once a checkpoint is durable (in the writer thread when asynchronous).
OnDone = Callable[[Path], None]


class BackgroundWriteError(CheckpointError):
    """A checkpoint written in the background failed (``path`` names it); raised by the
    trainer after the write, at its next check or save, not by the save that started it."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


class Saver(Protocol):
    """Writes checkpoints; synchronous, asynchronous and sharded savers share this interface."""

    def save(self, state: Mapping[str, Any], path: Path, on_done: OnDone | None = None) -> Path:
        """Write ``state`` to ``path`` atomically; call ``on_done(path)`` once it is durable."""
        ...

    def wait(self) -> None:
        """Return once no write is in flight (a failure stays for :meth:`take_failure`)."""
        ...

    def take_failure(self) -> BackgroundWriteError | None:
        """The failure of a finished write not yet reported (then forgotten), or ``None``."""
        ...


class SyncSaver:
    """Writes before :meth:`save` returns; a failure is raised there."""

    def save(self, state: Mapping[str, Any], path: Path, on_done: OnDone | None = None) -> Path:
        """Write ``state`` to ``path`` atomically, then call ``on_done(path)``."""
        written = atomic_save(state, path)
        if on_done is not None:
            on_done(written)
        return written

    def wait(self) -> None:
        """Nothing is ever in flight."""

    def take_failure(self) -> BackgroundWriteError | None:
        """Failures are raised by :meth:`save` itself."""
        return None


class AsyncSaver:
    """Copies the state to host memory at once and writes it in a background thread."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._failure: BackgroundWriteError | None = None
        #: the buffers of the last finished write, for the next copy (see :func:`host_copy`)
        self._spare: Spare = {}
        self._lock = threading.Lock()
        _track(self)

    @property
    def failed(self) -> bool:
        """Whether a finished write failed and :meth:`take_failure` has not taken it yet (the
        trainer's per-step check: one attribute read, no lock)."""
        return self._failure is not None

    @property
    def in_flight(self) -> bool:
        """Whether a write is running."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def save(self, state: Mapping[str, Any], path: Path, on_done: OnDone | None = None) -> Path:
        """Wait for the write in flight, raise its failure if it failed, copy ``state`` to
        host memory and start writing it; return ``path`` (the file appears once written).

        :raises BackgroundWriteError: the previous write failed (that file is named); this
            save did not start.
        """
        self.wait()
        failure = self.take_failure()
        if failure is not None:
            raise failure
        spare, self._spare = self._spare, {}
        snapshot = host_copy(state, spare)
        target = Path(path)
        thread = threading.Thread(
            target=self._write,
            args=(snapshot, target, on_done),
            name=f"hookwise-checkpoint-writer:{target.name}",
            daemon=False,
        )
        self._thread = thread
        thread.start()
        return target

    def _write(self, snapshot: Mapping[str, Any], path: Path, on_done: OnDone | None) -> None:
        written = False
        try:
            atomic_save(snapshot, path)
            written = True
            if on_done is not None:
                on_done(path)
        except BaseException as exc:  # kept for the trainer: a thread cannot raise to it
            what = (
                "was written, but what follows its write (links, deletes) failed"
                if written
                else "could not be written in the background (the previous file there, if "
                "any, is unchanged)"
            )
            failure = BackgroundWriteError(
                f"checkpoint {str(path)!r} {what}: {type(exc).__name__}: {exc}. Check the "
                f"disk (space, permissions), or save synchronously (async_save=False) to see "
                f"the error at the save itself",
                path,
            )
            failure.__cause__ = exc
            with self._lock:
                self._failure = failure
        finally:
            self._spare = spare_buffers(snapshot)  # read after the join in save()

    def wait(self) -> None:
        """Return once the write in flight (if any) has finished."""
        thread = self._thread
        if thread is not None:
            thread.join()
            self._thread = None

    def release(self) -> None:
        """Wait for the write in flight and free the host buffers kept for the next copy."""
        self.wait()
        self._spare = {}

    def take_failure(self) -> BackgroundWriteError | None:
        """The failure of the last finished write, once (then forgotten)."""
        if self._failure is None:  # the per-step check: no lock while nothing failed
            return None
        with self._lock:
            failure, self._failure = self._failure, None
        return failure


#: Host buffers of a finished write, by size in bytes, for the next copy to reuse.
Spare = dict[int, list[Any]]


def host_copy(state: Any, spare: Spare | None = None) -> Any:
    """A deep copy of ``state`` whose tensors are in host memory and share nothing with the
    originals (tensors that shared a storage share one copy, as ``torch.save`` keeps it).

    ``spare``: buffers of an earlier copy that nothing uses any more; a storage of the same
    size is copied into one of them (taken out of ``spare``) instead of new memory, which
    saves the page faults of fresh memory (about half the copy's time)."""
    return _HostCopy(spare or {}).copy(state)


class _HostCopy:
    def __init__(self, spare: Spare) -> None:
        self.spare = spare
        #: (address, size, device) of each source storage -> its copy
        self.storages: dict[tuple[int, int, str], Any] = {}

    def copy(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return self.tensor(value)
        kind = type(value)
        if kind is dict or kind is OrderedDict:
            return kind((key, self.copy(item)) for key, item in value.items())
        if kind is list:
            return [self.copy(item) for item in value]
        if kind is tuple:
            return tuple(self.copy(item) for item in value)
        if value is None or kind in (bool, int, float, str, bytes):
            return value
        return copy.deepcopy(value)

    def tensor(self, tensor: torch.Tensor) -> torch.Tensor:
        if type(tensor) is not torch.Tensor or tensor.layout != torch.strided:
            return tensor.detach().to("cpu", copy=True)
        storage = tensor.untyped_storage()
        key = (storage.data_ptr(), storage.nbytes(), str(storage.device))
        copied = self.storages.get(key)
        if copied is None:
            copied = self.storage(storage)
            self.storages[key] = copied
        view = torch.empty(0, dtype=tensor.dtype)
        return view.set_(copied, tensor.storage_offset(), tensor.size(), tensor.stride())

    def storage(self, storage: Any) -> Any:
        buffers = self.spare.get(storage.nbytes())
        if buffers:
            return buffers.pop().copy_(storage)
        if storage.device.type == "cpu":
            return storage.clone()
        return storage.cpu()


def spare_buffers(snapshot: Any) -> Spare:
    """The host storages of a written snapshot (from :func:`host_copy`), by size."""
    spare: Spare = {}
    seen: set[int] = set()

    def collect(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            storage = value.untyped_storage()
            if storage.device.type == "cpu" and storage.data_ptr() not in seen and storage.nbytes():
                seen.add(storage.data_ptr())
                spare.setdefault(storage.nbytes(), []).append(storage)
        elif isinstance(value, Mapping):
            for item in value.values():
                collect(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                collect(item)

    collect(snapshot)
    return spare


_LIVE: weakref.WeakSet[AsyncSaver] = weakref.WeakSet()


def _track(saver: AsyncSaver) -> None:
    """Wait for ``saver``'s write at exit (the hook is registered with the first saver, not
    at import)."""
    if not _LIVE:
        atexit.unregister(_finish_writes)  # at most one registration, however many savers
        atexit.register(_finish_writes)
    _LIVE.add(saver)


def _finish_writes() -> None:
    """Let every write in flight finish before the interpreter shuts down."""
    for saver in list(_LIVE):
        saver.wait()
