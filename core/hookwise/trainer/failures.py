"""Failures during a run: ``on_exception``, and the summary of tolerated failures.

A fatal error (the loop or a plugin with ``on_error="raise"``) runs ``on_exception`` with
``fatal=True`` before it propagates; a failure a plugin's error policy tolerated runs it with
``fatal=False``. Errors raised inside ``on_exception`` are logged and never hide the error
being handled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from torch import nn

from hookwise import distributed
from hookwise.errors import StateWriteError, add_note
from hookwise.plugins import PluginManager

logger = logging.getLogger("hookwise")


def report_exception(
    pm: PluginManager,
    state: Callable[[], Any],
    model: nn.Module,
    exc: BaseException,
    *,
    fatal: bool,
) -> None:
    """Run every ``on_exception`` implementation for ``exc`` (``state()`` builds the
    ``trainer_state``, one for them all); note where the run failed on the exception."""
    if isinstance(exc, Exception):
        add_note(exc, f"hookwise: the run failed at {pm.describe_position()}")
    calls = pm.caller("on_exception").calls
    arguments = {
        "trainer_state": state() if calls else None,
        "model": model,
        "exception": exc,
        "fatal": fatal,
    }
    for call in calls:
        try:
            call.call(arguments)
        except Exception as failure:
            if isinstance(failure, StateWriteError):
                failure.blame(call.plugin_name, "on_exception")
            logger.exception(
                "plugin %r failed in hook 'on_exception' while handling %s",
                call.plugin_name,
                type(exc).__name__,
            )


def report_tolerated_failures(pm: PluginManager) -> None:
    """At the end of fit, say how often each plugin's tolerated failures happened."""
    for name, failure in pm.failures.items():
        if failure.count > 1:
            logger.warning(
                "plugin %r failed %d times in this run (on_error=%s; the first failure was "
                "reported with its traceback); the last one, in hook %r: %s: %s",
                name,
                failure.count,
                failure.policy,
                failure.hook,
                type(failure.exception).__name__,
                failure.exception,
            )


def report_failure(exc: BaseException) -> None:
    """Log a fatal error of this rank, naming the rank, and record it for torchrun's summary
    (unless it is only the echo of another rank's failure)."""
    rank, size = distributed.get_rank(), distributed.get_world_size()
    if distributed.is_peer_failure(exc):
        logger.error(
            "rank %d of %d: a collective call failed, most likely because another rank "
            "failed first (see its error): %s: %s",
            rank,
            size,
            type(exc).__name__,
            exc,
        )
        return
    distributed.record_failure(exc)  # torchrun's summary names this as the root cause
    notes = "; ".join(getattr(exc, "__notes__", []))
    logger.error(
        "rank %d of %d: the run failed with %s: %s%s",
        rank,
        size,
        type(exc).__name__,
        exc,
        f" ({notes})" if notes else "",
    )
