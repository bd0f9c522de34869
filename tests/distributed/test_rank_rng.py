"""Per-rank randomness resumes bit-exactly (issue 16 item 4; fault scenario
``resume.rng-per-rank``): two ranks on the CPU (gloo), launched by torchrun, each drawing its
own random numbers (dropout, Python's ``random``, NumPy), checkpointed by the checkpoint plugin
at step 3, stopped at step 5 and resumed, end with the weights and RNG states of an
uninterrupted run on every rank. Before, a checkpoint held rank 0's RNG states only and a resume
gave them to every rank, so rank 1's randomness, and with it the weights, went another way."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise.checkpointing import load_checkpoint
from torchrun_kit import HERE, finish, start

pytestmark = pytest.mark.slow

#: The whole launch (three short fits) must end within this time (a hang fails the test).
LAUNCH_TIMEOUT_S = 120
WORKER = HERE / "rank_rng_worker.py"


def _launch(out: Path, device: str) -> Path:
    process = start([str(WORKER), str(out), device], 2)
    returncode, output = finish(process, time.monotonic() + LAUNCH_TIMEOUT_S)
    assert returncode == 0, output
    return out


@pytest.fixture(scope="module")
def launch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _launch(tmp_path_factory.mktemp("rank-rng"), "cpu")


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = torch.load(path, weights_only=True)
    return data


def _equal(a: Any, b: Any) -> bool:
    """Bit-exact equality of nested tensors, lists, tuples, dicts and plain values."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_the_checkpoint_holds_every_rank_s_rng_states(launch: Path) -> None:
    data = load_checkpoint(launch / "run" / "checkpoints" / "epoch=0-step=3.ckpt")
    per_rank = data["rng_per_rank"]
    assert len(per_rank) == 2
    assert _equal(data["rng"], per_rank[0])  # rank 0's, as a one-process run reads it
    for generator in ("torch", "python", "numpy"):  # the ranks' randomness differs
        assert not _equal(per_rank[0][generator], per_rank[1][generator]), generator


@pytest.mark.parametrize("rank", [0, 1])
def test_a_resumed_run_ends_bit_exactly_as_the_uninterrupted_one(launch: Path, rank: int) -> None:
    _assert_resumed_equals_twin(launch, rank)


def _assert_resumed_equals_twin(launch: Path, rank: int) -> None:
    twin = _load(launch / f"twin-rank{rank}.pt")
    resumed = _load(launch / f"resumed-rank{rank}.pt")
    assert Path(resumed["resumed_from"]).name == "last.ckpt"
    assert twin["step"] == resumed["step"] == 8
    for key, weight in twin["weights"].items():
        assert torch.equal(weight, resumed["weights"][key]), f"rank {rank}: {key} differs"
    for generator, state in twin["rng"].items():
        assert _equal(state, resumed["rng"][generator]), f"rank {rank}: {generator} RNG differs"


@pytest.mark.cuda
@pytest.mark.skipif(
    torch.cuda.device_count() < 2,
    reason="needs two CUDA GPUs (NCCL needs a GPU of its own for every process)",
)
def test_the_same_on_two_gpus_with_nccl(tmp_path: Path) -> None:
    """Dropout draws from the CUDA generators there: their states are per rank too."""
    out = _launch(tmp_path, "cuda")
    data = load_checkpoint(out / "run" / "checkpoints" / "epoch=0-step=3.ckpt")
    assert [("cuda" in entry) for entry in data["rng_per_rank"]] == [True, True]
    for rank in (0, 1):
        _assert_resumed_equals_twin(out, rank)
