"""Fixtures for the core's tests: tiny fits (of hookwise.testing's tiny job), fake installed
distributions."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import DataConnector
from hookwise.testing import TinyData, TinyModel, tiny_loss
from torch.utils.data import DataLoader


@pytest.fixture
def fit_parts(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """Build the pieces of a tiny fit: ``parts(**trainer_kwargs)`` -> dict of trainer kwargs etc."""

    def parts(
        n_train: int = 12, batch_size: int = 4, test_sizes: tuple[int, ...] = (8,)
    ) -> dict[str, Any]:
        torch.manual_seed(0)
        model = TinyModel()
        return {
            "trainer": {
                "device": "cpu",
                "output_dir": tmp_path / "run",
                "train_dataloader": DataLoader(
                    TinyData(n_train), batch_size=batch_size, shuffle=True
                ),
                "test_dataloader": [
                    DataLoader(TinyData(size, seed=index + 1), batch_size=batch_size)
                    for index, size in enumerate(test_sizes)
                ],
                "train_data_connector": DataConnector({"inputs": "inputs"}),
            },
            "model": model,
            "optimizer": torch.optim.SGD(model.parameters(), lr=0.1),
            "loss": tiny_loss(),
        }

    return parts


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Create an installed distribution (a ``.dist-info`` folder on ``sys.path``, no pip).

    ``fake_dist("demo", {"demo_plugin": "demo_mod:Plugin"}, modules={"demo_mod": "..."})``
    """
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    monkeypatch.syspath_prepend(str(site))

    def make(
        name: str,
        entry_points: dict[str, str],
        modules: dict[str, str] | None = None,
        version: str = "1.0",
        group: str = "hookwise.plugins",
    ) -> Path:
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = "\n".join(f"{key} = {value}" for key, value in entry_points.items())
        (info / "entry_points.txt").write_text(f"[{group}]\n{lines}\n")
        for module, source in (modules or {}).items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
        return info

    return make
