"""Stopping a fit: the stop latch, SIGINT/SIGTERM, and the agreement of all ranks.

A stop request is a latch: the first request is kept and nothing clears it until the next fit.
A signal is kept the same way. In a distributed run a request or signal seen on some ranks
counts only once every rank has agreed on it, at points every rank reaches together (one small
all-reduce, see DESIGN decision 9), so all ranks stop at the same step.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hookwise.errors import HookwiseError
from hookwise.plugins import PluginManager

if TYPE_CHECKING:
    from hookwise.trainer.position import Position
    from hookwise.trainer.strategy import Strategy

logger = logging.getLogger("hookwise")


class TrainingInterrupted(HookwiseError):
    """Raised by :meth:`Trainer.fit` after a SIGINT or SIGTERM ended the run cleanly.

    A checkpoint was written into the run folder and the end hooks ran. ``signal_number`` says
    which signal; the command line exits with ``128 + signal_number``.
    """

    def __init__(self, signal_number: int, checkpoint: Path | None) -> None:
        name = signal.Signals(signal_number).name
        where = f"; checkpoint written to {checkpoint}" if checkpoint else ""
        super().__init__(f"training interrupted by {name}{where}")
        self.signal_number = signal_number
        self.checkpoint = checkpoint


@dataclass(frozen=True)
class StopRequest:
    """Who asked the trainer to stop, why, and where."""

    reason: str
    plugin: str | None
    epoch: int
    global_step: int


class StopLatch:
    """The stop request and the signal of one fit, and what the ranks agreed on."""

    def __init__(self) -> None:
        self.request: StopRequest | None = None
        self.signal: int | None = None
        self.agreed_stop = False
        self.agreed_signal = False

    def reset(self) -> None:
        """Forget everything: a new fit starts."""
        self.request = None
        self.signal = None
        self.agreed_stop = self.agreed_signal = False

    @property
    def pending(self) -> bool:
        """Whether a stop was requested or a signal arrived (on this rank)."""
        return self.request is not None or self.signal is not None

    def request_stop(self, request: StopRequest, *, all_ranks: bool = False) -> bool:
        """Latch ``request`` unless one is latched already; return whether it was kept.

        ``all_ranks`` promises that every rank makes this request at this same step, so it
        counts as agreed at once.
        """
        if all_ranks:
            self.agreed_stop = True
        if self.request is not None:
            return False
        self.request = request
        return True

    def stopping(self, strategy: Strategy, *, sync: bool, epoch: int, step: int) -> bool:
        """Whether training stops now. In a distributed run only what every rank agreed on
        counts (combined when ``sync``), so every rank stops at the same step."""
        if strategy.world_size == 1:
            return self.pending
        if sync:
            self.combine(strategy, epoch=epoch, step=step)
        return self.agreed_stop or self.agreed_signal

    def interrupted(self, strategy: Strategy, *, epoch: int, step: int) -> bool:
        """Whether a signal ends the run (agreed across ranks in a distributed run)."""
        if strategy.world_size == 1:
            return self.signal is not None
        self.combine(strategy, epoch=epoch, step=step)
        return self.agreed_signal

    def combine(self, strategy: Strategy, *, epoch: int, step: int) -> None:
        """Combine requests and signals across ranks: one small all-reduce, plus one gather
        of the requests when some rank asked to stop."""
        requested, signum = strategy.all_reduce_max(
            [int(self.request is not None), self.signal or 0]
        )
        if signum and not self.agreed_signal:
            self.agreed_signal = True
            if self.signal is None:
                self.signal = signum
                logger.warning(
                    "%s was received by another rank: every rank ends the run at step %d",
                    signal.Signals(signum).name,
                    step,
                )
        if requested and not self.agreed_stop:
            self.agreed_stop = True
            requests = strategy.all_gather_object(self.request)
            if self.request is None:
                rank, first = next((r, q) for r, q in enumerate(requests) if q is not None)
                self.request = StopRequest(
                    f"{first.reason} (requested on rank {rank})", first.plugin, epoch, step
                )
                logger.info(
                    "Stop requested on rank %d%s: %s; every rank stops at step %d",
                    rank,
                    f" by plugin {first.plugin!r}" if first.plugin else "",
                    first.reason,
                    step,
                )


@contextlib.contextmanager
def handling_signals(on_signal: Callable[[int], None], *, enabled: bool) -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM call ``on_signal(signum)`` in this process.

    A process forked meanwhile (a DataLoader worker) inherits the handler: the main process
    ends the work and shuts its workers down, so a worker ignores Ctrl-C and takes any other
    signal's default action. Does nothing when not ``enabled`` or outside the main thread
    (Python delivers signals to the main thread only). The previous handlers come back after.
    """
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    owner = os.getpid()

    def handler(signum: int, _frame: Any) -> None:
        if os.getpid() != owner:
            if signum != signal.SIGINT:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)
            return
        on_signal(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def signal_handlers(latch: StopLatch, *, enabled: bool) -> contextlib.AbstractContextManager[None]:
    """While the block runs, SIGINT and SIGTERM set ``latch.signal`` (a clean stop) instead of
    ending the process; a second Ctrl-C raises ``KeyboardInterrupt`` at once (see
    :func:`handling_signals` for forked workers and threads)."""

    def stop_cleanly(signum: int) -> None:
        if latch.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C exits at once
        latch.signal = signum
        logger.warning(
            "%s received: finishing the current step, writing a checkpoint and ending the "
            "run (press Ctrl-C again to exit at once)",
            signal.Signals(signum).name,
        )

    return handling_signals(stop_cleanly, enabled=enabled)


class StopControl:
    """The trainer's stopping methods: its stop request and the checks the loops make."""

    _latch: StopLatch
    _strategy: Strategy
    _position: Position
    pm: PluginManager
    dist_stop_check_interval: int | None
    val_check_interval: int | None
    test_dataloader: list[Any] | None

    @property
    def stop_request(self) -> StopRequest | None:
        """The stop request, once one was made."""
        return self._latch.request

    @property
    def should_stop(self) -> bool:
        """Whether the run will stop at its next check: a plugin requested it (see
        :attr:`stop_request`) or SIGINT/SIGTERM arrived."""
        return self._latch.pending

    def request_stop(
        self, reason: str, plugin: str | None = None, *, all_ranks: bool = False
    ) -> None:
        """Ask the trainer to stop at its next check (after the current batch, or after the
        epoch's validation). A latch: the first request is kept, nothing clears it. The plugin
        that asked is found from the call stack when not given.

        In a distributed run a request made on some ranks takes effect on every rank at the
        next point where the ranks combine their requests (see ``dist_stop_check_interval``),
        so all stop at the same step. ``all_ranks=True`` promises that every rank makes this
        request at this same step (for example after an all-reduce of the verdict): the stop
        then takes effect at once, as in one process.
        """
        position = self._position
        source = plugin or calling_plugin(self.pm, self)
        request = StopRequest(reason, source, position.epoch, position.global_step)
        if self._latch.request_stop(request, all_ranks=all_ranks):
            logger.info(
                "Stop requested%s at epoch %d, step %d: %s",
                f" by plugin {source!r}" if source else "",
                position.epoch,
                position.global_step,
                reason,
            )

    def _stop_check_due(self) -> bool:
        """Whether this step is a point where every rank combines its stop requests."""
        if self._strategy.world_size == 1:
            return False
        step = self._position.global_step
        every = self.dist_stop_check_interval
        if every is not None and step % every == 0:
            return True
        validate = self.val_check_interval
        return validate is not None and bool(self.test_dataloader) and step % validate == 0

    def _stopping(self, sync: bool) -> bool:
        """Whether training stops now (see :meth:`StopLatch.stopping`)."""
        position = self._position
        return self._latch.stopping(
            self._strategy, sync=sync, epoch=position.epoch, step=position.global_step
        )

    def _interrupted(self) -> bool:
        """Whether a signal ended the run (agreed across ranks in a distributed run)."""
        position = self._position
        return self._latch.interrupted(
            self._strategy, epoch=position.epoch, step=position.global_step
        )


def calling_plugin(pm: PluginManager, trainer: object) -> str | None:
    """The plugin on the call stack (the innermost frame whose ``self`` or module is one)."""
    frame = inspect.currentframe()
    plugins = {id(pm.get_plugin(n)): n for n in pm.plugin_names()}
    while frame is not None:
        owner = frame.f_locals.get("self")
        if owner is not None and id(owner) in plugins and owner is not trainer:
            return plugins[id(owner)]
        module = sys.modules.get(frame.f_globals.get("__name__", ""))
        if module is not None and id(module) in plugins:
            return plugins[id(module)]
        frame = frame.f_back
    return None
