"""The checkpoint plugin with two ranks on the CPU (gloo), launched by torchrun as real
subprocesses on the loopback interface: rank 0 writes, every rank waits for the file, the
ranks agree on the best checkpoint, and a DDP run resumed mid-epoch equals the uninterrupted
one (with a model without dropout: each rank's own RNG state is not in the checkpoint)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# the module's tests read one launch (a module fixture): --dist loadgroup keeps them together
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("checkpoint-torchrun")]

WORKER = Path(__file__).with_name("dist_checkpoint_worker.py")
TIMEOUT_S = 300


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("torchrun")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(
        MASTER_ADDR="127.0.0.1",
        GLOO_SOCKET_IFNAME="lo",
        OMP_NUM_THREADS="1",
        PYTHONFAULTHANDLER="1",
    )
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        "--nproc-per-node=2",
        "--master-addr=127.0.0.1",
        f"--master-port={_free_port()}",
        "--max-restarts=0",
        str(WORKER),
        str(out),
    ]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"torchrun did not end within {TIMEOUT_S}s (a hang); output:\n{output}")
    if process.returncode != 0:
        pytest.fail(f"torchrun exited with {process.returncode}; output:\n{output}")
    found = []
    for rank in range(2):
        path = out / f"rank{rank}.json"
        if not path.exists():
            pytest.fail(f"rank {rank} wrote no report; output:\n{output}")
        found.append(json.loads(path.read_text()))
    return found


def test_every_rank_reads_the_checkpoint_just_saved(reports: list[dict[str, Any]]) -> None:
    for report in reports:
        assert report["world"] == 2
        assert report["steps"] == 9  # 24 samples, 2 ranks, batches of 4: 3 steps an epoch
        # right after each save, every rank reads last.ckpt and finds that very step
        assert report["seen"] == [[2, 2], [4, 4], [6, 6], [8, 8]]


def test_ranks_agree_on_the_files_and_the_best(reports: list[dict[str, Any]]) -> None:
    rank0, rank1 = reports
    assert rank0["best"] == rank1["best"] and len(rank0["best"]) == 1
    best = rank0["best"][0][1]
    assert best.startswith("best-epoch=")
    expected = ["epoch=1-step=6.ckpt", "epoch=2-step=8.ckpt", "last.ckpt", best, "best.ckpt"]
    assert rank0["files"] == rank1["files"] == sorted(expected)


def test_resumed_ddp_run_equals_the_uninterrupted_one(reports: list[dict[str, Any]]) -> None:
    for report in reports:
        assert report["resumed_equal"]
