"""The torchrun worker of the FSDP tests: ``torchrun ... fsdp_worker.py OUT``.

In one launch (each launch costs seconds): a fit under ``strategy="fsdp"`` with uneven
evaluation and a sharded checkpoint after each validation; an uninterrupted twin; a resume of
the first fit from its epoch-1 checkpoint; the same fit under DDP; a fit with the bundled
plugins that support FSDP (evaluator, visualizer, nan_guard) enabled by name; and the
checkpoint plugin's sharded folders: under FSDP (a fit, and a resume from its epoch-1 folder)
and under DDP with ``checkpoint_format="sharded"`` (a fit, and a resume from ``last``); and a
SIGTERM to rank 1 under DDP with sharded checkpoints (the interrupt checkpoint is a folder
every rank writes; the run resumed from it removes it when it ends).
Each rank writes what it saw to ``OUT/fsdp-rank<r>.json``; rank 0 writes full weights as
``OUT/<name>.pt``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import torch
from dist_worker import (
    SEED,
    GatherAccuracy,
    SeenSamples,
    loss_fn,
    train_loader,
)
from dist_worker import DictData as Data
from hookwise import Callback, Trainer, TrainingInterrupted, sharded
from hookwise.distributed import get_rank, synchronize
from torch import nn
from torch.utils.data import DataLoader

#: ``cuda`` runs the same scenarios with NCCL, one GPU per process (``test_fsdp.py``'s
#: ``cuda`` test sets it).
DEVICE = os.environ.get("HOOKWISE_TEST_DEVICE", "cpu")
VAL_BATCH = 5  # 11 samples: rank 0 evaluates 6 (2 batches), rank 1 evaluates 5 (1 batch)


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(4, 16)
        self.second = nn.Linear(16, 2)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"logits": self.second(torch.relu(self.first(batch["inputs"])))}


def val_loader() -> DataLoader[Any]:
    return DataLoader(Data(11, offset=1), batch_size=VAL_BATCH)


class SaveSharded(Callback):
    """After each validation, every rank saves the sharded checkpoint ``epoch<E>.ckpt``; also
    records what the hooks see of the model."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self.model_seen: list[str] = []

    def on_validation_end(self, trainer_state: Any, model: nn.Module, metrics: Any) -> None:
        from torch.distributed.tensor import DTensor

        sharded = isinstance(model.first.weight, DTensor)
        self.model_seen.append(f"{isinstance(model, MLP)}:{sharded}")
        epoch = trainer_state["current_epoch"]
        trainer_state["trainer"].save_checkpoint(self.folder / f"epoch{epoch}.ckpt")


