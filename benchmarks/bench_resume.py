"""Resume cost: starting an epoch at batch k, as a resume does, against starting it at batch 0.

A map-style dataset whose items cost ``--item-ms`` each to load (a sleep, standing in for
decoding an image), 4 items a batch, ``--batches`` batches an epoch, the main process loading
(``num_workers=0``). Each variant times getting the first batch of the epoch from batch k:

* ``load and drop``: draw k batches from the loader and drop them (the trainer's way before);
* ``skip at the sampler``: :func:`hookwise.trainer.skipping.iterate_from`, which draws the same
  indices from the same sampler and loads only from batch k.

Goal (performance issue, resume that does not re-read the epoch): resuming at the last batch
of an epoch costs about as much as resuming at the first (ratio last/first about 1).

Run: ``python benchmarks/bench_resume.py`` (``--quick`` for a smoke run, ``--json PATH``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import _bench
import torch
from hookwise.trainer.position import seed_loader
from hookwise.trainer.skipping import iterate_from
from torch.utils.data import DataLoader, Dataset


class SlowItems(Dataset[int]):
    def __init__(self, n: int, item_s: float) -> None:
        self.n, self.item_s = n, item_s

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> int:
        time.sleep(self.item_s)
        return index


def load_and_drop(loader: DataLoader[Any], start: int) -> Iterator[Any]:
    iterator = iter(loader)
    for _ in range(start):
        next(iterator)
    return iterator


def variants(batches: int, item_s: float) -> dict[str, Callable[[], Callable[[], Any]]]:
    def prepare(skip: Callable[[DataLoader[Any], int], Iterator[Any]], start: int) -> Any:
        def factory() -> Callable[[], Any]:
            loader = DataLoader(SlowItems(4 * batches, item_s), batch_size=4, shuffle=True)
            seed_loader(loader, seed=0, epoch=0)
            return lambda: next(skip(loader, start))

        return factory

    last = batches - 1
    return {
        "load and drop, first": prepare(load_and_drop, 0),
        "load and drop, last": prepare(load_and_drop, last),
        "skip at the sampler, first": prepare(iterate_from, 0),
        "skip at the sampler, last": prepare(iterate_from, last),
    }


def main() -> None:
    parser = _bench.parser(__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--item-ms", type=float, default=1.0)
    args = parser.parse_args()
    batches = 5 if args.quick else args.batches
    repeats = 1 if args.quick else args.repeats
    torch.set_num_threads(1)
    _bench.header(
        f"resume: first batch of an epoch of {batches} batches of 4 items, "
        f"{args.item_ms} ms an item, from batch 0 and from the last batch"
    )
    best = _bench.best_of(variants(batches, args.item_ms / 1000), repeats)
    ratios = {
        way: best[f"{way}, last"] / best[f"{way}, first"]
        for way in ("load and drop", "skip at the sampler")
    }
    rows = [
        [way, f"{best[f'{way}, first'] * 1e3:.1f}", f"{best[f'{way}, last'] * 1e3:.1f}", f"{r:.2f}"]
        for way, r in ratios.items()
    ]
    print(_bench.table(["way", "first (ms)", "last (ms)", "last / first"], rows))
    _bench.finish(args, "resume", {"seconds": best, "last_over_first": ratios})


if __name__ == "__main__":
    main()
