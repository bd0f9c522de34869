"""A torchrun worker for ``test_distributed.py``: ``torchrun --nproc-per-node=2 THIS OUT``.

Every rank runs three fits with the checkpoint plugin in step mode (the trainer detects the
torchrun launch, wraps the model in DDP and shards the data): an uninterrupted one, one that
stops at step 5, and a resume from its mid-epoch checkpoint at step 4. Each rank writes what
it saw to ``OUT/rank<r>.json``. The validation metric is computed per rank (each rank sees its
own shard), so the ranks only agree on the best checkpoint if the plugin makes them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
from ckpt_training import load, train
from hookwise import Callback, TrainerState
from hookwise.distributed import get_rank, get_world_size
from hookwise_checkpoint import CheckpointCallback
from torch import nn

PERIOD = 2
PARAMS = {"epoch_based": False, "checkpoint_period": PERIOD, "keep_last": 2, "monitor": "val/loss"}


class NoDropoutNet(nn.Module):
    """Without dropout: each rank's RNG state is not part of the checkpoint (rank 0's is)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.body(inputs)}


class Reader(Callback):
    """On every rank, right after a step that saved, reads ``last.ckpt``'s step: the barrier
    after the save means it is always the step just saved, never an older or partial file."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[list[int]] = []

    def on_train_batch_start(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        loss_module: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        step = trainer_state["global_step"]
        if step and step % PERIOD == 0:
            last = trainer_state["train_module"].output_dir / "checkpoints" / "last.ckpt"
            self.seen.append([step, int(load(last)["global_step"])])


def main(out: Path) -> None:
    torch.set_num_threads(1)
    rank = get_rank()
    report: dict[str, Any] = {"rank": rank, "world": get_world_size()}
    reader = Reader()
    full = train(
        out / "full",
        epochs=3,
        plugins=[("checkpoint", PARAMS)],
        callbacks=[reader],
        model=NoDropoutNet,
        optimizer="sgd",
        scheduler="step",
    )
    report["steps"] = full.trainer.global_step
    report["seen"] = reader.seen
    report["files"] = full.files()
    plugin = full.trainer.pm.get_plugin("checkpoint")
    assert isinstance(plugin, CheckpointCallback)
    report["best"] = [[score, path.name] for score, path in plugin.best_checkpoints]
    train(
        out / "stopped",
        epochs=3,
        num_steps=5,
        plugins=[("checkpoint", PARAMS)],
        model=NoDropoutNet,
        optimizer="sgd",
        scheduler="step",
    )
    # step 4 is mid-epoch 1 (after its first batch); the run ended at step 5
    resumed = train(
        out / "resumed",
        epochs=3,
        plugins=[("checkpoint", PARAMS)],
        resume_from=out / "stopped" / "checkpoints" / "epoch=1-step=4.ckpt",
        init_seed=5,
        model=NoDropoutNet,
        optimizer="sgd",
        scheduler="step",
    )
    report["resumed_equal"] = all(
        torch.equal(a, b)
        for a, b in zip(
            resumed.model.state_dict().values(), full.model.state_dict().values(), strict=True
        )
    )
    (out / f"rank{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
