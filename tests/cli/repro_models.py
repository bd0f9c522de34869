"""A model with dropout for the reproducibility tests (imported by ``hookwise`` subprocesses,
which get this folder on ``PYTHONPATH``; pytest does not collect this file)."""

from __future__ import annotations

import torch
from torch import nn


class TinyDropoutModel(nn.Module):
    """``inputs [B, 4] -> {"logits": [B, 2]}`` through a hidden layer with dropout, so both
    the initial weights and every training step depend on the random state."""

    def __init__(self, hidden: int = 16, dropout: float = 0.5) -> None:
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.head = nn.Linear(hidden, 2)

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.head(self.hidden(inputs))}
