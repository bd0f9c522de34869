"""One torchrun worker for the distributed tests: ``torchrun ... dist_worker.py SCENARIO OUT``.

Each scenario runs real fits of a tiny model on tiny dict data through ``hookwise.Trainer``
(which detects the torchrun launch) and writes what every rank saw to ``OUT/<scenario>-rank<r>
.json`` (rank 0 also writes weights), for the pytest process to check. Several scenarios share
one launch, because each launch costs seconds.

The module is also imported by the tests (by path), which reuse its data, model and
callbacks for the one-process baselines.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from hookwise import Callback, Trainer
from hookwise.distributed import (
    all_gather_object,
    get_rank,
    get_world_size,
    rank_zero_only,
    synchronize,
)
from hookwise.trainer import TrainingInterrupted
from torch import nn
from torch.utils.data import DataLoader, Dataset

TRAIN_SIZE = 12  # 2 ranks x 3 batches of 2
VAL_SIZE = 11  # uneven: rank 0 evaluates 6 samples, rank 1 evaluates 5
BATCH = 2
VAL_BATCH = 4
SEED = 7


class DictData(Dataset[dict[str, torch.Tensor]]):
    """Deterministic samples ``{"inputs": [4], "labels": (), "idx": ()}``."""

    def __init__(self, size: int, offset: int = 0) -> None:
        generator = torch.Generator().manual_seed(1234 + offset)
        self.inputs = torch.randn(size, 4, generator=generator)
        self.labels = (self.inputs[:, 0] + 0.5 * self.inputs[:, 1] > 0).long()
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {
            "inputs": self.inputs[index],
            "labels": self.labels[index],
            "idx": torch.tensor(index),
        }


class TinyModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"logits": self.linear(batch["inputs"])}


class CliModel(nn.Module):
    """The model of the command-line job: ``model(inputs=...)``."""

    def __init__(self, hidden: int = 8) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.layers(inputs)}


def cli_loader(split: str, batch_size: int = 4) -> DataLoader[Any]:
    """The data of the command-line job (a plain loader: the trainer shards it)."""
    sizes = {"train": (24, 0), "val": (11, 1), "test": (13, 2)}
    size, offset = sizes[split]
    return DataLoader(DictData(size, offset), batch_size=batch_size, shuffle=split == "train")


def loss_fn(outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]) -> Any:
    return F.cross_entropy(outputs["logits"], batch["labels"])


def make_model() -> TinyModel:
    torch.manual_seed(99)
    return TinyModel()


def train_loader() -> DataLoader[Any]:
    return DataLoader(DictData(TRAIN_SIZE), batch_size=BATCH, shuffle=True)


def val_loader() -> DataLoader[Any]:
    return DataLoader(DictData(VAL_SIZE, offset=1), batch_size=VAL_BATCH)


# -- callbacks ------------------------------------------------------------------------------------


class GatherAccuracy(Callback):
    """A minimal evaluator: counts over this rank's batches, gathered from every rank."""

    def __init__(self) -> None:
        super().__init__()
        self.correct = 0
        self.count = 0
        self.seen: list[int] = []
        self.passes: list[dict[str, Any]] = []

    def on_test_epoch_start(self, trainer_state: Any, model: nn.Module) -> None:
        self.correct, self.count, self.seen = 0, 0, []

    def on_test_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        predicted = outputs["logits"].argmax(dim=1)
        self.correct += int((predicted == batch["labels"]).sum())
        self.count += len(batch["labels"])
        self.seen += [int(i) for i in batch["idx"]]

    def on_test_epoch_end(self, trainer_state: Any, model: nn.Module) -> dict[str, float]:
        gathered = all_gather_object((self.correct, self.count, self.seen))
        correct = sum(c for c, _, _ in gathered)
        count = sum(n for _, n, _ in gathered)
        everything = sorted(i for _, _, seen in gathered for i in seen)
        self.passes.append(
            {"local_count": self.count, "count": count, "seen": everything, "local": self.seen}
        )
        return {"accuracy": correct / count, "count": float(count)}


class SeenSamples(Callback):
    """Records the sample indices of every training batch, per epoch."""

    collective_free = True

    def __init__(self) -> None:
        super().__init__()
        self.by_epoch: dict[int, list[int]] = {}

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        epoch = trainer_state["current_epoch"]
        self.by_epoch.setdefault(epoch, []).extend(int(i) for i in batch["idx"])


