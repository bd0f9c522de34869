"""Two "nodes" on one machine: two torchrun agents (``--nnodes=2``, two processes each) meet
through a c10d rendezvous on the loopback interface, as agents on two machines would, and run
``dist_checkpoint_worker.py`` over four ranks: fit, validation with the ranks agreeing on the
best checkpoint, step checkpoints every rank reads back, and a resume mid-run that ends
where the uninterrupted run ends. On a real cluster only the rendezvous endpoint changes (see
docs/distributed.md)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("dist_checkpoint_worker.py")
TIMEOUT_S = 400
NODES, PER_NODE = 2, 2


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _agent(endpoint: str, out: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1", PYTHONFAULTHANDLER="1")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nnodes={NODES}",
        f"--nproc-per-node={PER_NODE}",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint={endpoint}",
        "--rdzv-id=hookwise-multinode",
        "--max-restarts=0",
        str(WORKER),
        str(out),
    ]
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("multinode")
    endpoint = f"127.0.0.1:{_free_port()}"
    agents = [_agent(endpoint, out) for _ in range(NODES)]
    deadline = time.monotonic() + TIMEOUT_S
    outputs = []
    for agent in agents:
        try:
            output, _ = agent.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for other in agents:
                os.killpg(other.pid, signal.SIGKILL)
            output, _ = agent.communicate()
            pytest.fail(f"the two-node run did not end within {TIMEOUT_S}s; output:\n{output}")
        outputs.append(output)
    for node, (agent, output) in enumerate(zip(agents, outputs, strict=True)):
        if agent.returncode != 0:
            pytest.fail(f"node {node}'s torchrun exited with {agent.returncode}:\n{output}")
    found = []
    for rank in range(NODES * PER_NODE):
        path = out / f"rank{rank}.json"
        if not path.exists():
            pytest.fail(f"rank {rank} wrote no report; outputs:\n" + "\n".join(outputs))
        found.append(json.loads(path.read_text()))
    return found


def test_four_ranks_on_two_nodes_train_together(reports: list[dict[str, Any]]) -> None:
    assert [report["rank"] for report in reports] == [0, 1, 2, 3]
    for report in reports:
        assert report["world"] == 4
        assert report["steps"] == 6  # 24 samples, 4 ranks, batches of 4: 2 steps an epoch
        # right after each save, every rank (on both nodes) reads that very step back
        assert report["seen"] == [[2, 2], [4, 4]]


def test_ranks_on_both_nodes_agree_on_the_files_and_the_best(
    reports: list[dict[str, Any]],
) -> None:
    assert all(report["best"] == reports[0]["best"] for report in reports)
    assert all(report["files"] == reports[0]["files"] for report in reports)
    assert "last.ckpt" in reports[0]["files"]


def test_resumed_two_node_run_equals_the_uninterrupted_one(
    reports: list[dict[str, Any]],
) -> None:
    assert all(report["resumed_equal"] for report in reports)
