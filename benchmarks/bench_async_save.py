"""Checkpoint saves that do not stall the step: how long a save blocks training, synchronous
against asynchronous (``Trainer.save_checkpoint(path, asynchronous=True)``).

The model is an MLP of ``--params`` float32 parameters (25M by default: a ~100 MB checkpoint)
with plain SGD (no optimizer state), trained one step by ``Trainer.fit`` so that the trainer
holds it; then, interleaved, best of ``--repeats``:

* ``sync``: ``save_checkpoint(path)`` (state, ``torch.save``, fsync of file and folder, rename);
* ``async, blocked``: ``save_checkpoint(path, asynchronous=True)`` until it returns (the state
  checked and copied to host memory); the write then runs in the background, untimed;
* ``async, until durable``: the same call and then ``wait_for_checkpoints()``: the whole write;
* ``step`` and ``step during a write``: one training step (forward, backward, SGD) alone, and
  while a background write runs (what the writer thread takes from the training thread).

The ratio ``async blocked / sync`` is the goal's figure (performance issue, checkpoints that do
not stall the step).

Run: ``python benchmarks/bench_async_save.py`` (``--quick`` for a smoke run, ``--json PATH``).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _bench
import torch
from hookwise import Trainer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def build(params: int, folder: Path) -> tuple[Trainer, nn.Module, torch.optim.Optimizer]:
    """A trainer that has fitted one step of an MLP ``width -> 2*width -> width``."""
    width = max(8, int((params / 4) ** 0.5))
    model = nn.Sequential(nn.Linear(width, 2 * width), nn.ReLU(), nn.Linear(2 * width, width))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    data = TensorDataset(torch.randn(8, width), torch.randn(8, width))
    trainer = Trainer(
        device="cpu",
        output_dir=folder / "run",
        train_dataloader=DataLoader(data, batch_size=8),
        num_steps=1,
        seed=0,
        handle_signals=False,
        check_val_every_n_epoch=None,
    )

    def loss(outputs: torch.Tensor, batch: Any) -> torch.Tensor:
        return nn.functional.mse_loss(outputs, batch[1])

    class Inputs:
        def __call__(self, batch: Any) -> dict[str, Any]:
            return {"input": batch[0]}

    trainer.train_data_connector = Inputs()
    trainer.fit(model, optimizer, loss_module=loss)
    return trainer, model, optimizer


def variants(
    trainer: Trainer, model: nn.Module, optimizer: torch.optim.Optimizer, folder: Path
) -> dict[str, Callable[[], Callable[[], Any]]]:
    width = model[0].in_features
    batch = torch.randn(16, width)

    def step() -> None:
        optimizer.zero_grad()
        model(batch).pow(2).mean().backward()
        optimizer.step()

    def fresh(call: Callable[[], Any]) -> Callable[[], Callable[[], Any]]:
        def factory() -> Callable[[], Any]:
            trainer.wait_for_checkpoints()  # each timed run starts with nothing in flight
            return call

        return factory

    def step_during_write() -> Callable[[], Any]:
        trainer.wait_for_checkpoints()
        trainer.save_checkpoint(folder / "during.ckpt", asynchronous=True)
        return step

    return {
        "sync": fresh(lambda: trainer.save_checkpoint(folder / "sync.ckpt")),
        "async, blocked": fresh(
            lambda: trainer.save_checkpoint(folder / "async.ckpt", asynchronous=True)
        ),
        "async, until durable": fresh(
            lambda: (
                trainer.save_checkpoint(folder / "durable.ckpt", asynchronous=True),
                trainer.wait_for_checkpoints(),
            )
        ),
        "step": fresh(step),
        "step during a write": step_during_write,
    }


def main() -> None:
    parser = _bench.parser(__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--params", type=int, default=25_000_000)
    args = parser.parse_args()
    params = 200_000 if args.quick else args.params
    repeats = 1 if args.quick else args.repeats
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(dir=".") as name:
        folder = Path(name)
        trainer, model, optimizer = build(params, folder)
        count = sum(p.numel() for p in model.parameters())
        _bench.header(
            f"async save: an MLP of {count / 1e6:.1f}M float32 parameters "
            f"({count * 4 / 1e6:.0f} MB of weights), plain SGD, best of {repeats}"
        )
        start = time.perf_counter()
        best = _bench.best_of(variants(trainer, model, optimizer, folder), repeats)
        trainer.wait_for_checkpoints()
        size = (folder / "sync.ckpt").stat().st_size
        elapsed = time.perf_counter() - start
    ratio = best["async, blocked"] / best["sync"]
    rows = [[name, f"{seconds * 1e3:.1f}"] for name, seconds in best.items()]
    print(_bench.table(["what", "ms"], rows))
    print(f"checkpoint file: {size / 1e6:.0f} MB; measured in {elapsed:.1f} s")
    print(f"step blocked by a save, async / sync: {ratio:.3f}")
    during = best["step during a write"] / best["step"]
    print(f"a step while a write runs / a step alone: {during:.2f}")
    _bench.finish(
        args,
        "async_save",
        {
            "seconds": best,
            "checkpoint_bytes": size,
            "parameters": count,
            "async_blocked_over_sync": ratio,
            "step_during_write_over_step": during,
        },
    )


if __name__ == "__main__":
    main()