class ZeroOnly(Callback):
    """Registered on rank 0 only (class marker)."""

    rank_zero_only = True

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def on_train_epoch_end(self, trainer_state: Any, model: nn.Module, loss_module: Any) -> None:
        self.calls += 1

    def state_dict(self) -> dict[str, Any]:
        return {"calls": self.calls}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.calls = int(state_dict["calls"])


class DecoratedHook(Callback):
    """Registered everywhere; one hook runs on rank 0 only (method decorator)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.other_calls = 0

    @rank_zero_only
    def on_train_epoch_end(self, trainer_state: Any, model: nn.Module, loss_module: Any) -> None:
        self.calls += 1

    def on_train_epoch_start(self, trainer_state: Any, model: nn.Module, loss_module: Any) -> None:
        self.other_calls += 1


class SaveAfterValidation(Callback):
    """Saves a checkpoint after each validation (rank 0 writes), then waits for it."""

    def on_validation_end(self, trainer_state: Any, model: nn.Module, metrics: Any) -> None:
        trainer = trainer_state["train_module"]
        epoch = trainer_state["current_epoch"]
        trainer.save_checkpoint(trainer.output_dir / "checkpoints" / f"epoch{epoch}.ckpt")
        synchronize()


class StopOnRank(Callback):
    """Asks to stop on one rank only, at one step."""

    collective_free = True

    def __init__(self, rank: int, step: int) -> None:
        super().__init__()
        self.rank, self.step = rank, step

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if get_rank() == self.rank and trainer_state["global_step"] == self.step:
            trainer_state["train_module"].request_stop(f"asked on rank {self.rank}")


class StopEverywhere(Callback):
    """Asks to stop on every rank at one step, promising so (``all_ranks=True``)."""

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
        if trainer_state["global_step"] == self.step:
            trainer_state["train_module"].request_stop("agreed", all_ranks=True)


class FailOnRank(Callback):
    """Raises in ``on_train_batch_end`` on one rank, at one step (noting when in ``marker``)."""

    def __init__(self, rank: int, step: int, marker: Path | None = None) -> None:
        super().__init__()
        self.rank, self.step, self.marker = rank, step, marker
        self.failures = 0

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if get_rank() == self.rank and trainer_state["global_step"] == self.step:
            self.failures += 1
            if self.marker is not None:
                self.marker.write_text(json.dumps({"time": time.time()}))
            raise ValueError(f"boom on rank {self.rank} at step {self.step}")


class TolerantFailOnRank(FailOnRank):
    """The same, marked collective-free, so on_error='warn' is allowed."""

    collective_free = True


# -- scenarios ------------------------------------------------------------------------------------


def _weights(model: nn.Module) -> dict[str, list[Any]]:
    return {k: v.detach().cpu().tolist() for k, v in model.state_dict().items()}


def _fit(
    output_dir: Path,
    callbacks: list[Callback],
    *,
    epochs: int,
    resume: bool = False,
    device: str = "cpu",
    **kwargs: Any,
) -> tuple[Trainer, TinyModel, dict[str, float]]:
    model = make_model()
    trainer = Trainer(
        device=device,
        output_dir=output_dir,
        train_dataloader=train_loader(),
        test_dataloader=val_loader(),
        callbacks=callbacks,
        num_epochs=epochs,
        seed=SEED,
        dist_timeout=60,
        **kwargs,
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    metrics = trainer.fit(model, optimizer, None, loss_fn, resume_from="last" if resume else None)
    return trainer, model, metrics


def scenario_fit(out: Path) -> dict[str, Any]:
    """Fit with evaluation and checkpoints, resume, an uninterrupted twin, a stop request on
    one rank, standalone evaluation, the error-policy rule, and teardown."""
    rank = get_rank()
    report: dict[str, Any] = {"rank": rank, "world_size": get_world_size()}

    # A: two epochs with validation and a checkpoint after each validation
    seen, accuracy, zero, decorated = SeenSamples(), GatherAccuracy(), ZeroOnly(), DecoratedHook()
    trainer_a, _, metrics_a = _fit(
        out / "run", [seen, accuracy, zero, decorated, SaveAfterValidation()], epochs=2
    )
    report["a"] = {
        "owns_process_group": trainer_a.owns_process_group,
        "is_ddp": isinstance(trainer_a._model, torch.nn.parallel.DistributedDataParallel),
        "sampler": type(trainer_a.train_dataloader.sampler).__name__,  # type: ignore[union-attr]
        "sampler_seed": getattr(trainer_a.train_dataloader.sampler, "seed", None),  # type: ignore[union-attr]
        "eval_sampler": type(trainer_a.test_dataloader[0].sampler).__name__,  # type: ignore[index]
        "seen": seen.by_epoch,
        "passes": accuracy.passes,
        "metrics": metrics_a,
        "zero_only_registered": trainer_a.pm.get_plugin("ZeroOnly") is not None,
        "zero_only_calls": zero.calls,
        "decorated_calls": decorated.calls,
        "decorated_other_calls": decorated.other_calls,
        "global_step": trainer_a.global_step,
        "checkpoints": sorted(p.name for p in (out / "run" / "checkpoints").glob("*.ckpt")),
    }

    # B: resume from the newest checkpoint and train a third epoch
    seen_b, zero_b = SeenSamples(), ZeroOnly()
    callbacks_b = [seen_b, GatherAccuracy(), zero_b, SaveAfterValidation()]
    trainer_b, model_b, _ = _fit(out / "run", callbacks_b, epochs=3, resume=True)
    report["b"] = {
        "owns_process_group": trainer_b.owns_process_group,
        "seen": seen_b.by_epoch,
        "global_step": trainer_b.global_step,
        "zero_only_calls": zero_b.calls,
    }

    # C: the same three epochs without interruption
    seen_c = SeenSamples()
    trainer_c, model_c, _ = _fit(out / "twin", [seen_c, GatherAccuracy()], epochs=3)
    report["c"] = {"seen": seen_c.by_epoch, "global_step": trainer_c.global_step}
    if rank == 0:
        torch.save(model_b.state_dict(), out / "weights-resumed.pt")
        torch.save(model_c.state_dict(), out / "weights-twin.pt")
    report["resumed_equals_twin"] = all(
        torch.equal(a, b)
        for a, b in zip(model_b.state_dict().values(), model_c.state_dict().values(), strict=True)
    )

    # D: a stop request on rank 1 only, mid-epoch: every rank stops at the next check (step 5)
    trainer_d, _, _ = _fit(
        out / "stop", [StopOnRank(rank=1, step=4)], epochs=3, dist_stop_check_interval=5
    )
    stop = trainer_d.stop_request
    report["d"] = {
        "global_step": trainer_d.global_step,
        "epoch": trainer_d.epoch,
        "reason": stop.reason if stop else None,
    }

    # ... and a request every rank makes at the same step takes effect at once
    trainer_d2, _, _ = _fit(
        out / "stop2", [StopEverywhere(step=4)], epochs=3, dist_stop_check_interval=5
    )
    report["d2"] = {"global_step": trainer_d2.global_step}

    # H: how many stop-combining all-reduces a fit makes (decision 9: none per step)
    import hookwise.distributed as hd

    original = hd.all_reduce_max
    calls = [0]

    def counting(values: Any) -> list[int]:
        calls[0] += 1
        return original(values)

    report["h"] = {}
    hd.all_reduce_max = counting  # type: ignore[assignment]
    try:
        for interval in (None, 2):
            calls[0] = 0
            model_h = make_model()
            trainer_h = Trainer(
                device="cpu",
                output_dir=out / "h",
                train_dataloader=DataLoader(DictData(TRAIN_SIZE), batch_size=1, shuffle=True),
                test_dataloader=val_loader(),
                num_epochs=2,
                dist_stop_check_interval=interval,
            )
            trainer_h.fit(model_h, torch.optim.SGD(model_h.parameters(), lr=0.1), None, loss_fn)
            report["h"][str(interval)] = {"steps": trainer_h.global_step, "syncs": calls[0]}
    finally:
        hd.all_reduce_max = original

    # E: standalone evaluation of a fixed model (the twin's weights) over uneven shards
    evaluator = GatherAccuracy()
    tester = Trainer(device="cpu", test_dataloader=val_loader(), callbacks=[evaluator])
    report["e"] = {"metrics": tester.test(model_c), "passes": evaluator.passes}

    # F: on_error='warn' is refused for a plugin that may make collective calls ...
    trainer_f = Trainer(
        device="cpu", train_dataloader=train_loader(), num_epochs=1, output_dir=out / "f"
    )
    trainer_f.pm.register(FailOnRank(rank=1, step=2), "Flaky", on_error="warn")
    model_f = make_model()
    try:
        trainer_f.fit(model_f, torch.optim.SGD(model_f.parameters(), lr=0.1), None, loss_fn)
        report["f_error"] = None
    except Exception as exc:
        report["f_error"] = f"{type(exc).__name__}: {exc}"
    # ... and allowed for one marked collective-free: the ranks stay in step
    tolerant = TolerantFailOnRank(rank=1, step=2)
    # (each rank names another run folder: every rank uses rank 0's)
    trainer_g = Trainer(
        device="cpu", train_dataloader=train_loader(), num_epochs=2, output_dir=out / f"g{rank}"
    )
    trainer_g.pm.register(tolerant, "Tolerant", on_error="warn")
    model_g = make_model()
    trainer_g.fit(model_g, torch.optim.SGD(model_g.parameters(), lr=0.1), None, loss_fn)
    report["g"] = {
        "global_step": trainer_g.global_step,
        "failures": tolerant.failures,
        "output_dir": trainer_g.output_dir.name,
    }

    # teardown: the first trainer created the group and destroys it
    trainer_a.close()
    report["initialized_after_close"] = torch.distributed.is_initialized()
    return report


#: The bundled plugins, by name, as a config would enable them.
PLUGINS: list[tuple[str, dict[str, Any]]] = [
    ("evaluator", {"evaluator": "accuracy", "report_count": True, "per_class": True}),
    ("checkpoint", {"monitor": "val/accuracy/top1", "mode": "max"}),
    ("logging", {"progress_bar": False, "refresh_rate": 1}),
    ("early_stopping", {"monitor": "val/accuracy/top1", "mode": "max", "patience": 50}),
    ("nan_guard", {}),
    ("lr_monitor", {}),
    ("throughput", {}),
]


def _fit_plugins(out: Path, epochs: int, resume: bool) -> tuple[Trainer, TinyModel]:
    model = make_model()
    trainer = Trainer(
        device="cpu",
        output_dir=out,
        train_dataloader=train_loader(),
        test_dataloader=val_loader(),
        num_epochs=epochs,
        seed=SEED,
        dist_timeout=60,
        plugins=PLUGINS,
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer.fit(model, optimizer, None, loss_fn, resume_from="last" if resume else None)
    return trainer, model


def scenario_plugins(out: Path) -> dict[str, Any]:
    """The bundled plugins enabled by name: evaluator, checkpoint, logging, early stopping,
    nan_guard, lr_monitor and throughput; then a resume, and a standalone evaluation."""
    rank = get_rank()
    folder = out / "plugins"
    first, _ = _fit_plugins(folder, epochs=2, resume=False)
    synchronize()
    files = sorted(p.name for p in (folder / "checkpoints").glob("*.ckpt"))
    resumed, model = _fit_plugins(folder, epochs=3, resume=True)
    if rank == 0:
        torch.save(model.state_dict(), out / "weights-plugins.pt")
    tester = Trainer(
        device="cpu", output_dir=folder, test_dataloader=val_loader(), plugins=PLUGINS[:1]
    )
    tested = tester.test(model)
    synchronize()
    metrics_file = folder / "metrics.csv"
    return {
        "rank": rank,
        "first": {"metrics": first.metrics, "global_step": first.global_step},
        "checkpoints": files,
        "resumed": {
            "metrics": resumed.metrics,
            "global_step": resumed.global_step,
            "plugins": resumed.pm.plugin_names(),
        },
        "tested": tested,
        "metrics_csv": metrics_file.read_text() if metrics_file.exists() else None,
    }


class SlowSteps(Callback):
    """Makes steps slow, and says (with its pid) when training has started."""

    collective_free = True

    def __init__(self, marker: Path) -> None:
        super().__init__()
        self.marker = marker

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if trainer_state["global_step"] == 1:
            self.marker.write_text(json.dumps({"pid": os.getpid()}))
        time.sleep(0.02)


def scenario_signal(out: Path) -> dict[str, Any]:
    """The test sends SIGTERM to rank 1 only: every rank ends at the same step, and rank 0
    writes the interrupt checkpoint."""
    rank = get_rank()
    marker = out / f"signal-ready-rank{rank}.json"
    callbacks: list[Callback] = [SlowSteps(marker)]
    model = make_model()
    trainer = Trainer(
        device="cpu",
        output_dir=out / "signal",
        train_dataloader=train_loader(),
        callbacks=callbacks,
        num_epochs=200,  # ~12 s of steps: ends (and fails the test) if no signal comes
        seed=SEED,
        dist_timeout=60,
        dist_stop_check_interval=3,
    )
    report: dict[str, Any] = {"rank": rank, "interrupted": False}
    try:
        trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), None, loss_fn)
    except TrainingInterrupted as exc:
        checkpoint = exc.checkpoint
        report.update(
            interrupted=True,
            signal=exc.signal_number,
            checkpoint=str(checkpoint),
            checkpoint_exists=checkpoint is not None and checkpoint.exists(),
        )
    report.update(global_step=trainer.global_step, epoch=trainer.epoch)
    synchronize()  # rank 0 has written the checkpoint before anyone reads it
    if checkpoint_file := report.get("checkpoint"):
        data = torch.load(checkpoint_file, weights_only=True)
        report["checkpoint_step"] = int(data["global_step"])
        report["checkpoint_rng_ranks"] = len(data.get("rng_per_rank", []))
    return report


class WhereAmI(Callback):
    """Records the backend and the model's device at fit start."""

    collective_free = True

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, Any] = {}

    def on_fit_start(self, trainer_state: Any, model: nn.Module) -> None:
        dist = torch.distributed
        self.seen = {
            "backend": dist.get_backend() if dist.is_initialized() else None,
            "device": str(next(model.parameters()).device),
            "ddp": isinstance(model, torch.nn.parallel.DistributedDataParallel),
        }


