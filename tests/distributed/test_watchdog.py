"""A frozen rank ends the job in bounded time (issue: a stopped rank left the other blocked in
a collective for 30 minutes, deaf to SIGTERM and Ctrl-C).

The unit tests drive :class:`hookwise.watchdog.Watchdog` over an in-memory store with a
controlled clock; the torchrun tests stop rank 1 with SIGSTOP mid-run and check that rank 0
ends with an error naming rank 1, after ``dist_stall_timeout`` or at once on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from hookwise.watchdog import RankStalled, Watchdog, heartbeat_interval
from torchrun_kit import HERE, finish, free_port, loopback_env

WORKER = HERE / "stall_worker.py"


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


def test_a_rank_that_left_on_purpose_is_not_silent() -> None:
    store = MemoryStore()
    watchdog, ended = _watchdog(store)
    watchdog.check(0.0)
    store.add("heartbeat/1/left", 1)
    store.add("heartbeat/2/left", 1)
    watchdog.check(100.0)
    assert ended == []


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


def test_heartbeat_interval_is_a_tenth_of_the_timeout_within_bounds() -> None:
    assert heartbeat_interval(300.0) == 5.0
    assert heartbeat_interval(20.0) == 2.0
    assert heartbeat_interval(0.5) == 0.2
    assert issubclass(RankStalled, Exception)


def _launch(out: Path, stall_timeout_s: float) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        "--nproc-per-node=2",
        "--master-addr=127.0.0.1",
        f"--master-port={free_port()}",
        "--max-restarts=0",
        "--shutdown-timeout=5",  # how long torchrun waits before SIGKILLing the stopped rank
        str(WORKER),
        str(out),
        str(stall_timeout_s),
    ]
    return subprocess.Popen(
        command,
        env=loopback_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _wait_for_stop(out: Path, process: subprocess.Popen[str], deadline: float) -> float:
    while not (out / "stopping").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            returncode, output = finish(process, deadline)
            pytest.fail(f"rank 1 never stopped itself (exit {returncode}):\n{output}")
        time.sleep(0.05)
    return time.monotonic()


def _gone_within(pid: int, seconds: float) -> float:
    """Seconds until process ``pid`` has ended (fails after ``seconds``)."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return time.monotonic() - start
        time.sleep(0.1)
    pytest.fail(f"process {pid} was still running after {seconds} s")


def _end_frozen_rank(out: Path) -> None:
    """torchrun would SIGKILL the stopped rank 30 s after rank 0 failed; do it now."""
    os.kill(int((out / "pid-rank1").read_text()), signal.SIGKILL)


@pytest.mark.slow
def test_a_stopped_rank_ends_the_job_after_the_stall_timeout(tmp_path: Path) -> None:
    process = _launch(tmp_path, stall_timeout_s=4.0)
    _wait_for_stop(tmp_path, process, time.monotonic() + 120)
    rank0_ended_after = _gone_within(int((tmp_path / "pid-rank0").read_text()), 40)
    _end_frozen_rank(tmp_path)
    returncode, output = finish(process, time.monotonic() + 90)
    assert returncode != 0
    assert "rank 1 of 2 has sent no heartbeat for" in output, output
    assert 4 <= rank0_ended_after < 40, output


@pytest.mark.slow
def test_sigterm_ends_a_rank_blocked_by_a_stopped_peer_within_seconds(tmp_path: Path) -> None:
    process = _launch(tmp_path, stall_timeout_s=600.0)
    _wait_for_stop(tmp_path, process, time.monotonic() + 120)
    time.sleep(2.0)  # rank 0 is now blocked in the step's all-reduce, waiting for rank 1
    rank0 = int((tmp_path / "pid-rank0").read_text())
    os.kill(rank0, signal.SIGTERM)  # a worker of the torchrun started above
    rank0_ended_after = _gone_within(rank0, 40)
    _end_frozen_rank(tmp_path)
    returncode, output = finish(process, time.monotonic() + 90)
    assert returncode != 0
    assert "SIGTERM received while rank 1 of 2 is silent" in output, output
    assert "exitcode  : 143" in output  # 128 + SIGTERM
    assert rank0_ended_after < 20, output


def test_stopping_the_watchdog_does_not_wait_for_its_next_heartbeat() -> None:
    watchdog = Watchdog(MemoryStore(), 0, 2, 300.0)  # a heartbeat every 5 s
    watchdog.start()
    started = time.monotonic()
    watchdog.stop()
    assert time.monotonic() - started < 2.0  # every rank's exit waited up to 5 s for it
    assert watchdog.store.values["heartbeat/0/left"] == 1
