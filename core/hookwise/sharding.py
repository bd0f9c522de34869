"""Sharding data loaders across ranks: training shards that pad as ``DistributedSampler``
does, evaluation shards that see every sample exactly once.

The trainer calls these itself under ``torchrun``; they are public (through
:mod:`hookwise.distributed`) for loaders a plugin or a user builds.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Iterator, Sized
from typing import Any

from torch.utils.data import (
    DataLoader,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
)

from hookwise.errors import ConfigError
from hookwise.ranks import get_rank, get_world_size

logger = logging.getLogger("hookwise")


class DistributedEvalSampler(Sampler[int]):
    """Shards a dataset for evaluation without padding or repeating samples.

    Rank ``r`` of ``W`` gets indices ``r, r + W, r + 2W, ...`` in order, so the ranks together
    see every sample exactly once: counts gathered from every rank equal one process's counts.
    (``DistributedSampler`` pads the last shard with repeated samples so that every rank has
    the same length, which makes gathered evaluation counts too large.) Ranks may get one
    sample more or less than each other, so nothing may run a collective call per batch during
    evaluation; the trainer's evaluation forward pass bypasses ``DistributedDataParallel``.

    :param data_source: the dataset (anything with a length).
    :param num_replicas: the number of ranks (default: the world size).
    :param rank: this rank (default: the current rank).
    """

    def __init__(
        self, data_source: Sized, num_replicas: int | None = None, rank: int | None = None
    ) -> None:
        self.data_source = data_source
        self.num_replicas = get_world_size() if num_replicas is None else num_replicas
        self.rank = get_rank() if rank is None else rank
        if self.num_replicas < 1 or not 0 <= self.rank < self.num_replicas:
            raise ConfigError(
                f"DistributedEvalSampler: rank {self.rank} is not in [0, {self.num_replicas})"
            )

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, len(self.data_source), self.num_replicas))

    def __len__(self) -> int:
        return max(0, math.ceil((len(self.data_source) - self.rank) / self.num_replicas))


def with_sampler(loader: DataLoader[Any], sampler: Sampler[int], role: str) -> DataLoader[Any]:
    """The same loader (dataset, batch size, collate_fn, workers, ...) with another sampler
    (``role``: the loader's name in the errors, ``"train"`` or ``"evaluation"``).

    :raises ConfigError: ``loader`` is a subclass or has its own batch sampler (the trainer
        cannot rebuild it; the message says what to do).
    """
    fix = (
        f"give the {role} loader a DistributedSampler (or hookwise.distributed."
        f"DistributedEvalSampler for evaluation) yourself, or shard the data per rank and pass "
        f"use_distributed_sampler=False"
    )
    if type(loader) is not DataLoader:
        raise ConfigError(
            f"the {role} loader is a {type(loader).__name__}, a DataLoader subclass the trainer "
            f"cannot rebuild with a distributed sampler; {fix}"
        )
    if loader.batch_size is None:
        raise ConfigError(
            f"the {role} loader uses its own batch_sampler "
            f"({type(loader.batch_sampler).__name__}), which the trainer cannot shard across "
            f"ranks; {fix}"
        )
    candidates: dict[str, Any] = {
        "batch_size": loader.batch_size,
        "sampler": sampler,
        "num_workers": loader.num_workers,
        "collate_fn": loader.collate_fn,
        "pin_memory": loader.pin_memory,
        "drop_last": loader.drop_last,
        "timeout": loader.timeout,
        "worker_init_fn": loader.worker_init_fn,
        "multiprocessing_context": loader.multiprocessing_context,
        "generator": loader.generator,
        "persistent_workers": loader.persistent_workers,
        "pin_memory_device": getattr(loader, "pin_memory_device", ""),
        "in_order": getattr(loader, "in_order", True),
    }
    if loader.num_workers > 0:
        candidates["prefetch_factor"] = loader.prefetch_factor
    accepted = inspect.signature(DataLoader.__init__).parameters
    kwargs = {k: v for k, v in candidates.items() if k in accepted}
    return DataLoader(loader.dataset, **kwargs)


def _is_sharded(loader: DataLoader[Any]) -> bool:
    return isinstance(loader.sampler, (DistributedSampler, DistributedEvalSampler)) or isinstance(
        loader.dataset, IterableDataset
    )


def shard_train_loader(
    loader: DataLoader[Any], *, seed: int, num_replicas: int, rank: int
) -> DataLoader[Any]:
    """``loader`` rebuilt with a ``DistributedSampler`` (seeded with ``seed``; the trainer
    calls ``set_epoch`` every epoch, so the order depends only on the seed and the epoch).

    A loader that already has a ``DistributedSampler`` or an iterable dataset (which must
    shard itself, e.g. by :func:`get_rank`) is returned as it is. A ``RandomSampler`` becomes
    a shuffling ``DistributedSampler``, a ``SequentialSampler`` a non-shuffling one. The last
    shard is padded with repeated samples, as ``DistributedSampler`` does, so that every rank
    runs the same number of steps.

    :raises ConfigError: the sampler or loader cannot be sharded (the message says what to do).
    """
    if isinstance(loader.dataset, IterableDataset) and not isinstance(
        loader.sampler, DistributedSampler
    ):
        logger.warning(
            "the train loader's dataset is an IterableDataset, which the trainer cannot shard; "
            "it must yield a different part of the data on each rank (hookwise.distributed."
            "get_rank() / get_world_size())"
        )
    if _is_sharded(loader):
        return loader
    sampler = loader.sampler
    if isinstance(sampler, RandomSampler):
        if sampler.replacement or getattr(sampler, "_num_samples", None) is not None:
            raise ConfigError(
                "the train loader's RandomSampler draws with replacement or a custom "
                "num_samples, which DistributedSampler cannot reproduce; give the loader a "
                "sampler that shards by rank, or pass use_distributed_sampler=False"
            )
        shuffle = True
    elif isinstance(sampler, SequentialSampler):
        shuffle = False
    else:
        raise ConfigError(
            f"the train loader's sampler is a {type(sampler).__name__}, which the trainer cannot "
            f"shard across {num_replicas} ranks; give the loader a DistributedSampler (or a "
            f"sampler that yields this rank's part), or pass use_distributed_sampler=False"
        )
    distributed: DistributedSampler[Any] = DistributedSampler(
        loader.dataset,
        num_replicas=num_replicas,
        rank=rank,
        shuffle=shuffle,
        seed=seed,
    )
    return with_sampler(loader, distributed, "train")


def shard_eval_loader(loader: DataLoader[Any], *, num_replicas: int, rank: int) -> DataLoader[Any]:
    """``loader`` rebuilt with a :class:`DistributedEvalSampler` (no padding, no repeats).

    A loader that already has a ``DistributedSampler`` or ``DistributedEvalSampler``, or an
    iterable dataset, is returned as it is (a ``DistributedSampler`` pads: gathered counts then
    include repeated samples).

    :raises ConfigError: the sampler or loader cannot be sharded (the message says what to do).
    """
    if isinstance(loader.sampler, DistributedSampler):
        logger.info(
            "an evaluation loader has a DistributedSampler, which repeats samples to pad the "
            "last shard: gathered metrics count them twice. hookwise.distributed."
            "DistributedEvalSampler shards without padding."
        )
    if _is_sharded(loader):
        return loader
    if not isinstance(loader.sampler, (SequentialSampler, RandomSampler)):
        raise ConfigError(
            f"an evaluation loader's sampler is a {type(loader.sampler).__name__}, which the "
            f"trainer cannot shard across {num_replicas} ranks; give it a "
            f"hookwise.distributed.DistributedEvalSampler, or pass use_distributed_sampler=False"
        )
    sampler = DistributedEvalSampler(
        loader.dataset,  # type: ignore[arg-type]
        num_replicas=num_replicas,
        rank=rank,
    )
    return with_sampler(loader, sampler, "evaluation")