def scenario_cuda(out: Path) -> dict[str, Any]:
    """``fit`` on ``cuda`` (one GPU per process under torchrun, NCCL): evaluation, checkpoints
    and resume."""
    where, accuracy = WhereAmI(), GatherAccuracy()
    trainer, _, metrics = _fit(
        out / "cuda", [where, accuracy, SaveAfterValidation()], epochs=2, device="cuda"
    )
    resumed, model, _ = _fit(
        out / "cuda",
        [GatherAccuracy(), SaveAfterValidation()],
        epochs=3,
        device="cuda",
        resume=True,
    )
    return {
        "rank": get_rank(),
        "where": where.seen,
        "trainer_device": str(trainer.device),
        "metrics": metrics,
        "passes": accuracy.passes,
        "global_step": resumed.global_step,
        "model_device": str(next(model.parameters()).device),
    }


def scenario_fail(out: Path) -> dict[str, Any]:
    """A plugin raises on rank 1 at step 2 while rank 0 trains on: the run must end."""
    _fit(out / "fail", [FailOnRank(rank=1, step=2, marker=out / "fail-raised.json")], epochs=50)
    return {"rank": get_rank(), "finished": True}  # never reached on any rank


def _write(out: Path, scenario: str, report: dict[str, Any]) -> None:
    path = out / f"{scenario}-rank{get_rank()}.json"
    path.write_text(json.dumps(report, default=str))


def main(argv: list[str]) -> int:
    """``SCENARIO OUT``: ``fit``, ``plugins``, ``signal``, ``fail``, or ``all`` (the four in
    this order, in one launch: each launch costs seconds); ``cuda`` on GPU machines."""
    scenario, out = argv[0], Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    if scenario in ("fit", "all"):
        _write(out, "fit", scenario_fit(out))
    if scenario in ("plugins", "all"):
        _write(out, "plugins", scenario_plugins(out))
    if scenario in ("signal", "all"):
        _write(out, "signal", scenario_signal(out))
    if scenario == "cuda":
        _write(out, "cuda", scenario_cuda(out))
    if scenario in ("fail", "all"):
        _write(out, "fail", scenario_fail(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
