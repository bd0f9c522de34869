"""On a GPU: loss metrics handed to plugins cost no host-device synchronisation until a plugin
reads one, and then one per step however many values and readers. Skipped, with its reason,
where there is no GPU."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import hookimpl
from hookwise.testing import run_fit

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="needs a CUDA GPU (torch.cuda.is_available() is False)",
    ),
]

STEPS = 60


class Receives:
    """Gets the step's metrics and keeps them, reading nothing."""

    def __init__(self) -> None:
        self.kept: list[Any] = []

    @hookimpl
    def on_train_batch_end(self, trainer_state: Any) -> None:
        self.kept.append(trainer_state["metrics"])


class Reads:
    """Reads every loss metric as a float, as vis4d code does."""

    @hookimpl
    def on_train_batch_end(self, trainer_state: Any) -> None:
        metrics = trainer_state["metrics"]
        assert all(type(metrics[key]) is float for key in metrics)


def synchronisations(fit: Callable[[], Any]) -> int:
    """How many host-device synchronisations ``fit`` makes (torch's sync debug mode)."""
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return sum("synchronizing" in str(w.message) for w in caught)


def test_metrics_synchronise_only_when_read(tmp_path: Path) -> None:
    counter = itertools.count()

    def fit(*plugins: Any) -> Callable[[], Any]:
        folder = tmp_path / f"fit{next(counter)}"
        options = {"epochs": 1, "batches": STEPS, "val_batches": 1, "test": False}
        return lambda: run_fit(list(plugins), device="cuda", tmp_path=folder, **options)

    fit()()  # warm-up: CUDA and the libraries load outside the counts
    alone = synchronisations(fit())
    received = synchronisations(fit(Receives()))
    read_twice = synchronisations(fit(Reads(), Reads()))
    assert received - alone <= 2, (alone, received)
    # one read per step: every value at once, and the second reader reads the floats
    assert STEPS <= read_twice - alone <= STEPS + 4, (alone, read_twice)
