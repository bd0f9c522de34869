"""A plugin the manifest tests enable by import path (``support.manifest_plugins:Scaled``),
with a number, an object and a state layout version as parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hookwise import Callback


class Label:
    """An object given as a parameter (recorded by its ``repr``, never pickled)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Label({self.text!r})"


class Scaled(Callback):
    """Counts training batches (its state); ``state_version`` sets its state layout's version."""

    def __init__(
        self, factor: float = 1.0, label: Any = None, kind: Any = None, state_version: int = 1
    ) -> None:
        super().__init__()
        self.factor = factor
        self.label = label
        self.kind = kind
        self.state_version = state_version
        self.batches = 0

    def on_train_batch_end(self, *args: Any, **kwargs: Any) -> None:
        self.batches += 1

    def state_dict(self) -> dict[str, Any]:
        return {"batches": self.batches}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.batches = int(state_dict["batches"])
