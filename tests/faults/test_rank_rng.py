"""Every rank's RNG states in a checkpoint (resume.rng-per-rank), in one process: a save every
rank makes together gathers them (a stand-in strategy plays two ranks), a save one rank makes
alone makes no collective call, a resume picks its own rank's states or falls back to rank 0's
saying so, and the safe loader accepts the entry. ``tests/distributed/test_rank_rng.py`` proves
the bit-exact resume with two real processes."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any, TypeVar

import pytest
import torch
from faultkit import fit, make_trainer
from hookwise.checkpointing import atomic_save, capture_rng_state, load_checkpoint
from hookwise.errors import CheckpointError
from hookwise.trainer import Trainer
from hookwise.trainer.rank_rng import rng_for_rank
from hookwise.trainer.strategy import Strategy

T = TypeVar("T")


class TwoRanks(Strategy):
    """Plays ``rank`` of two processes: a gather returns this rank's object and rank 1's
    (``other``), and is counted."""

    def __init__(self, rank: int, other: Any) -> None:
        self._rank, self.other, self.gathers = rank, other, 0

    @property
    def world_size(self) -> int:
        return 2

    @property
    def rank(self) -> int:
        return self._rank

    def all_gather_object(self, obj: T) -> list[T]:
        self.gathers += 1
        return [obj, self.other]


def _states(seed: int) -> dict[str, Any]:
    torch.manual_seed(seed)
    random.seed(seed)
    return capture_rng_state()


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.fixture
def trainer(tmp_path: Path) -> Trainer:
    trainer = make_trainer(tmp_path / "run", epochs=1)
    fit(trainer)
    return trainer


@pytest.mark.fault("resume.rng-per-rank")
def test_a_save_of_every_rank_holds_each_rank_s_rng_states(
    trainer: Trainer, tmp_path: Path
) -> None:
    rank1 = _states(11)
    trainer._strategy = strategy = TwoRanks(0, rank1)
    own = capture_rng_state()
    trainer.save_checkpoint(tmp_path / "all.ckpt", all_ranks=True)
    assert strategy.gathers == 1
    data = load_checkpoint(tmp_path / "all.ckpt")
    assert len(data["rng_per_rank"]) == 2
    assert _equal(data["rng_per_rank"][0], own) and _equal(data["rng"], own)
    assert _equal(data["rng_per_rank"][1], rank1)

    # rank 1 takes part in the gather and writes nothing
    trainer._strategy = strategy = TwoRanks(1, rank1)
    assert trainer.save_checkpoint(tmp_path / "rank1.ckpt", all_ranks=True) == tmp_path / (
        "rank1.ckpt"
    )
    assert strategy.gathers == 1 and not (tmp_path / "rank1.ckpt").exists()


@pytest.mark.fault("resume.rng-per-rank")
def test_a_save_of_one_rank_makes_no_collective_call(trainer: Trainer, tmp_path: Path) -> None:
    trainer._strategy = strategy = TwoRanks(0, _states(11))
    trainer.save_checkpoint(tmp_path / "alone.ckpt")  # an error handler's save: rank 0 alone
    trainer.save_checkpoint(tmp_path / "weights.ckpt", weights_only=True, all_ranks=True)
    assert strategy.gathers == 0
    alone = load_checkpoint(tmp_path / "alone.ckpt")
    assert "rng_per_rank" not in alone and "rng" in alone
    assert "rng_per_rank" not in load_checkpoint(tmp_path / "weights.ckpt")


@pytest.mark.fault("resume.rng-per-rank")
def test_a_resume_takes_its_own_rank_s_states_or_rank_0_s_saying_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    zero, one = _states(1), _states(2)
    file = Path("run/checkpoints/last.ckpt")
    data = {"rng": zero, "rng_per_rank": [zero, one]}
    with caplog.at_level(logging.INFO, logger="hookwise"):
        assert rng_for_rank(data, file, rank=1, world_size=2) is one
        assert rng_for_rank(data, file, rank=0, world_size=2) is zero
        assert caplog.text == ""
        # another number of processes: rank 0's, with a warning from rank 0
        assert rng_for_rank(data, file, rank=2, world_size=3) is zero
        assert caplog.text == ""
        assert rng_for_rank(data, file, rank=0, world_size=3) is zero
    assert "holds the RNG states of 2 processes; this run has 3" in caplog.text
    assert "not bit-exactly (resume on 2 processes for that)" in caplog.text
    caplog.clear()
    # a file one rank wrote alone (or an older hookwise's): rank 0's, said once
    with caplog.at_level(logging.INFO, logger="hookwise"):
        assert rng_for_rank({"rng": zero}, file, rank=1, world_size=2) is zero
        assert caplog.text == ""
        assert rng_for_rank({"rng": zero}, file, rank=0, world_size=2) is zero
        assert "holds rank 0's RNG states only" in caplog.text
        caplog.clear()
        assert rng_for_rank({"rng": zero}, file, rank=0, world_size=1) is zero
        assert caplog.text == ""
    with pytest.raises(CheckpointError, match="'rng_per_rank' must be a list of RNG states"):
        rng_for_rank({"rng": zero, "rng_per_rank": [zero, 3]}, file, rank=1, world_size=2)


@pytest.mark.fault("resume.rng-per-rank")
def test_the_safe_loader_checks_rng_per_rank_and_one_process_resumes_from_two(
    trainer: Trainer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    trainer._strategy = TwoRanks(0, _states(11))
    saved = trainer.save_checkpoint(tmp_path / "two.ckpt", all_ranks=True)
    data = torch.load(saved, weights_only=True)
    data["rng_per_rank"] = {"0": data["rng"]}
    atomic_save(data, tmp_path / "bad.ckpt")
    with pytest.raises(CheckpointError, match="'rng_per_rank' is dict, not list"):
        load_checkpoint(tmp_path / "bad.ckpt")

    # one process resumes the two processes' checkpoint with rank 0's states
    resumed = make_trainer(tmp_path / "run", epochs=2)
    with caplog.at_level(logging.WARNING, logger="hookwise"):
        fit(resumed, resume_from=saved)
    assert resumed.global_step == 6
    assert "holds the RNG states of 2 processes; this run has 1" in caplog.text
