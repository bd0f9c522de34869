"""Launching ``torchrun`` from the tests: loopback only, bounded in time (the launch helpers
are hookwise.testing's: ``free_port``, ``torchrun_command``, ``loopback_env``).

Every launch runs ``python -m torch.distributed.run`` with ``MASTER_ADDR=127.0.0.1``,
``GLOO_SOCKET_IFNAME=lo`` and ``OMP_NUM_THREADS=1``, in a session of its own, so that a hang
is killed together with everything it started and fails the test with the output so far.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hookwise.testing import free_port, tiny_job, torchrun_command
from hookwise.testing._launch import loopback_env

HERE = Path(__file__).resolve().parent
WORKER = HERE / "dist_worker.py"

#: A tiny ``hookwise fit`` job whose targets live in ``dist_worker.py`` (``PYTHONPATH=HERE``).
CLI_CONFIG = tiny_job(
    "dist_worker:CliModel",
    train={"target": "dist_worker:cli_loader", "split": "train"},
    val={"target": "dist_worker:cli_loader", "split": "val"},
    test={"target": "dist_worker:cli_loader", "split": "test"},
    seed=3,
    num_threads=1,
)


def start(
    args: list[str], nproc: int, *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start a launch; stdout and stderr together, as text."""
    return subprocess.Popen(
        torchrun_command(args, nproc),
        cwd=cwd,
        env=loopback_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def finish(process: subprocess.Popen[str], deadline: float) -> tuple[int, str]:
    """Wait for ``process`` until ``deadline`` (``time.monotonic()``); on a hang kill its
    session and fail the test."""
    try:
        output, _ = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"torchrun did not end in time (a hang); output:\n{output}")
    return process.returncode, output


def wait_for(path: Path, process: subprocess.Popen[str], deadline: float) -> dict[str, Any]:
    """The JSON a worker writes to ``path``, once it appears."""
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            returncode, output = finish(process, deadline)
            pytest.fail(f"{path.name} never appeared (exit {returncode}); output:\n{output}")
        time.sleep(0.05)
    time.sleep(0.05)  # the writer has finished the (tiny) file
    data: dict[str, Any] = json.loads(path.read_text())
    return data


__all__ = [
    "CLI_CONFIG",
    "HERE",
    "WORKER",
    "finish",
    "free_port",
    "loopback_env",
    "start",
    "torchrun_command",
    "wait_for",
]
