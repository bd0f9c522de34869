"""Resuming on another number of processes (issue 16 item 3, DDP): a run checkpointed in the
middle of an epoch by 2 processes resumes on 1 and on 3, and one checkpointed by 1 resumes on
2. The weights it starts from are the checkpoint's, it continues from the saved step, and the
interrupted epoch's samples are each trained on exactly once across the interruption (the
same global order continues, split across the new processes); the next epoch is whole.

Real ``torchrun`` launches (gloo, CPU, loopback), each bounded in time.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from torchrun_kit import HERE, finish, start

pytestmark = pytest.mark.slow

WORKER = HERE / "reshard_worker.py"
LAUNCH_TIMEOUT_S = 120
SIZE, BATCH = 24, 2  # reshard_worker's data: 24 samples, batches of 2 per process


def _launch(nproc: int, *args: str, strategy: str = "ddp") -> Any:
    return start([str(WORKER), *args], nproc, env={"HOOKWISE_TEST_STRATEGY": strategy})


def _done(process: Any, deadline: float) -> str:
    returncode, output = finish(process, deadline)
    assert returncode == 0, output
    return output


def _reports(out: Path, mode: str, world: int) -> list[dict[str, Any]]:
    return [json.loads((out / f"{mode}-w{world}-rank{r}.json").read_text()) for r in range(world)]


def _indices(reports: list[dict[str, Any]], epoch: int) -> Counter[int]:
    return Counter(
        i for r in reports for b in r["batches"] if b["epoch"] == epoch for i in b["idx"]
    )


def _check_resume(
    saved: list[dict[str, Any]], resumed: list[dict[str, Any]], step: int, steps: int
) -> None:
    world = len(resumed)
    # the interrupted epoch: what the saved run trained on plus what the resumed run trained
    # on is every sample exactly once
    seen = _indices(saved, 1) + _indices(resumed, 1)
    assert seen == Counter(range(SIZE)), seen
    assert _indices(saved, 1) and _indices(resumed, 1)  # the interruption is inside the epoch
    # the next epoch, in the new world's own order: every sample once
    assert _indices(resumed, 2) == Counter(range(SIZE))
    for report in resumed:
        assert report["starts_from_checkpoint"] is True
        first = report["batches"][0]
        assert (first["epoch"], first["step"]) == (1, step)  # continues from the saved step
        assert report["global_step"] == steps
        # the optimizer's state (SGD momentum) continues as saved
        assert report["first_momentum"] == saved[0]["saved_momentum"]
        assert all(saved[0]["saved_momentum"])
        assert all(b["loss"] == b["loss"] for b in report["batches"])  # finite (not NaN)
    assert {r["world"] for r in resumed} == {world}


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_processes_resume_on_one_and_on_three(tmp_path: Path, strategy: str) -> None:
    """Under ``fsdp`` the checkpoint is a sharded folder: its model and optimizer states are
    resharded over 3 processes, and loaded unsharded by 1 (FSDP is not applied there)."""
    deadline = time.monotonic() + LAUNCH_TIMEOUT_S
    # 2 processes: 6 steps an epoch; step 9 is batch 3 of epoch 1 (12 of its 24 samples done)
    _done(_launch(2, "save", str(tmp_path), "9", strategy=strategy), deadline)
    assert (tmp_path / "mid.ckpt").is_dir() is (strategy == "fsdp")
    saved = _reports(tmp_path, "save", 2)
    assert [b["step"] for b in saved[0]["batches"]][-1] == 8  # the last batch started at step 8
    one, three = (_launch(n, "resume", str(tmp_path), strategy=strategy) for n in (1, 3))
    outputs = [_done(one, deadline), _done(three, deadline)]
    # 1 process: 12 samples left = 6 steps, then 12 steps; 3 processes: 2 steps, then 4
    _check_resume(saved, _reports(tmp_path, "resume", 1), step=9, steps=9 + 6 + 12)
    _check_resume(saved, _reports(tmp_path, "resume", 3), step=9, steps=9 + 2 + 4)
    for output, world in zip(outputs, (1, 3), strict=True):
        assert f"checkpoint was saved by 2, this run has {world}" in output, output
        assert "epoch 1 continues in the same order after the 12 samples" in output
    # under fsdp, 2 and 3 processes train sharded (DTensor parameters); 1 the plain module
    for world, reports in ((2, saved), *((n, _reports(tmp_path, "resume", n)) for n in (1, 3))):
        assert all(r["sharded"] is (strategy == "fsdp" and world > 1) for r in reports), world


def test_one_process_resumes_on_two(tmp_path: Path) -> None:
    deadline = time.monotonic() + LAUNCH_TIMEOUT_S
    # 1 process: 12 steps an epoch; step 17 is batch 5 of epoch 1 (10 samples done)
    _done(_launch(1, "save", str(tmp_path), "17"), deadline)
    output = _done(_launch(2, "resume", str(tmp_path)), deadline)
    # 14 samples left: 7 per process = 4 steps (the last of one sample), then 6 steps
    _check_resume(_reports(tmp_path, "save", 1), _reports(tmp_path, "resume", 2), 17, 17 + 4 + 6)
    assert "checkpoint was saved by 1, this run has 2" in output, output