def full_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The full tensors of a sharded (or plain) model, on every rank (a collective call)."""
    state = {}
    for key, value in model.state_dict().items():
        full = getattr(value, "full_tensor", None)
        state[key] = (full() if callable(full) else value).detach().cpu().clone()
    return state


def fit(out: Path, epochs: int, callbacks: list[Any], **kwargs: Any) -> tuple[Trainer, MLP]:
    torch.manual_seed(99)
    model = MLP()
    resume = kwargs.pop("resume_from", None)
    trainer = Trainer(
        device=DEVICE,
        output_dir=out,
        train_dataloader=train_loader(),
        test_dataloader=val_loader(),
        callbacks=callbacks,
        num_epochs=epochs,
        seed=SEED,
        dist_timeout=60,
        **kwargs,
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer.fit(model, optimizer, None, loss_fn, resume_from=resume)
    return trainer, model


def save_full(out: Path, name: str, model: nn.Module) -> None:
    weights = full_weights(model)
    if get_rank() == 0:
        torch.save(weights, out / f"{name}.pt")


def main(out: Path) -> dict[str, Any]:
    rank = get_rank()
    report: dict[str, Any] = {"rank": rank}
    fsdp = {"strategy": "fsdp", "fsdp_wrap": ["Linear"]}

    # A: two epochs, uneven evaluation, a sharded checkpoint after each validation
    accuracy, seen, saver = GatherAccuracy(), SeenSamples(), SaveSharded(out / "a" / "ckpts")
    trainer_a, model_a = fit(out / "a", 2, [accuracy, seen, saver], **fsdp)
    save_full(out, "a", model_a)
    report["a"] = {
        "strategy": trainer_a._strategy.name,
        "model_is_users": trainer_a._model is model_a,
        "model_seen": saver.model_seen,
        "passes": accuracy.passes,
        "metrics": trainer_a.metrics,
        "global_step": trainer_a.global_step,
        "seen": seen.by_epoch,
        "local_numel": model_a.first.weight.to_local().numel(),  # type: ignore[operator]
        "checkpoints": sorted(p.name for p in (out / "a" / "ckpts").iterdir()),
    }
    synchronize()

    # B: the uninterrupted twin, three epochs
    trainer_b, model_b = fit(out / "b", 3, [], **fsdp)
    save_full(out, "b", model_b)
    report["b"] = {"global_step": trainer_b.global_step, "metrics": trainer_b.metrics}

    # C: A's run resumed from its sharded epoch-1 checkpoint, to three epochs
    resume = out / "a" / "ckpts" / "epoch1.ckpt"
    trainer_c, model_c = fit(out / "c", 3, [], resume_from=resume, **fsdp)
    save_full(out, "c", model_c)
    report["c"] = {
        "global_step": trainer_c.global_step,
        "metrics": trainer_c.metrics,
        "resumed_from": str(trainer_c.resumed_from),
    }

    # D: the same three epochs under DDP
    trainer_d, model_d = fit(out / "d", 3, [], strategy="ddp")
    save_full(out, "d", model_d)
    report["d"] = {"global_step": trainer_d.global_step, "metrics": trainer_d.metrics}

    # E: the bundled plugins that work under FSDP, by name
    plugins = [
        ("evaluator", {"evaluator": "accuracy", "report_count": True}),
        ("nan_guard", {}),
        ("visualizer", {"image_shape": [2, 2], "save_prefix": str(out / "e" / "vis")}),
    ]
    trainer_e, _ = fit(out / "e", 1, [], plugins=plugins, **fsdp)
    report["e"] = {"metrics": trainer_e.metrics, "plugins": trainer_e.pm.plugin_names()}
    checkpoint_plugin(out, fsdp)
    report["k"] = interrupted(out)
    trainer_e.close()
    return report


class SignalAt(Callback):
    """Sends SIGTERM to rank 1's own process after step ``step``."""

    collective_free = True

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if trainer_state["global_step"] == self.step and get_rank() == 1:
            os.kill(os.getpid(), signal.SIGTERM)


def interrupted(out: Path) -> dict[str, Any]:
    """K: SIGTERM to rank 1 at step 4 under DDP with sharded checkpoints; then the run
    resumed from ``last`` to the end of epoch 3 (the twin of D)."""
    ddp = {"strategy": "ddp", "checkpoint_format": "sharded", "dist_stop_check_interval": 1}
    report: dict[str, Any] = {}
    try:
        fit(out / "k", 3, [SignalAt(4)], **ddp)
    except TrainingInterrupted as exc:
        report["checkpoint"] = str(exc.checkpoint)
        report["sharded"] = exc.checkpoint is not None and sharded.is_sharded(exc.checkpoint)
    if report.get("sharded"):
        meta = sharded.load_meta(Path(report["checkpoint"]))
        report["step"], report["rng_ranks"] = meta["global_step"], len(meta["rng_per_rank"])
    synchronize()
    trainer, model = fit(out / "k", 3, [], resume_from="last", **ddp)
    save_full(out, "k", model)
    report["resumed_from"] = str(trainer.resumed_from)
    synchronize()  # rank 0 removed it before fit returned there
    report["left"] = Path(report.get("checkpoint", "")).exists()
    return report


def checkpoint_plugin(out: Path, fsdp: dict[str, Any]) -> None:
    """F: the checkpoint plugin under FSDP, three epochs; H: F resumed from its epoch-1
    folder (the twin of B); I: under DDP with sharded checkpoints, two epochs; J: I resumed
    from ``last`` in its own folder, to three epochs (the twin of D)."""
    checkpoint = {"keep_last": 2, "monitor": "val/accuracy/top1", "mode": "max"}
    plugins = [("evaluator", {"evaluator": "accuracy"}), ("checkpoint", checkpoint)]
    _, model_f = fit(out / "f", 3, [], plugins=plugins, **fsdp)
    save_full(out, "f", model_f)
    resume = out / "f" / "checkpoints" / "epoch=1-step=6.ckpt"
    _, model_h = fit(out / "h", 3, [], plugins=plugins, resume_from=resume, **fsdp)
    save_full(out, "h", model_h)
    ddp = {"strategy": "ddp", "checkpoint_format": "sharded", "plugins": plugins}
    fit(out / "i", 2, [], **ddp)
    _, model_j = fit(out / "i", 3, [], resume_from="last", **ddp)
    save_full(out, "j", model_j)


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    result = main(target)
    (target / f"fsdp-rank{get_rank()}.json").write_text(json.dumps(result, default=str))
