"""A run folder in use is locked, so that no second command trains into it.

``hookwise fit`` and ``hookwise test`` hold the lock of their run folder (the file
``.hookwise.lock`` in it) from the moment they choose the folder until they end. The lock is the
operating system's (``fcntl.flock`` on Linux and macOS, ``msvcrt.locking`` on Windows), held
through an open file: when the process ends, however it ends (SIGKILL, a crash, a power cut of
the machine), the operating system releases it, so a crashed run never leaves a folder stuck.
The lock file also records who holds it (process id, host, command, since when), which the
refusal names. Locks on network file systems depend on the file system's support.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from hookwise.errors import HookwiseError

LOCK_FILE = ".hookwise.lock"
#: Windows locks a byte range: one byte far past the holder record, which stays readable.
_WINDOWS_LOCK_OFFSET = 1 << 30


class RunInUseError(HookwiseError):
    """The run folder is locked by another process (the message names it)."""


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def holder_of(folder: Path) -> dict[str, Any]:
    """Who holds (or last held) the lock of ``folder``, as recorded in its lock file."""
    try:
        info = json.loads((folder / LOCK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def describe_holder(info: dict[str, Any]) -> str:
    """``process 123 on host h (hookwise fit, since 2024-05-01T12:30:05)``."""
    if not info:
        return "another process (it recorded no details)"
    what = f" ({info['command']}" if info.get("command") else " ("
    since = f", since {info['since']}" if info.get("since") else ""
    return f"process {info.get('pid', '?')} on host {info.get('host', '?')}{what}{since})"


class RunLock:
    """The lock of one run folder (see the module docstring); release it with
    :meth:`release`, or use :func:`locked`."""

    def __init__(self, folder: Path, *, command: str = "hookwise") -> None:
        self.folder = folder
        path = folder / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            os.close(fd)
            raise RunInUseError(
                f"the run folder {str(folder)!r} is in use by {describe_holder(holder_of(folder))}"
                f"; wait until that command ends (or stop it), or start a new run instead of "
                f"resuming into this one. A crashed process holds no lock: its folder is free "
                f"again as soon as it ends"
            )
        self._fd: int | None = fd
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "since": datetime.now().isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(record) + "\n").encode("utf-8"))

    @property
    def held(self) -> bool:
        """Whether this object still holds the lock."""
        return self._fd is not None

    def release(self) -> None:
        """Release the lock (the lock file stays; it holds no lock by itself)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            _unlock(fd)
        finally:
            os.close(fd)


def is_locked(folder: Path) -> bool:
    """Whether another process holds the lock of ``folder`` now."""
    path = folder / LOCK_FILE
    if not path.is_file():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        if not _try_lock(fd):
            return True
        _unlock(fd)
        return False
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(folder: Path, *, command: str = "hookwise") -> Iterator[RunLock]:
    """Hold the lock of ``folder`` for the block.

    :raises RunInUseError: another process holds it (the message names the process).
    """
    lock = RunLock(folder, command=command)
    try:
        yield lock
    finally:
        lock.release()


__all__ = [
    "LOCK_FILE",
    "RunInUseError",
    "RunLock",
    "describe_holder",
    "holder_of",
    "is_locked",
    "locked",
]
