"""A frozen rank ends the job in bounded time (issue: a stopped rank left the other blocked in
a collective for 30 minutes, deaf to SIGTERM and Ctrl-C).

These torchrun tests stop rank 1 with SIGSTOP mid-run and check that rank 0 ends with an error
naming rank 1, after ``dist_stall_timeout`` or at once on SIGTERM. The watchdog's decisions over
an in-memory store with a controlled clock are tested in ``tests/faults/test_frozen_rank.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from torchrun_kit import HERE, finish, free_port, loopback_env

WORKER = HERE / "stall_worker.py"


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
