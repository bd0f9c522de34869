"""The watchdog of a distributed run: a rank that goes silent ends the job within a bounded time.

A collective call waits for every rank; when one rank is stopped (``kill -STOP``), hung in C
code, or its machine froze, the others wait in that call until ``dist_timeout`` (30 minutes by
default) and, blocked in C++, cannot even run Python's signal handlers, so SIGTERM and Ctrl-C
do nothing. The watchdog is a thread of each rank, started with a process group hookwise
creates, that

* publishes a heartbeat through the rendezvous store every few seconds (a counter per rank;
  no clocks are compared across machines), and reads every other rank's;
* when another rank's heartbeat has not changed for ``dist_stall_timeout`` seconds, logs an
  error naming that rank, records it for torchrun's failure summary, and ends this rank with
  exit status 1 (torchrun then ends the silent one), so every healthy rank ends with an error
  naming the silent rank;
* when SIGINT or SIGTERM arrives while another rank is silent (the main thread is most likely
  blocked in a collective call waiting for it and cannot stop cleanly), ends this rank at once
  with exit status ``128 + signal``. Signals are seen through :func:`signal.set_wakeup_fd`,
  so the main thread's own handlers (the trainer's clean stop) are unchanged.

A rank that keeps its heartbeat but makes no progress (a Python loop that never ends) is not
silent: ``dist_timeout`` still bounds the collective calls that wait for it.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from hookwise import settings
from hookwise.errors import HookwiseError

logger = logging.getLogger("hookwise")

#: Seconds without a heartbeat before a rank counts as silent, by default (5 minutes).
DEFAULT_STALL_TIMEOUT_S = settings.DEFAULT_DIST_STALL_TIMEOUT_S
#: Heartbeat intervals without a change after which a signal ends the rank at once.
SILENT_AFTER_BEATS = 1.5


class RankStalled(HookwiseError):
    """Another rank sent no heartbeat within ``dist_stall_timeout`` seconds."""


def heartbeat_interval(stall_timeout_s: float) -> float:
    """Seconds between heartbeats: a tenth of the stall timeout, between 0.2 s and 5 s."""
    return min(5.0, max(0.2, stall_timeout_s / 10))


class Watchdog:
    """Heartbeats of one rank through ``store``, and the checks on every other rank's.

    :param store: the rendezvous store of the process group (any ``torch.distributed.Store``).
    :param rank: this rank. :param world_size: the number of ranks.
    :param stall_timeout_s: seconds without another rank's heartbeat before this rank ends.
    :param end: how the rank ends (``os._exit``; tests pass their own).
    """

    def __init__(
        self,
        store: Any,
        rank: int,
        world_size: int,
        stall_timeout_s: float,
        *,
        end: Callable[[int], Any] = os._exit,
    ) -> None:
        self.store = store
        self.rank = rank
        self.world_size = world_size
        self.stall_timeout_s = stall_timeout_s
        self.interval_s = heartbeat_interval(stall_timeout_s)
        self._end = end
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wakeup: tuple[int, int] | None = None
        self._previous_wakeup_fd = -1
        self._pending_signal: int | None = None
        self._seen: dict[int, tuple[int, float]] = {}

    def start(self) -> None:
        """Start the heartbeat thread (and watch for signals, from the main thread).

        The thread is stopped by :meth:`stop`, or at interpreter exit if nobody stopped it: a
        thread still inside a store call when Python finalizes would abort the process when
        the call returns (see :mod:`hookwise.collectives`)."""
        self._beat()
        if threading.current_thread() is threading.main_thread():
            read_fd, write_fd = os.pipe()
            os.set_blocking(read_fd, False)
            os.set_blocking(write_fd, False)
            try:
                self._previous_wakeup_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
                self._wakeup = (read_fd, write_fd)
            except ValueError:  # not the main interpreter's main thread
                os.close(read_fd)
                os.close(write_fd)
        self._thread = threading.Thread(target=self._run, name="hookwise-watchdog", daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def stop(self) -> None:
        """Stop the thread, tell the other ranks this one left on purpose (its heartbeat stops
        but it is not silent), and give the signal wake-up back."""
        atexit.unregister(self.stop)
        self._stop.set()
        with contextlib.suppress(Exception):  # the store may be gone at the end of a job
            self.store.add(self._left_key(self.rank), 1)
        if self._thread is not None:
            if self._wakeup is not None:  # wake the thread now (0 is no signal number)
                with contextlib.suppress(OSError):
                    os.write(self._wakeup[1], b"\0")
            self._thread.join(timeout=self.interval_s + 5)
            self._thread = None
        if self._wakeup is not None:
            with contextlib.suppress(ValueError):
                signal.set_wakeup_fd(self._previous_wakeup_fd)
            for fd in self._wakeup:
                os.close(fd)
            self._wakeup = None

    # -- the thread --------------------------------------------------------------------------

    def _key(self, rank: int) -> str:
        return f"heartbeat/{rank}"

    def _left_key(self, rank: int) -> str:
        return f"heartbeat/{rank}/left"

    def _beat(self) -> None:
        self.store.add(self._key(self.rank), 1)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wait_for_signal(self.interval_s)
                if self._stop.is_set():
                    return
                self._beat()
                self.check(time.monotonic())
        except Exception:  # the store went away: the job is ending; nothing left to watch
            logger.debug("the watchdog stopped", exc_info=True)

    def _wait_for_signal(self, timeout_s: float) -> None:
        if self._wakeup is None:
            self._stop.wait(timeout_s)
            return
        ready, _, _ = select.select([self._wakeup[0]], [], [], timeout_s)
        if ready:
            with contextlib.suppress(BlockingIOError):
                for signum in os.read(self._wakeup[0], 64):
                    if signum in (signal.SIGINT, signal.SIGTERM) and self._pending_signal is None:
                        self._pending_signal = signum

    def silent_ranks(self, now: float) -> dict[int, float]:
        """Every other rank whose heartbeat has not changed, with the seconds since it last did."""
        silent = {}
        for other in range(self.world_size):
            if other == self.rank:
                continue
            count = int(self.store.add(self._key(other), 0))
            last_count, since = self._seen.get(other, (-1, now))
            if count != last_count:
                self._seen[other] = (count, now)
            elif not int(self.store.add(self._left_key(other), 0)):
                silent[other] = now - since
        return silent

    def check(self, now: float) -> None:
        """One round of checks: end this rank if another is silent for too long, or if a
        signal came while another is silent."""
        silent = self.silent_ranks(now)
        if not silent:
            return
        rank, quiet_s = max(silent.items(), key=lambda item: item[1])
        if quiet_s >= self.stall_timeout_s:
            self._fail(
                RankStalled(
                    f"rank {rank} of {self.world_size} has sent no heartbeat for {quiet_s:.0f} s "
                    f"(a stopped, hung or lost process; dist_stall_timeout is "
                    f"{self.stall_timeout_s:g} s): ending rank {self.rank}"
                ),
                status=1,
            )
        elif self._pending_signal is not None and quiet_s >= SILENT_AFTER_BEATS * self.interval_s:
            name = signal.Signals(self._pending_signal).name
            self._fail(
                RankStalled(
                    f"{name} received while rank {rank} of {self.world_size} is silent (no "
                    f"heartbeat for {quiet_s:.0f} s): rank {self.rank} cannot stop cleanly "
                    f"and ends now"
                ),
                status=128 + self._pending_signal,
            )

    def _fail(self, error: RankStalled, status: int) -> None:
        from hookwise.distributed import record_failure

        logger.error("%s", error)
        try:
            raise error
        except RankStalled as raised:
            record_failure(raised)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        self._stop.set()
        self._end(status)


__all__ = [
    "DEFAULT_STALL_TIMEOUT_S",
    "RankStalled",
    "Watchdog",
    "heartbeat_interval",
]
