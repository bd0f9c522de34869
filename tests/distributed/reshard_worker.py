"""A torchrun worker for ``test_reshard.py``: ``torchrun ... reshard_worker.py MODE OUT``.

``save STEP``: fit two epochs of 24 samples in batches of 2 per process, save
``OUT/mid.ckpt`` at step ``STEP`` (in the middle of epoch 1) and stop every rank there.
``save STEP twin``: then also fit the uninterrupted twin (to the end of epoch 3) in the same
launch, reported as mode ``twin``. ``resume``: resume ``OUT/mid.ckpt`` (on however many
processes this launch has) and fit until epoch 3 ends. Every rank writes
``OUT/<mode>-w<world>-rank<r>.json``: the sample indices of every training batch with its
epoch, step and loss, the step the resumed fit started from, whether the weights it started
from are the checkpoint's, and the weights it ended with.

``HOOKWISE_TEST_STRATEGY`` and ``HOOKWISE_TEST_CHECKPOINT_FORMAT`` choose the trainer's
``strategy`` and ``checkpoint_format``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
from dist_worker import DictData, TinyModel, loss_fn
from hookwise import Callback, Trainer, checkpointing, sharded
from hookwise.distributed import get_rank, get_world_size, synchronize
from torch import nn
from torch.utils.data import DataLoader

SIZE = 24
BATCH = 2
SEED = 11
STRATEGY = os.environ.get("HOOKWISE_TEST_STRATEGY", "ddp")
FORMAT = os.environ.get("HOOKWISE_TEST_CHECKPOINT_FORMAT", "full")


def full_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The full tensors of a (DDP-wrapped, FSDP-sharded or plain) model: a collective call
    under FSDP."""
    state = {}
    for key, value in getattr(model, "module", model).state_dict().items():
        full = getattr(value, "full_tensor", None)
        state[key] = (full() if callable(full) else value).detach().clone()
    return state


def momentum(trainer: Any) -> list[list[float]]:
    """The optimizer's momentum buffers, full tensors flattened (a collective call under
    FSDP)."""
    buffers = []
    for param in trainer._optimizers[0].param_groups[0]["params"]:
        value = trainer._optimizers[0].state.get(param, {}).get("momentum_buffer")
        full = getattr(value, "full_tensor", None)
        value = full() if callable(full) else value
        buffers.append([] if value is None else [float(x) for x in value.flatten()])
    return buffers


class RecordBatches(Callback):
    """Records each training batch's (epoch, step before it, sample indices, loss) and the
    weights the fit's first batch starts from."""

    collective_free = True

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[dict[str, Any]] = []
        self.first_weights: dict[str, torch.Tensor] | None = None
        self.first_momentum: list[list[float]] = []
        self.sharded = False

    def on_train_batch_start(
        self, trainer_state: Any, model: nn.Module, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.first_weights is None:
            self.first_weights = full_state(model)
            self.first_momentum = momentum(trainer_state["train_module"])
            self.sharded = any(hasattr(v, "full_tensor") for v in model.state_dict().values())
        self.batches.append(
            {
                "epoch": trainer_state["current_epoch"],
                "step": trainer_state["global_step"],
                "batch_idx": batch_idx,
                "idx": [int(i) for i in batch["idx"]],
            }
        )

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.batches[-1]["loss"] = float(trainer_state["metrics"]["loss"])


class SaveAndStop(Callback):
    """At step ``step``: rank 0 writes ``path``, every rank waits for it and stops there."""

    def __init__(self, step: int, path: Path) -> None:
        super().__init__()
        self.step, self.path = step, path
        self.momentum: list[list[float]] = []

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if trainer_state["global_step"] == self.step:
            trainer = trainer_state["train_module"]
            trainer.save_checkpoint(self.path)
            self.momentum = momentum(trainer)
            synchronize()
            trainer.request_stop("the checkpoint to resume is written", all_ranks=True)


def _fit(
    out: Path, folder: str, callbacks: list[Callback], epochs: int, resume: Path | None
) -> Trainer:
    torch.manual_seed(5)
    model = TinyModel()
    trainer = Trainer(
        device="cpu",
        output_dir=out / folder,
        train_dataloader=DataLoader(DictData(SIZE), batch_size=BATCH, shuffle=True),
        callbacks=callbacks,
        num_epochs=epochs,
        seed=SEED,
        dist_timeout=60,
        strategy=STRATEGY,
        checkpoint_format=FORMAT,
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer.fit(model, optimizer, None, loss_fn, resume_from=resume)
    return trainer


def _saved_weights(checkpoint: Path, out: Path, rank: int) -> dict[str, torch.Tensor]:
    if not sharded.is_sharded(checkpoint):
        weights: dict[str, torch.Tensor] = torch.load(checkpoint, weights_only=True)["model"]
        return weights
    single = sharded.to_single_file(checkpoint, out / f"single-w{get_world_size()}-r{rank}.ckpt")
    return dict(checkpointing.load_checkpoint(single)["model"])


def _report(trainer: Trainer, record: RecordBatches, saved: dict[str, torch.Tensor]) -> Any:
    assert record.first_weights is not None and trainer._model is not None
    final = full_state(trainer._model)
    return {
        "world": get_world_size(),
        "batches": record.batches,
        "global_step": trainer.global_step,
        "first_momentum": record.first_momentum,
        "sharded": record.sharded,
        "starts_from_checkpoint": all(
            torch.equal(record.first_weights[k], saved[k]) for k in saved
        ),
        "final_weights": {k: v.flatten().tolist() for k, v in final.items()},
    }


def main(argv: list[str]) -> int:
    mode, out = argv[0], Path(argv[1])
    torch.set_num_threads(1)
    record = RecordBatches()
    checkpoint = out / "mid.ckpt"
    stop = SaveAndStop(int(argv[2]) if mode == "save" else -1, checkpoint)
    if mode == "save":
        trainer = _fit(out, "save", [record, stop], 2, None)
    else:
        trainer = _fit(out, f"resume-w{get_world_size()}", [record], 3, checkpoint)
    world, rank = get_world_size(), get_rank()  # the trainer joined torchrun's group
    saved = _saved_weights(checkpoint, out, rank)
    report = {**_report(trainer, record, saved), "saved_momentum": stop.momentum}
    (out / f"{mode}-w{world}-rank{rank}.json").write_text(json.dumps(report))
    if argv[3:] == ["twin"]:  # the uninterrupted run, in the same launch
        twin = RecordBatches()
        trainer = _fit(out, "twin", [twin], 3, None)
        report = _report(trainer, twin, saved)
        (out / f"twin-w{world}-rank{rank}.json").write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
