"""On a GPU: the plugin reads logged values off the device only at its flushes, never once per
step. Skipped, with its reason, where there is no GPU."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import hookimpl

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="needs a CUDA GPU (torch.cuda.is_available() is False)",
    ),
]

STEPS = 120


class DeviceValue:
    """Returns a value computed on the GPU every step (a 0-d CUDA tensor, no host copy)."""

    @hookimpl
    def on_train_batch_end(self, outputs: Any) -> Any:
        return {"mean_logit": outputs["logits"].detach().mean()}


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


def test_no_synchronisation_per_step(
    run_fit: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    counter = itertools.count()

    def fit(*plugins: Any) -> Callable[[], Any]:
        folder = tmp_path / f"fit{next(counter)}"
        options = {"epochs": 1, "batches": STEPS, "val_batches": 1, "test": False}
        return lambda: run_fit([DeviceValue(), *plugins], device="cuda", tmp_path=folder, **options)

    fit()()  # warm-up: CUDA and the libraries load outside the counts
    alone = synchronisations(fit())
    batched = synchronisations(fit(("mlflow", {"tracking_uri": uri, "log_every_n_steps": 40})))
    every_step = synchronisations(fit(("mlflow", {"tracking_uri": uri, "log_every_n_steps": 1})))
    # flushes at steps 40, 80, 120, after the epoch, the validation and at the end: one
    # transfer each; sending every step shows that the count sees the plugin's transfers
    assert batched - alone <= 8, (alone, batched)
    assert every_step - alone >= STEPS, (alone, every_step)
