"""What the tests compare with: hookwise's tiny job with scripted validation metrics, and the
same job as a LightningModule for Lightning's own ``Trainer``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from hookwise import Callback, TrainerState
from hookwise.hookspecs import MetricLogs
from hookwise.testing import TinyModel
from lightning.pytorch.loggers import Logger
from torch import nn
from torch.nn.functional import cross_entropy


def script_value(values: Sequence[float], epoch: int) -> float:
    return values[min(epoch, len(values) - 1)]


class Scripted(Callback):
    """hookwise: returns ``{"score": values[epoch]}`` from every validation pass (``val/score``)."""

    def __init__(self, values: Sequence[float]) -> None:
        super().__init__()
        self.values = list(values)

    def on_test_epoch_end(self, trainer_state: TrainerState, model: nn.Module) -> MetricLogs:
        return {"score": script_value(self.values, trainer_state["current_epoch"])}


class ReferenceModule(pl.LightningModule):
    """Lightning: hookwise's tiny job (``run_fit``'s model, data shape and loss) as a
    LightningModule that logs the scripted ``val/score`` after every validation."""

    def __init__(
        self,
        values: Sequence[float] = (1.0,),
        lr: float = 0.1,
        scheduler: Callable[[Any], Any] | None = None,
    ) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = TinyModel()
        self.values = list(values)
        self.lr = lr
        self.scheduler = scheduler

    def forward(self, inputs: torch.Tensor) -> Any:
        return self.net(inputs)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = cross_entropy(self(batch["inputs"])["logits"], batch["labels"])
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        loss = cross_entropy(self(batch["inputs"])["logits"], batch["labels"])
        self.log("val/loss", loss, batch_size=int(batch["labels"].shape[0]))

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        loss = cross_entropy(self(batch["inputs"])["logits"], batch["labels"])
        self.log("test/loss", loss, batch_size=int(batch["labels"].shape[0]))

    def on_validation_epoch_end(self) -> None:
        self.log("val/score", script_value(self.values, self.current_epoch))

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(self.parameters(), lr=self.lr)
        if self.scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self.scheduler(optimizer)}


class MemoryLogger(Logger):
    """A Lightning logger that keeps what it is given: ``(step, {name: value})``."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[int | None, dict[str, float]]] = []

    @property
    def name(self) -> str:
        return "memory"

    @property
    def version(self) -> str:
        return "0"

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.records.append((step, {k: float(v) for k, v in metrics.items()}))

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass
