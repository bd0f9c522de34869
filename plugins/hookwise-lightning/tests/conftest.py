"""Fixtures: the tiny job on Lightning's own ``Trainer``, the reference each adapted callback
is compared with."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from hookwise.testing import TinyData
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import Logger
from torch.utils.data import DataLoader

# pytest runs in --import-mode=importlib: the tests import their helpers from this folder
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from lightning_reference import ReferenceModule  # noqa: E402


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread (several threads thrash on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


LightningFit = Callable[..., pl.Trainer]


@pytest.fixture
def lightning_fit(tmp_path: Path) -> LightningFit:
    """``lightning_fit(callbacks, epochs=..., values=..., ...)``: fit :class:`ReferenceModule`
    with Lightning's own ``Trainer`` on the data ``run_fit`` uses (3 batches of 4 an epoch,
    2 validation batches), then test it on the validation loader when ``test``; returns the
    trainer. Lightning's own warnings about this tiny setup
    (no workers, few batches) are silenced; everything else is as Lightning runs it."""

    def fit(
        callbacks: Sequence[pl.Callback],
        *,
        epochs: int = 2,
        values: Sequence[float] = (1.0,),
        scheduler: Callable[[Any], Any] | None = None,
        logger: Logger | bool = False,
        test: bool = False,
        **trainer_kwargs: Any,
    ) -> pl.Trainer:
        train = DataLoader(TinyData(12, 0), 4, shuffle=True)
        val = DataLoader(TinyData(8, 10_000), 4)
        options: dict[str, Any] = {
            "max_epochs": epochs,
            "accelerator": "cpu",
            "devices": 1,
            "logger": logger,
            "enable_checkpointing": any(isinstance(c, ModelCheckpoint) for c in callbacks),
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "num_sanity_val_steps": 0,
            "default_root_dir": str(tmp_path / "lightning-reference"),
            "log_every_n_steps": 1,
            **trainer_kwargs,
        }
        trainer = pl.Trainer(callbacks=list(callbacks), **options)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = ReferenceModule(values, scheduler=scheduler)
            trainer.fit(module, train, val)
            if test:
                trainer.test(module, val, verbose=False)
        return trainer

    return fit
