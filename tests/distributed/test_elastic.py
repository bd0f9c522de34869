"""Elastic restarts: under ``torchrun --max-restarts=1``, workers restarted after a failure
join a fresh process group against the same rendezvous store (before, they read the failed
attempt's addresses and failed with "Connection refused") and continue the run from its
newest checkpoint, ending where an uninterrupted run ends (before, they began at step 0)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from torchrun_kit import HERE, finish, free_port, loopback_env

pytestmark = pytest.mark.slow

LAUNCH_TIMEOUT_S = 240


def test_restarted_workers_join_a_fresh_group_and_finish(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        "--nproc-per-node=2",
        "--master-addr=127.0.0.1",
        f"--master-port={free_port()}",
        "--max-restarts=1",
        str(HERE / "elastic_worker.py"),
        str(tmp_path),
    ]
    process = subprocess.Popen(
        command,
        env=loopback_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    returncode, output = finish(process, time.monotonic() + LAUNCH_TIMEOUT_S)
    assert "rank 1 fails on the first attempt" in output  # the first attempt did fail
    assert "Connection refused" not in output
    assert returncode == 0, output
    for rank in (0, 1):
        report = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert report == {
            "attempt": 1,
            "world": 2,
            "steps": 8,  # 32 samples, 2 ranks, batches of 4: 4 steps an epoch, 2 epochs
            "resumed_from": "last.ckpt",  # step 4, the newest complete checkpoint
            "equal": True,
        }
