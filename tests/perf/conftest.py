"""Tiny training pieces for the profiler's tests (a fit takes a few milliseconds)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import DataConnector, LossConnector, LossModule, Trainer, data_key, pred_key
from torch import nn
from torch.utils.data import DataLoader, Dataset


class TinyData(Dataset[dict[str, torch.Tensor]]):
    """``n`` samples ``{"inputs": float[4], "labels": long}``, the same for the same seed."""

    def __init__(self, n: int, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.inputs = torch.randn(n, 4, generator=generator)
        self.labels = (self.inputs.sum(dim=1) > 0).long()

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"inputs": self.inputs[index], "labels": self.labels[index]}


class TinyModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.linear(inputs)}


MakeTrainer = Callable[..., tuple[Trainer, Callable[[], dict[str, float]]]]


@pytest.fixture
def make_trainer(tmp_path: Path) -> MakeTrainer:
    """``trainer, fit = make_trainer(**trainer_kwargs)``: 3 batches of 4 per epoch, 2 epochs,
    a validation loader of 2 batches; ``fit()`` runs ``trainer.fit`` on a fresh tiny model."""

    def make(**kwargs: Any) -> tuple[Trainer, Callable[[], dict[str, float]]]:
        torch.manual_seed(0)
        settings: dict[str, Any] = {
            "device": "cpu",
            "output_dir": tmp_path / "run",
            "train_dataloader": DataLoader(TinyData(12), batch_size=4, shuffle=True),
            "test_dataloader": [DataLoader(TinyData(8, seed=1), batch_size=4)],
            "train_data_connector": DataConnector({"inputs": "inputs"}),
            "num_epochs": 2,
            "seed": 0,
            "handle_signals": False,
        }
        settings.update(kwargs)
        trainer = Trainer(**settings)
        model = TinyModel()
        loss = LossModule(
            {
                "loss": nn.CrossEntropyLoss(),
                "connector": LossConnector(
                    {"input": pred_key("logits"), "target": data_key("labels")}
                ),
            }
        )

        def fit() -> dict[str, float]:
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            return trainer.fit(model, optimizer, loss_module=loss)

        return trainer, fit

    return make
