"""Tiny training pieces for the profiler's tests (a fit takes a few milliseconds)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import DataConnector, Trainer
from hookwise.testing import TinyData, TinyModel, tiny_loss
from torch.utils.data import DataLoader

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
        loss = tiny_loss()

        def fit() -> dict[str, float]:
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            return trainer.fit(model, optimizer, loss_module=loss)

        return trainer, fit

    return make
