"""Where a fit is, and the seeding that makes its data order depend on nothing else.

The position (:class:`Position`) is what a checkpoint records to continue a fit as if it had
never stopped. Each data loader gets generators seeded from (seed, epoch) (:func:`seed_loader`),
so evaluation passes never shift the training order and a resumed run sees the same batches.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from hookwise.trainer.data_order import EpochOrder, no_order_state


@dataclass(slots=True)
class Position:
    """Where a fit is.

    ``epoch`` and ``global_step`` are vis4d's; ``batch_in_epoch`` counts the batches done in
    the epoch; ``epoch_complete`` says the epoch's end hooks ran (a resume starts the next
    epoch); ``epoch_schedulers_stepped`` says the per-epoch schedulers stepped for it (a
    checkpoint taken in ``on_train_epoch_end`` comes before that step; resuming from it makes
    the step); ``resume_batch`` is the batch the next epoch starts from after a resume;
    ``window_batches`` counts the batches accumulated since the last optimizer step (0 at an
    optimizer-step boundary; see ``accumulate_grad_batches``).

    ``world_size`` is the number of processes training; ``order`` the current epoch's data
    order (``None`` before its first batch), which checkpoints record so that a resume on
    another number of processes continues it (see :mod:`~hookwise.trainer.data_order`);
    ``resumed`` is a restored checkpoint's ``data_position`` until the resumed epoch's order
    is set (a checkpoint taken before then records it again), ``continuation`` the same when
    the resumed epoch continues on another number of processes.
    """

    epoch: int = 0
    global_step: int = 0
    batch_in_epoch: int = 0
    epoch_complete: bool = False
    epoch_schedulers_stepped: bool = True
    resume_batch: int = 0
    window_batches: int = 0
    world_size: int = 1
    order: EpochOrder | None = None
    resumed: dict[str, Any] | None = None
    continuation: dict[str, Any] | None = None

    def state(self) -> dict[str, Any]:
        """The position's checkpoint entries."""
        return {
            "epoch": self.epoch,
            "global_step": self.global_step,
            "batch_in_epoch": self.batch_in_epoch,
            "epoch_complete": self.epoch_complete,
            "epoch_schedulers_stepped": self.epoch_schedulers_stepped,
            "window_batches": self.window_batches,
            "data_position": self.data_position(),
        }

    def data_position(self) -> dict[str, Any]:
        """Where the epoch's data order is (the checkpoint's ``data_position`` entry)."""
        if self.order is not None:
            return self.order.state(self.batch_in_epoch)
        if self.resumed is not None:
            return dict(self.resumed)
        return no_order_state(self.world_size, known=self.batch_in_epoch == 0)

    def restore(self, data: Mapping[str, Any]) -> bool:
        """Continue from a checkpoint's position; return whether the saved epoch's schedulers
        still have to step (the checkpoint was taken before they did)."""
        self.global_step = int(data["global_step"])
        self.window_batches = 0
        self.order = self.resumed = self.continuation = None
        if data.get("epoch_complete", True):
            self.epoch = int(data["epoch"]) + 1
            self.resume_batch = 0
            return not data.get("epoch_schedulers_stepped", True)
        self.epoch = int(data["epoch"])
        self.resume_batch = int(data.get("batch_in_epoch", 0))
        saved = data.get("data_position")
        self.resumed = dict(saved) if isinstance(saved, Mapping) else None
        self.window_batches = int(data.get("window_batches", 0))
        return False


# -- seeding ----------------------------------------------------------------------------------


def derive_seed(seed: int, *parts: int) -> int:
    """A 63-bit seed mixed from ``seed`` and ``parts`` (a 64-bit linear congruential step per
    part), so each (seed, epoch, role) has its own stream."""
    value = seed & 0xFFFFFFFFFFFFFFFF
    for part in parts:
        value = (value * 6364136223846793005 + 1442695040888963407 + part) & 0xFFFFFFFFFFFFFFFF
    return value & 0x7FFFFFFFFFFFFFFF


def seed_loader(loader: DataLoader[Any], seed: int, epoch: int, rank: int = 0) -> None:
    """Give the loader generators seeded from (seed, epoch), so data order depends on
    nothing else (evaluation passes never shift the training order).

    The loader's own generator, which draws the base seed of its worker processes, also
    depends on ``rank``: the workers of different ranks get different seeds (random
    augmentations differ across ranks), while each rank's are the same in every run with the
    same seed. Rank 0's seeds are those of a one-process run.
    """
    sampler = loader.sampler
    if isinstance(sampler, DistributedSampler):
        sampler.set_epoch(epoch)
    elif isinstance(sampler, RandomSampler):
        generator = torch.Generator()
        generator.manual_seed(derive_seed(seed, epoch, 1))
        sampler.generator = generator
    loader_generator = torch.Generator()
    parts = (epoch, 2) if rank == 0 else (epoch, 2, rank)
    loader_generator.manual_seed(derive_seed(seed, *parts))
    loader.generator = loader_generator


def seed_everything(seed: int) -> None:
    """Seed torch, Python's ``random`` and numpy (when it is imported).

    ``Trainer(seed=N)`` seeds again at fit start (dropout, the data order); call this with the
    same seed before building the model, so its initial weights follow the seed too and the
    same script gives the same run. ``hookwise fit`` does both.
    """
    torch.manual_seed(seed)
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed % 2**32)
