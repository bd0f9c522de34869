"""A training epoch's data order across processes: what lets a run saved by ``W`` processes
continue on another number of processes from the sample it had reached.

Under DDP the trainer's ``DistributedSampler`` deals the epoch's global order (one
permutation drawn from the seed and the epoch) round-robin to the ranks, so after ``k``
batches of ``B`` on each of ``W`` ranks the ranks together have consumed exactly the first
``k * B * W`` samples of that order (one process: the first ``k * B``). A checkpoint records
that count, the world size and how to draw the order again (its *recipe*), as its
``data_position`` entry (:meth:`EpochOrder.state`).

A resume with the same number of processes skips batches as before (bit-exact; see
:mod:`~hookwise.trainer.skipping`). A resume in the middle of an epoch with another number
draws the same order, drops what was consumed, and deals the rest round-robin to the new
ranks (:class:`ContinuedOrderSampler`, which pads as ``DistributedSampler`` does so every
rank runs the same number of steps): every sample of the epoch is trained on once across the
interruption. The epochs after it use the new world's own order.

Only orders hookwise draws itself can be continued: a ``RandomSampler`` or
``SequentialSampler`` in one process, and a torch ``DistributedSampler`` (the trainer's, or
one the loader brought). Any other sampler, a loader with its own batch sampler, an iterable
dataset, or data split per rank by the user (``use_distributed_sampler=False``) can be resumed
on another number of processes only from a checkpoint taken at an epoch's end.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import (
    DataLoader,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
)

from hookwise.errors import CheckpointError, ConfigError
from hookwise.sharding import with_sampler

logger = logging.getLogger("hookwise")


class ContinuedOrderSampler(Sampler[int]):
    """Rank ``rank`` of ``num_replicas`` gets ``indices[rank::num_replicas]`` of ``indices``
    padded, by repeating its start, to a multiple of ``num_replicas`` (as ``DistributedSampler``
    pads), so every rank runs the same number of steps."""

    def __init__(self, indices: Sequence[int], num_replicas: int, rank: int) -> None:
        self.indices = list(indices)
        self.num_replicas = num_replicas
        self.rank = rank
        self.num_samples = math.ceil(len(self.indices) / num_replicas)

    def __iter__(self) -> Iterator[int]:
        total = self.num_samples * self.num_replicas
        padded = list(self.indices)
        while len(padded) < total:
            padded += self.indices[: total - len(padded)]
        return iter(padded[self.rank : total : self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples


@dataclass(frozen=True, slots=True)
class EpochOrder:
    """How this epoch's training samples are ordered and dealt to the ranks.

    ``recipe`` draws the epoch's global order again (``None``: hookwise cannot; ``sampler``
    then names what orders the data); ``per_rank`` samples go to each of ``world_size`` ranks
    in batches of ``batch_size``; the iteration started at batch ``first_batch`` of the epoch
    with ``offset`` samples of the order already consumed (``resharded``: a resume on another
    number of processes started it, so its batches are not the world's own batches).
    """

    recipe: dict[str, Any] | None
    sampler: str
    world_size: int
    batch_size: int | None
    per_rank: int | None
    offset: int = 0
    first_batch: int = 0
    resharded: bool = False

    def samples(self, batch_in_epoch: int) -> int | None:
        """The samples of the global order the ranks have consumed after ``batch_in_epoch``
        batches (``None``: unknown)."""
        done = batch_in_epoch - self.first_batch
        if done <= 0:
            return self.offset
        if self.batch_size is None or self.per_rank is None:
            return None
        return self.offset + self.world_size * min(done * self.batch_size, self.per_rank)

    def state(self, batch_in_epoch: int) -> dict[str, Any]:
        """The checkpoint's ``data_position`` entry after ``batch_in_epoch`` batches."""
        return {
            "world_size": self.world_size,
            "samples": self.samples(batch_in_epoch),
            "order": self.recipe,
            "resharded": self.resharded,
            "sampler": self.sampler,
        }


def no_order_state(world_size: int, *, known: bool = True) -> dict[str, Any]:
    """``data_position`` before an epoch's order is set: nothing consumed (``known``: before
    its first batch), or an unknown number (a resume of a checkpoint that recorded none)."""
    samples = 0 if known else None
    return {"world_size": world_size, "samples": samples, "order": None, "resharded": False}


def epoch_order(loader: DataLoader[Any], world_size: int) -> EpochOrder:
    """The order of an epoch of ``loader`` (as this rank iterates it, once seeded for the
    epoch) on ``world_size`` processes."""
    sampler = loader.sampler
    name = type(sampler).__name__
    per_rank = len(sampler) if hasattr(sampler, "__len__") else None  # type: ignore[arg-type]
    return EpochOrder(_recipe(loader, world_size), name, world_size, loader.batch_size, per_rank)


def _recipe(loader: DataLoader[Any], world_size: int) -> dict[str, Any] | None:
    sampler = loader.sampler
    if (
        type(loader) is not DataLoader
        or loader.batch_size is None
        or isinstance(loader.dataset, IterableDataset)
    ):
        return None
    size = len(loader.dataset)  # type: ignore[arg-type]
    if type(sampler) is DistributedSampler and sampler.num_replicas == world_size:
        return {
            "sampler": "distributed",
            "size": size,
            "shuffle": bool(sampler.shuffle),
            "seed": int(sampler.seed),
            "epoch": int(sampler.epoch),
            "total_size": int(sampler.total_size),
        }
    if world_size != 1:  # any other sampler holds one rank's part of data split per rank
        return None
    if type(sampler) is SequentialSampler:
        return {"sampler": "sequential", "size": size}
    if (
        type(sampler) is RandomSampler
        and not sampler.replacement
        and getattr(sampler, "_num_samples", None) is None
        and sampler.generator is not None
    ):
        return {"sampler": "random", "size": size, "seed": int(sampler.generator.initial_seed())}
    return None


def _int(recipe: Mapping[str, Any], key: str, file: Path) -> int:
    value = recipe.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CheckpointError(
            f"checkpoint {str(file)!r}: its data order entry {key!r} is {value!r}, not a "
            f"non-negative integer; the file is damaged or was not written by hookwise"
        )
    return value


def global_order(recipe: Mapping[str, Any], size: int, file: Path) -> list[int]:
    """The epoch's global order that ``recipe`` (from a checkpoint) describes, for a dataset
    of ``size`` samples (before any padding; truncated as a ``drop_last`` sampler does).

    :raises CheckpointError: the recipe is damaged, or the dataset's size changed.
    """
    kind = recipe.get("sampler")
    saved = _int(recipe, "size", file)
    if saved != size:
        raise CheckpointError(
            f"checkpoint {str(file)!r} was saved in the middle of an epoch over {saved} "
            f"training samples; the train dataset now has {size}, so that epoch cannot continue "
            f"on another number of processes: resume with the number it was saved with"
        )
    generator = torch.Generator()
    if kind == "sequential":
        return list(range(size))
    if kind == "random":
        generator.manual_seed(_int(recipe, "seed", file))
        return [int(i) for i in torch.randperm(size, generator=generator).tolist()]
    if kind == "distributed":
        order = list(range(size))
        if recipe.get("shuffle"):
            generator.manual_seed(_int(recipe, "seed", file) + _int(recipe, "epoch", file))
            order = [int(i) for i in torch.randperm(size, generator=generator).tolist()]
        return order[: _int(recipe, "total_size", file)]
    raise CheckpointError(
        f"checkpoint {str(file)!r}: unknown data order {kind!r}; the file is damaged or was "
        f"written by a newer hookwise"
    )


def plan_continuation(
    data: Mapping[str, Any], world_size: int, file: Path, *, rank: int
) -> dict[str, Any] | None:
    """Whether a resume of checkpoint ``data`` on ``world_size`` processes continues its open
    epoch's order on another number of processes: the saved ``data_position`` when it does,
    ``None`` when the epoch is started or resumed as usual (batches are skipped: bit-exact on
    the same number of processes). Rank 0 logs a line when the number of processes changed.

    :raises CheckpointError: the epoch cannot be continued on ``world_size`` processes (the
        message names the sampler and says what to do).
    """
    saved = data.get("data_position")
    if not isinstance(saved, Mapping):  # written before hookwise recorded it
        return None
    saved_world = _int(saved, "world_size", file)
    resharded = saved.get("resharded") is True
    if saved_world == world_size and not resharded:
        return None
    epoch = int(data.get("epoch", 0))
    samples = saved.get("samples")
    if data.get("epoch_complete", True) or (samples == 0 and not resharded):
        _log_change(saved_world, world_size, rank, f"epoch {epoch} starts in the new order")
        return None
    recipe = saved.get("order")
    if not isinstance(recipe, Mapping) or not isinstance(samples, int):
        raise CheckpointError(
            f"cannot resume {str(file)!r} on {world_size} processes: it was saved by "
            f"{saved_world} in the middle of epoch {epoch}, whose order came from the train "
            f"loader's {saved.get('sampler', 'sampler')!s}, which hookwise cannot continue on "
            f"another number of processes (it continues a RandomSampler or SequentialSampler "
            f"of one process and a torch DistributedSampler, with the loader's own batch_size). "
            f"Resume with {saved_world} processes, or from a checkpoint taken at the end of an "
            f"epoch (any number of processes continues there), or let the trainer shard a "
            f"plain DataLoader(shuffle=...) for you"
        )
    _log_change(
        saved_world,
        world_size,
        rank,
        f"epoch {epoch} continues in the same order after the {samples} samples already "
        f"trained on, split across {world_size} processes",
    )
    return dict(saved)


def _log_change(saved: int, world: int, rank: int, what: str) -> None:
    if saved == world or rank != 0:
        return
    logger.warning(
        "The number of processes changed: the checkpoint was saved by %d, this run has %d. "
        "Model and optimizer states are loaded on every process; %s. The global batch is now "
        "%d times the per-process batch (it was %d times), so the run does not repeat an "
        "uninterrupted one exactly.",
        saved,
        world,
        what,
        world,
        saved,
    )


def continue_epoch(
    loader: DataLoader[Any],
    saved: Mapping[str, Any],
    world_size: int,
    rank: int,
    start: int,
    file: Path,
) -> tuple[DataLoader[Any], EpochOrder]:
    """``loader`` for the rest of an epoch saved at ``saved`` (a checkpoint's
    ``data_position``, see :func:`plan_continuation`): this rank's part of the samples of the
    epoch's global order not yet consumed, and the order to record in later checkpoints (its
    batches count on from batch ``start``).

    :raises ConfigError: the data is split per rank by the user, or the loader cannot be
        rebuilt with another sampler.
    """
    if world_size > 1 and type(loader.sampler) is not DistributedSampler:
        raise ConfigError(
            f"cannot continue the epoch of {str(file)!r} across {world_size} processes: the "
            f"train loader's sampler is a {type(loader.sampler).__name__} on each process (the "
            f"data is split per process: use_distributed_sampler=False, or a sampler the "
            f"trainer keeps), so hookwise cannot deal the rest of the epoch's order to the "
            f"processes. Resume with {saved.get('world_size')} processes, or let the trainer "
            f"shard a plain DataLoader(shuffle=...) (use_distributed_sampler=True)"
        )
    recipe = dict(saved["order"])
    order = global_order(recipe, len(loader.dataset), file)  # type: ignore[arg-type]
    done = min(int(saved["samples"]), len(order))
    sampler = ContinuedOrderSampler(order[done:], world_size, rank)
    continued = with_sampler(loader, sampler, "train")
    return continued, EpochOrder(
        recipe,
        str(saved.get("sampler", type(loader.sampler).__name__)),
        world_size,
        loader.batch_size,
        len(sampler),
        offset=done,
        first_batch=start,
        resharded=True,
    )


__all__ = [
    "ContinuedOrderSampler",
    "EpochOrder",
    "continue_epoch",
    "epoch_order",
    "global_order",
    "no_order_state",
    "plan_continuation",
]
