"""Starting a training epoch part-way, after a resume, without loading the batches it skips.

A checkpoint taken at batch ``k`` of an epoch resumes at batch ``k``. The batches before it
must not be trained on again, and the ones after it must be the very batches the uninterrupted
run saw. Drawing ``k`` batches from the loader and dropping them does that, but loads and
collates ``k`` batches first, so a resume late in a long epoch costs as much as the epoch's
data loading. :func:`iterate_from` skips at the sampler instead: it draws the same indices in
the same order from the same sampler and generators, and loads only from batch ``k`` on.

It does so where skipping indices leaves everything else as it was: a map-style dataset in
the main process (``num_workers=0``). With worker processes the batches are spread over the
workers by position and each worker's random state advances with what it loads, so a worker
that skipped would produce other augmentations: there the batches are still loaded and
dropped (exact, at the cost of loading them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from torch.utils.data import DataLoader, IterableDataset


class _SkipFirst(Iterable[list[int]]):
    """A batch sampler that yields ``batch_sampler``'s batches from batch ``start`` on (the
    skipped ones are drawn, so every generator advances as in a full pass)."""

    def __init__(self, batch_sampler: Iterable[list[int]], start: int) -> None:
        self.batch_sampler = batch_sampler
        self.start = start

    def __iter__(self) -> Iterator[list[int]]:
        for index, batch in enumerate(self.batch_sampler):
            if index >= self.start:
                yield batch

    def __len__(self) -> int:
        return max(0, len(self.batch_sampler) - self.start)  # type: ignore[arg-type]


def skips_at_sampler(loader: DataLoader[Any]) -> bool:
    """Whether :func:`iterate_from` skips ``loader``'s batches without loading them."""
    return (
        type(loader) is DataLoader
        and loader.num_workers == 0
        and loader.batch_sampler is not None
        and not isinstance(loader.dataset, IterableDataset)
    )


def iterate_from(loader: DataLoader[Any], start: int) -> Iterator[Any]:
    """An iterator over ``loader``'s batches from batch ``start`` on: the same batches, from
    the same generators, as ``start`` draws from a fresh iterator would leave."""
    if start and skips_at_sampler(loader):
        skipping = DataLoader(
            loader.dataset,
            batch_sampler=_SkipFirst(loader.batch_sampler, start),  # type: ignore[arg-type]
            num_workers=0,
            collate_fn=loader.collate_fn,
            pin_memory=loader.pin_memory,
            generator=loader.generator,
        )
        return iter(skipping)
    iterator = iter(loader)
    for _ in range(start):
        next(iterator)
    return iterator


__all__ = ["iterate_from", "skips_at_sampler"]
