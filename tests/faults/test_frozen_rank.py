"""A frozen rank (trust.frozen-rank): the watchdog's decisions over an in-memory store with a
controlled clock. ``tests/distributed/test_watchdog.py`` proves the same with real torchrun
processes, one of them stopped with SIGSTOP."""

from __future__ import annotations

import signal
from collections import Counter

import pytest
from hookwise.watchdog import Watchdog, heartbeat_interval


class MemoryStore:
    def __init__(self) -> None:
        self.values: Counter[str] = Counter()

    def add(self, key: str, amount: int) -> int:
        self.values[key] += amount
        return self.values[key]


@pytest.mark.fault("trust.frozen-rank")
def test_a_silent_rank_ends_the_others_naming_it(caplog: pytest.LogCaptureFixture) -> None:
    store, ended = MemoryStore(), []
    watchdog = Watchdog(store, 0, 2, 300.0, end=ended.append)
    watchdog.check(0.0)
    watchdog.check(299.0)
    assert ended == []
    watchdog.check(300.0)
    assert ended == [1]
    assert "rank 1 of 2 has sent no heartbeat for 300 s" in caplog.text


@pytest.mark.fault("trust.frozen-rank")
def test_sigterm_while_a_rank_is_silent_ends_at_once(caplog: pytest.LogCaptureFixture) -> None:
    store, ended = MemoryStore(), []
    watchdog = Watchdog(store, 0, 2, 300.0, end=ended.append)
    watchdog.check(0.0)
    watchdog._pending_signal = signal.SIGTERM
    watchdog.check(1.5 * heartbeat_interval(300.0))  # seconds, not the 300 s timeout
    assert ended == [128 + signal.SIGTERM]
    assert "SIGTERM received while rank 1 of 2 is silent" in caplog.text
