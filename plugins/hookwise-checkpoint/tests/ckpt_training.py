"""Tiny, real training runs for the checkpoint plugin's tests.

The run is built to make an inexact resume visible: a shuffled loader, a model with dropout
(so the RNG state matters), an optimizer with state (Adam, or SGD with Nesterov momentum) and
a learning-rate scheduler (per epoch or per step).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hookwise import Callback, DataConnector, LossConnector, LossModule, Trainer, data_key, pred_key
from hookwise.hookspecs import MetricLogs
from hookwise.testing import EvalLoss
from torch import nn
from torch.utils.data import DataLoader, Dataset

BATCH_SIZE = 4


class Samples(Dataset[dict[str, torch.Tensor]]):
    """``n`` fixed samples ``{"inputs": float [4], "labels": long}``."""

    def __init__(self, n: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 4, generator=generator)
        self.y = (self.x[:, 0] + 0.5 * self.x[:, 1] > 0).long()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"inputs": self.x[index], "labels": self.y[index]}


class DropoutNet(nn.Module):
    """A small classifier with dropout."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.body(inputs)}


class Scripted(Callback):
    """Returns ``{key: values[i]}`` from the i-th evaluation pass (by epoch when
    ``by_epoch``); its pass count is checkpointed so a resumed run continues the script."""

    def __init__(self, values: Sequence[float], key: str = "score", by_epoch: bool = True) -> None:
        super().__init__()
        self.values = list(values)
        self.key = key
        self.by_epoch = by_epoch
        self.passes = 0

    def on_test_epoch_end(self, trainer_state: Any, model: nn.Module) -> MetricLogs:
        index = trainer_state["current_epoch"] if self.by_epoch else self.passes
        self.passes += 1
        return {self.key: self.values[min(index, len(self.values) - 1)]}

    def state_dict(self) -> dict[str, Any]:
        return {"passes": self.passes}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.passes = int(state_dict["passes"])


@dataclass
class Run:
    """What a finished :func:`train` call left."""

    trainer: Trainer
    model: nn.Module
    optimizer: torch.optim.Optimizer

    @property
    def folder(self) -> Path:
        return self.trainer.output_dir / "checkpoints"

    def files(self) -> list[str]:
        return sorted(p.name for p in self.folder.glob("*.ckpt"))


def loss_module() -> LossModule:
    return LossModule(
        {
            "loss": nn.CrossEntropyLoss(),
            "connector": LossConnector({"input": pred_key("logits"), "target": data_key("labels")}),
        }
    )


def train(
    output_dir: Path,
    *,
    epochs: int = 3,
    plugins: Iterable[Any] = (),
    callbacks: Iterable[Callback] = (),
    resume_from: str | Path | None = None,
    init_seed: int = 0,
    optimizer: str = "adam",
    scheduler: str = "epoch",
    batches: int = 6,
    model: Callable[[], nn.Module] = DropoutNet,
    **trainer_kwargs: Any,
) -> Run:
    """Fit ``model()`` (a :class:`DropoutNet`) for ``epochs`` on ``batches`` shuffled batches.

    ``init_seed`` seeds the model's initialisation and leaves the global RNGs in that state,
    so a resumed run starts from other weights and other RNG states than the run it resumes:
    only a complete checkpoint makes it end where the uninterrupted run ends.
    ``optimizer``: ``"adam"`` or ``"sgd"`` (Nesterov momentum). ``scheduler``: ``"epoch"``
    (StepLR, stepped per epoch) or ``"step"`` (OneCycleLR, stepped per step).
    """
    torch.manual_seed(init_seed)
    random.seed(init_seed)
    net = model()
    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    sched: Any
    if scheduler == "epoch":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.8)
    else:
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=500)
    trainer = Trainer(
        device="cpu",
        output_dir=output_dir,
        train_dataloader=DataLoader(
            Samples(batches * BATCH_SIZE, 1), batch_size=BATCH_SIZE, shuffle=True
        ),
        test_dataloader=[DataLoader(Samples(8, 2), batch_size=BATCH_SIZE)],
        train_data_connector=DataConnector({"inputs": "inputs"}),
        num_epochs=epochs,
        seed=7,
        plugins=list(plugins),
        callbacks=[EvalLoss(), *callbacks],
        handle_signals=False,
        scheduler_interval=scheduler,
        **trainer_kwargs,
    )
    trainer.fit(net, [opt], [sched], loss_module(), resume_from=resume_from)
    return Run(trainer, net, opt)


def load(path: Path) -> dict[str, Any]:
    """A checkpoint file, read the only safe way."""
    data: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    return data


def assert_same_tensors(a: Any, b: Any, where: str = "") -> None:
    """``a`` and ``b`` (nested dicts/lists of tensors and values) are bit for bit equal."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor), where
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b), f"{where}: tensors differ (max abs diff {(a - b).abs().max()})"
    elif isinstance(a, Mapping):
        assert isinstance(b, Mapping) and set(a) == set(b), f"{where}: keys {set(a) ^ set(b)}"
        for key in a:
            assert_same_tensors(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_tensors(x, y, f"{where}[{index}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"
