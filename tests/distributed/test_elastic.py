"""Elastic restarts: under ``torchrun --max-restarts=1``, workers restarted after a failure
join a fresh process group against the same rendezvous store (before, they read the failed
attempt's addresses and failed with "Connection refused") and continue the run from its
newest checkpoint, ending where an uninterrupted run ends (before, they began at step 0).
``hookwise fit`` does the same in the run folder of the attempt before (before, each attempt
made a new run folder and began at step 0)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torchrun_kit import CLI_CONFIG, HERE, finish, free_port, loopback_env

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


def _cli(folder: Path, runs: str, restarts: int, *plugins: str) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        "--nproc-per-node=2",
        "--master-addr=127.0.0.1",
        f"--master-port={free_port()}",
        f"--max-restarts={restarts}",
        "-m",
        "hookwise",
        "fit",
        "job.toml",
        "--output-dir",
        runs,
        *plugins,
    ]
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        command,
        cwd=folder,
        env=loopback_env({"PYTHONPATH": path}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _only_run(runs: Path) -> Path:
    folders = [p for p in runs.iterdir() if p.is_dir()]
    assert len(folders) == 1, sorted(p.name for p in folders)
    return folders[0]


def test_hookwise_fit_continues_its_run_folder_after_a_restart(tmp_path: Path) -> None:
    """``torchrun --max-restarts=1 -m hookwise fit``: rank 1 is killed at step 5 of the first
    attempt; the restarted workers continue in the first attempt's run folder from its
    step-3 checkpoint and end with the weights and test metrics of an uninterrupted run."""
    (tmp_path / "job.toml").write_text(CLI_CONFIG)
    deadline = time.monotonic() + LAUNCH_TIMEOUT_S
    kill = "elastic_worker:KillOnFirstAttempt:rank=1,step=5"
    restarted = _cli(tmp_path, "runs", 1, "-p", kill)
    twin = _cli(tmp_path, "twin", 0)
    returncode, output = finish(restarted, deadline)
    assert returncode == 0, output
    assert "rank 1 kills itself at step 5" in output  # the first attempt was cut short
    assert "the run continues in the run folder of the attempt before" in output
    twin_code, twin_output = finish(twin, deadline)
    assert twin_code == 0, twin_output
    folder, twin_folder = _only_run(tmp_path / "runs"), _only_run(tmp_path / "twin")
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "finished"
    assert Path(info["resumed_from"]).parent == folder / "checkpoints"  # the restart resumed
    assert re.search(r"Resumed from \S+: epoch 1, batch 0, step 3", output), output
    assert (folder / "metrics.csv").read_text() == (twin_folder / "metrics.csv").read_text()
    last = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)
    twin_last = torch.load(twin_folder / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == twin_last["global_step"] == 6
    for key, value in twin_last["model"].items():
        assert torch.equal(last["model"][key], value), key
    printed = re.findall(r"test/accuracy/top1\s+([0-9.]+)", output)
    assert printed and printed == re.findall(r"test/accuracy/top1\s+([0-9.]+)", twin_output)
