"""Plugins and a tiny job for the command-line tests (imported by ``hookwise`` subprocesses,
which get this folder on ``PYTHONPATH``; pytest does not collect this file)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from hookwise import Callback, HookwiseError
from torch import nn
from torch.utils.data import DataLoader, Dataset


class Recorder(Callback):
    """Writes its parameters and its connector to ``{output_dir}/recorder-<tag>.json``.

    :param value: any string.
    :param count: an integer.
    :param mode: ``"a"`` or ``"b"``.
    :param tag: names the file.
    :param epoch_based: as in vis4d.
    :param train_connector: unused.
    :param test_connector: recorded.
    """

    def __init__(
        self,
        value: str = "default",
        count: int = 0,
        mode: Literal["a", "b"] = "a",
        tag: str = "recorder",
        epoch_based: bool = True,
        train_connector: Any = None,
        test_connector: Any = None,
    ) -> None:
        super().__init__(epoch_based, train_connector, test_connector)
        self.params = {"value": value, "count": count, "mode": mode, "tag": tag}

    def on_fit_start(self, trainer_state: Any, model: nn.Module) -> None:
        folder = Path(trainer_state["train_module"].output_dir)
        connector = getattr(self.test_connector, "key_mapping", None)
        data = {**self.params, "test_connector": connector}
        (folder / f"recorder-{self.params['tag']}.json").write_text(json.dumps(data))


class KillAt(Callback):
    """Sends a signal to its own process after training step ``step``.

    :param step: the global step after which the signal is sent.
    :param signal_name: ``"SIGTERM"`` or ``"SIGINT"``.
    """

    def __init__(self, step: int = 3, signal_name: str = "SIGTERM") -> None:
        super().__init__()
        self.step = step
        self.signal_name = signal_name

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
            os.kill(os.getpid(), getattr(signal, self.signal_name))


class Steps(Callback):
    """Appends every training step it sees to ``{output_dir}/steps.txt``."""

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        folder = Path(trainer_state["train_module"].output_dir)
        with open(folder / "steps.txt", "a", encoding="utf-8") as handle:
            handle.write(f"{trainer_state['current_epoch']} {trainer_state['global_step']}\n")


class TinyData(Dataset[dict[str, torch.Tensor]]):
    def __init__(self, n: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.inputs = torch.randn(n, 4, generator=generator)
        self.labels = (self.inputs.sum(dim=1) > 0).long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> Mapping[str, torch.Tensor]:
        return {"inputs": self.inputs[index], "labels": self.labels[index]}


def tiny_loader(n: int = 32, seed: int = 0, batch_size: int = 8) -> DataLoader[Any]:
    """``n`` samples ``{"inputs": float[4], "labels": long}`` in batches."""
    return DataLoader(TinyData(n, seed), batch_size=batch_size, shuffle=seed == 0)


class TinyModel(nn.Module):
    """``{"logits": Linear(4, 2)(inputs)}``."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.linear = nn.Linear(width, 2)

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.linear(inputs)}


class WrappedModel(nn.Module):
    """A model whose only child is ``self.model``: every state-dict key starts with
    ``model.``."""

    def __init__(self) -> None:
        super().__init__()
        self.model = TinyModel()

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.model(inputs)  # type: ignore[no-any-return]


class Note(Callback):
    """Writes the file ``name`` into the run folder at fit start.

    :param name: the file's name.
    """

    def __init__(self, name: str = "note.txt") -> None:
        super().__init__()
        self.name = name

    def on_fit_start(self, trainer_state: Any, model: nn.Module) -> None:
        folder = Path(trainer_state["train_module"].output_dir)
        (folder / self.name).write_text("a note\n", encoding="utf-8")


class TrainingInterrupted(HookwiseError):
    """A plugin's own error that happens to share the name of hookwise's signal exception."""


class RaisesLookalike(Callback):
    """Raises its own ``TrainingInterrupted`` (not hookwise's) at the first training step."""

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        raise TrainingInterrupted("a plugin's own error, not a signal")
