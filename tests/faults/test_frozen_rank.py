"""A frozen rank (trust.frozen-rank): the watchdog's decisions over an in-memory store with a
controlled clock. ``tests/distributed/test_watchdog.py`` proves the same with real torchrun
processes, one of them stopped with SIGSTOP."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest
from hookwise.watchdog import RankStalled, Watchdog, heartbeat_interval


class MemoryStore:
    """The one store method the watchdog uses: ``add`` (returns the new value)."""

    def __init__(self) -> None:
        self.values: Counter[str] = Counter()

    def add(self, key: str, amount: int) -> int:
        self.values[key] += amount
        return self.values[key]


def _watchdog(store: MemoryStore, rank: int = 0, stall: float = 10.0) -> tuple[Watchdog, list[int]]:
    ended: list[int] = []
    return Watchdog(store, rank, 3, stall, end=ended.append), ended


@pytest.mark.fault("trust.frozen-rank")
def test_a_rank_silent_for_the_stall_timeout_ends_this_rank_naming_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    watchdog, ended = _watchdog(store)
    watchdog.check(0.0)  # first look at ranks 1 and 2
    for now in (4.0, 8.0):
        store.add("heartbeat/1", 1)  # rank 1 beats, rank 2 is silent
        watchdog.check(now)
    assert ended == []
    store.add("heartbeat/1", 1)
    watchdog.check(10.5)
    assert ended == [1]
    assert "rank 2 of 3 has sent no heartbeat for 10 s" in caplog.text


@pytest.mark.fault("trust.frozen-rank")
def test_a_rank_that_left_on_purpose_is_not_silent() -> None:
    store = MemoryStore()
    watchdog, ended = _watchdog(store)
    watchdog.check(0.0)
    store.add("heartbeat/1/left", 1)
    store.add("heartbeat/2/left", 1)
    watchdog.check(100.0)
    assert ended == []


@pytest.mark.fault("trust.frozen-rank")
def test_a_signal_while_another_rank_is_silent_ends_this_rank_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    watchdog, ended = _watchdog(store, stall=300.0)
    watchdog.check(0.0)
    watchdog._pending_signal = signal.SIGTERM
    store.add("heartbeat/1", 1)
    store.add("heartbeat/2", 1)
    watchdog.check(1.0)
    assert ended == []  # every rank beats: the main thread's clean stop handles the signal
    store.add("heartbeat/1", 1)
    watchdog.check(1.0 + 1.5 * heartbeat_interval(300.0))  # rank 2 silent for 1.5 beats
    assert ended == [128 + signal.SIGTERM]
    assert "SIGTERM received while rank 2 of 3 is silent" in caplog.text


@pytest.mark.fault("trust.frozen-rank")
def test_heartbeat_interval_is_a_tenth_of_the_timeout_within_bounds() -> None:
    assert heartbeat_interval(300.0) == 5.0
    assert heartbeat_interval(20.0) == 2.0
    assert heartbeat_interval(0.5) == 0.2
    assert issubclass(RankStalled, Exception)


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


@pytest.mark.fault("trust.frozen-rank")
def test_stopping_the_watchdog_does_not_wait_for_its_next_heartbeat() -> None:
    watchdog = Watchdog(MemoryStore(), 0, 2, 300.0)  # a heartbeat every 5 s
    watchdog.start()
    started = time.monotonic()
    watchdog.stop()
    assert time.monotonic() - started < 2.0  # every rank's exit waited up to 5 s for it
    assert watchdog.store.values["heartbeat/0/left"] == 1


@pytest.mark.fault("trust.frozen-rank")
def test_a_watchdog_nobody_stopped_is_stopped_at_interpreter_exit() -> None:
    # a thread still inside a store call when Python finalizes would abort the process
    script = textwrap.dedent(
        """
        import sys, threading
        from collections import Counter
        from hookwise.watchdog import Watchdog

        class Store:
            values = Counter()
            def add(self, key, amount):
                self.values[key] += amount
                return self.values[key]

        store = Store()

        import atexit
        @atexit.register  # registered first, so it runs after the watchdog's own handler
        def report():
            alive = any(t.name == "hookwise-watchdog" for t in threading.enumerate())
            print(f"left={store.values['heartbeat/0/left']} alive={alive}")

        Watchdog(store, 0, 2, 300.0).start()
        assert any(t.name == "hookwise-watchdog" for t in threading.enumerate())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "left=1 alive=False"
