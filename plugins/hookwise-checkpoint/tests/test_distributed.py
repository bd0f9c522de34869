"""The checkpoint plugin with two ranks on the CPU (gloo), launched by torchrun as real
subprocesses on the loopback interface: rank 0 writes, every rank waits for the file, the
ranks agree on the best checkpoint, and a DDP run resumed mid-epoch equals the uninterrupted
one (with a model without dropout: each rank's own RNG state is not in the checkpoint)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hookwise.testing import run_torchrun

# the module's tests read one launch (a module fixture): --dist loadgroup keeps them together
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("checkpoint-torchrun")]

WORKER = Path(__file__).with_name("dist_checkpoint_worker.py")
TIMEOUT_S = 300


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("torchrun")
    output = run_torchrun([WORKER, out], nproc=2, timeout=TIMEOUT_S).stdout
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
