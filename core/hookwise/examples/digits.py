"""The default job: a small MLP on scikit-learn's bundled handwritten digits.

The 1797 images (8x8 pixels, 10 classes) ship inside scikit-learn, so the example runs
offline. They are split once, by a seeded permutation, into 70% train, 15% validation and 15%
test. Batches are dicts ``{"inputs": float [B, 64] in [0, 1], "labels": long [B]}``; the
model returns ``{"logits": [B, 10]}``.

Used by the embedded default config (``hookwise fit --dry-run`` prints it)::

    [model]
    target = "hookwise.examples.digits:DigitsMLP"
    [data]
    train = { target = "hookwise.examples.digits:loader", split = "train" }
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from hookwise.errors import ConfigError

Split = Literal["train", "val", "test"]
SPLITS: tuple[str, ...] = ("train", "val", "test")
#: The share of the images in the train and validation splits (test gets the rest).
FRACTIONS = (0.7, 0.15)


@functools.lru_cache(maxsize=4)
def _splits(split_seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    try:
        from sklearn.datasets import load_digits  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError(
            'the digits example needs scikit-learn: pip install "hookwise[examples]"'
        ) from exc
    bunch: Any = load_digits()
    inputs = torch.as_tensor(bunch.data, dtype=torch.float32) / 16.0
    labels = torch.as_tensor(bunch.target, dtype=torch.long)
    generator = torch.Generator().manual_seed(split_seed)
    order = torch.randperm(len(labels), generator=generator)
    n_train = int(len(labels) * FRACTIONS[0])
    n_val = int(len(labels) * FRACTIONS[1])
    parts = {
        "train": order[:n_train],
        "val": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }
    return {name: (inputs[index], labels[index]) for name, index in parts.items()}


class DigitsDataset(Dataset[dict[str, torch.Tensor]]):
    """One split of the digits: items ``{"inputs": float [64], "labels": long []}``.

    :param split: ``"train"``, ``"val"`` or ``"test"``.
    :param split_seed: the seed of the permutation that splits the images.
    """

    def __init__(self, split: Split = "train", split_seed: int = 0) -> None:
        if split not in SPLITS:
            raise ConfigError(f"digits: split must be one of {list(SPLITS)}, got {split!r}")
        self.inputs, self.labels = _splits(split_seed)[split]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"inputs": self.inputs[index], "labels": self.labels[index]}


def loader(
    split: Split = "train",
    batch_size: int = 64,
    shuffle: bool | None = None,
    split_seed: int = 0,
    num_workers: int = 0,
) -> DataLoader[dict[str, torch.Tensor]]:
    """A data loader over one split of the digits.

    :param split: ``"train"``, ``"val"`` or ``"test"``.
    :param batch_size: images per batch.
    :param shuffle: shuffle every epoch (default: only the train split). The trainer seeds
        the order from its seed and the epoch.
    :param split_seed: the seed of the permutation that splits the images.
    :param num_workers: data-loading worker processes.
    """
    dataset = DigitsDataset(split, split_seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=split == "train" if shuffle is None else shuffle,
        num_workers=num_workers,
    )


class DigitsMLP(nn.Module):
    """A multi-layer perceptron for 8x8 digits: ``forward(inputs)`` returns ``{"logits"}``.

    :param in_features: input size (64 pixels).
    :param hidden: the width of each hidden layer.
    :param layers: the number of hidden layers.
    :param num_classes: the number of classes (10 digits).
    :param dropout: dropout probability after each hidden layer.
    """

    def __init__(
        self,
        in_features: int = 64,
        hidden: int = 128,
        layers: int = 2,
        num_classes: int = 10,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        width = in_features
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        blocks.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*blocks)

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return ``{"logits": [B, num_classes]}`` for ``inputs`` of shape ``[B, 64]``."""
        return {"logits": self.net(inputs.flatten(1))}


__all__ = ["DigitsDataset", "DigitsMLP", "loader"]
