"""Resuming on another number of processes (issue 16 item 3): a run checkpointed in the
middle of an epoch by 2 processes resumes on 1 and on 3, and runs checkpointed by 1 and by 3
resume on 2; under ``ddp`` (one file, or ``checkpoint_format="sharded"``: a folder every
rank writes) and ``fsdp`` (sharded folders). The weights it starts from are the checkpoint's,
it continues from the saved step with the saved optimizer state, and the interrupted epoch's
samples are each trained on exactly once across the interruption (the same global order
continues, split across the new processes); the next epoch is whole. On the same number of
processes the resumed run repeats the uninterrupted one bit-exactly.

Real ``torchrun`` launches (gloo, CPU, loopback), each bounded in time.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hookwise import sharded
from torchrun_kit import HERE, finish, start

pytestmark = pytest.mark.slow

WORKER = HERE / "reshard_worker.py"
LAUNCH_TIMEOUT_S = 180  # for all the launches of one test together
SIZE, BATCH = 24, 2  # reshard_worker's data: 24 samples, batches of 2 per process


def _launch(nproc: int, *args: str, strategy: str = "ddp", fmt: str = "full") -> Any:
    env = {"HOOKWISE_TEST_STRATEGY": strategy, "HOOKWISE_TEST_CHECKPOINT_FORMAT": fmt}
    return start([str(WORKER), *args], nproc, env=env)


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


def _check_sharded_folder(folder: Path, world: int) -> None:
    """A complete sharded checkpoint: every rank's part, DCP's metadata, hookwise.pt with
    every rank's RNG states; no partial save left next to it."""
    names = sorted(p.name for p in folder.iterdir())
    assert names == [".metadata", *(f"__{r}_0.distcp" for r in range(world)), "hookwise.pt"]
    meta = sharded.load_meta(folder)
    assert meta["sharded"]["world_size"] == world and len(meta["rng_per_rank"]) == world
    assert "manifest" in meta and "plugins" in meta and "data_position" in meta
    assert not list(folder.parent.glob(".*.partial"))


def _check_bit_exact(twin: list[dict[str, Any]], resumed: list[dict[str, Any]], step: int) -> None:
    """The run resumed on as many processes repeats the uninterrupted twin from ``step`` on:
    the same batches with the same losses, and the same final weights."""
    for mine, theirs in zip(resumed, twin, strict=True):
        assert mine["batches"] == [b for b in theirs["batches"] if b["step"] >= step]
        assert mine["final_weights"] == theirs["final_weights"]


@pytest.mark.parametrize(
    ("strategy", "fmt", "worlds"),
    [("ddp", "full", (1, 3)), ("fsdp", "full", (1, 3)), ("ddp", "sharded", (1, 2, 3))],
    ids=["ddp", "fsdp", "ddp-sharded"],
)
def test_two_processes_resume_on_one_and_on_three(
    tmp_path: Path, strategy: str, fmt: str, worlds: tuple[int, ...]
) -> None:
    """Under ``fsdp`` (and ``ddp`` with ``checkpoint_format="sharded"``) the checkpoint is a
    sharded folder: its model and optimizer states are resharded over 3 processes, and loaded
    whole by 1 (FSDP is not applied there). With 2 in ``worlds`` the save launch also runs the
    uninterrupted twin, which the resume on 2 must repeat bit-exactly."""
    deadline = time.monotonic() + LAUNCH_TIMEOUT_S
    twin = ("twin",) if 2 in worlds else ()
    # 2 processes: 6 steps an epoch; step 9 is batch 3 of epoch 1 (12 of its 24 samples done)
    _done(_launch(2, "save", str(tmp_path), "9", *twin, strategy=strategy, fmt=fmt), deadline)
    folder = strategy == "fsdp" or fmt == "sharded"
    assert (tmp_path / "mid.ckpt").is_dir() is folder
    if folder:
        _check_sharded_folder(tmp_path / "mid.ckpt", 2)
    saved = _reports(tmp_path, "save", 2)
    assert [b["step"] for b in saved[0]["batches"]][-1] == 8  # the last batch started at step 8
    launches = [_launch(n, "resume", str(tmp_path), strategy=strategy, fmt=fmt) for n in worlds]
    outputs = dict(zip(worlds, (_done(p, deadline) for p in launches), strict=True))
    # 1 process: 12 samples left = 6 steps, then 12 steps; 2: 3 steps, then 6; 3: 2, then 4
    steps = {1: 9 + 6 + 12, 2: 9 + 3 + 6, 3: 9 + 2 + 4}
    for world, output in outputs.items():
        _check_resume(saved, _reports(tmp_path, "resume", world), step=9, steps=steps[world])
        if world != 2:
            assert f"checkpoint was saved by 2, this run has {world}" in output, output
            assert "epoch 1 continues in the same order after the 12 samples" in output
    if twin:
        _check_bit_exact(_reports(tmp_path, "twin", 2), _reports(tmp_path, "resume", 2), 9)
    # under fsdp, 2 and 3 processes train sharded (DTensor parameters); 1 the plain module
    for world, reports in ((2, saved), *((n, _reports(tmp_path, "resume", n)) for n in worlds)):
        assert all(r["sharded"] is (strategy == "fsdp" and world > 1) for r in reports), world


@pytest.mark.parametrize(
    ("strategy", "saved_by", "step", "done", "steps"),
    [
        # 1 process: 12 steps an epoch; step 17 is batch 5 of epoch 1 (10 samples done); on
        # 2: 14 left, 7 per process = 4 steps (the last of one sample), then 6 steps
        ("ddp", 1, 17, 10, 17 + 4 + 6),
        ("fsdp", 1, 17, 10, 17 + 4 + 6),
        # 3 processes: 4 steps an epoch; step 6 is batch 2 of epoch 1 (12 samples done); on
        # 2: 12 left = 3 steps, then 6 steps
        ("fsdp", 3, 6, 12, 6 + 3 + 6),
    ],
    ids=["ddp-from-1", "fsdp-from-1", "fsdp-from-3"],
)
def test_resume_on_two_from_one_and_from_three(
    tmp_path: Path, strategy: str, saved_by: int, step: int, done: int, steps: int
) -> None:
    """Under ``fsdp`` one process writes one file (it runs unsharded), which 2 processes load
    into their shards; 3 processes write a sharded folder, which DCP reshards over 2."""
    deadline = time.monotonic() + LAUNCH_TIMEOUT_S
    _done(_launch(saved_by, "save", str(tmp_path), str(step), strategy=strategy), deadline)
    assert (tmp_path / "mid.ckpt").is_dir() is (strategy == "fsdp" and saved_by > 1)
    output = _done(_launch(2, "resume", str(tmp_path), strategy=strategy), deadline)
    resumed = _reports(tmp_path, "resume", 2)
    _check_resume(_reports(tmp_path, "save", saved_by), resumed, step, steps)
    assert f"checkpoint was saved by {saved_by}, this run has 2" in output, output
    assert f"epoch 1 continues in the same order after the {done} samples" in output, output
    assert all(r["sharded"] is (strategy == "fsdp") for r in resumed)
