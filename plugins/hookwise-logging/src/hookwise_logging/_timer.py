"""A wall-clock timer that can be paused while evaluation runs."""

from __future__ import annotations

import time


class Timer:
    """Measures elapsed wall time, excluding the time spent paused.

    Unlike vis4d's ``Timer``, pausing a paused timer and resuming a running one are no-ops: in
    step-based mode two evaluation passes can follow each other without a training batch in
    between (step and epoch validation on the same batch), which made vis4d raise
    ``ValueError("Timer already paused!")``.
    """

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._paused_at: float | None = None
        self._paused_total = 0.0

    @property
    def paused(self) -> bool:
        """Whether the timer is paused."""
        return self._paused_at is not None

    def reset(self) -> None:
        """Start again from zero, running."""
        self._start = time.perf_counter()
        self._paused_at = None
        self._paused_total = 0.0

    def pause(self) -> None:
        """Stop counting time (a no-op when already paused)."""
        if self._paused_at is None:
            self._paused_at = time.perf_counter()

    def resume(self) -> None:
        """Count time again (a no-op when running)."""
        if self._paused_at is not None:
            self._paused_total += time.perf_counter() - self._paused_at
            self._paused_at = None

    def time(self) -> float:
        """Seconds counted since the last reset."""
        end = self._paused_at if self._paused_at is not None else time.perf_counter()
        return end - self._start - self._paused_total
