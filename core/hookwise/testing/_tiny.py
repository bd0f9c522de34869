"""The tiny data set, model and loss that :func:`~hookwise.testing.run_fit` trains.

Public as ``hookwise.testing.TinyData``, ``TinyModel``, ``CrossEntropy`` and ``tiny_loss``, for
tests that build their own :class:`~hookwise.Trainer` around the same job. This module imports
torch; ``hookwise.testing`` imports it only when one of these names is first used.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from hookwise.connectors import LossConnector, data_key, pred_key
from hookwise.loss import LossModule


class TinyData(Dataset[dict[str, torch.Tensor]]):
    """``n`` samples ``{"inputs": float [4], "labels": long []}``, the same for the same seed.

    The label is 1 where the inputs sum to more than 0, so :class:`TinyModel` can learn it.

    :param n: the number of samples.
    :param seed: seeds a private generator (the global RNG is left alone).
    """

    def __init__(self, n: int = 12, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.inputs = torch.randn(n, 4, generator=generator)
        self.labels = (self.inputs.sum(dim=1) > 0).long()

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"inputs": self.inputs[index], "labels": self.labels[index]}


class TinyModel(nn.Module):
    """``inputs [B, 4] -> {"logits": [B, 2]}``: one ``Linear(4, 2)``, no randomness in forward.

    Feed it with ``DataConnector({"inputs": "inputs"})``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.linear(inputs)}


class CrossEntropy(nn.Module):
    """``cross_entropy(logits, labels)``, with the argument names :func:`tiny_loss` connects."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(logits, labels)


def tiny_loader(
    n: int = 12, batch_size: int = 4, seed: int = 0, shuffle: bool = False
) -> DataLoader[dict[str, torch.Tensor]]:
    """A ``DataLoader`` over :class:`TinyData` (the data of :func:`tiny_job`'s configs:
    ``{target = "hookwise.testing:tiny_loader", n = 12}``)."""
    return DataLoader(TinyData(n, seed), batch_size=batch_size, shuffle=shuffle)


def tiny_loss(name: str = "cross_entropy") -> LossModule:
    """A :class:`~hookwise.LossModule` of :class:`CrossEntropy` between :class:`TinyModel`'s
    ``logits`` and :class:`TinyData`'s ``labels``.

    :param name: the loss's name in the logged metrics.
    """
    return LossModule(
        {
            "loss": CrossEntropy(),
            "connector": LossConnector(
                {"logits": pred_key("logits"), "labels": data_key("labels")}
            ),
            "name": name,
        }
    )
