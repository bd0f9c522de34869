"""The stability promise (DESIGN decision 29): hooks, the trainer API and the checkpoint format
carry versions that checkpoints record, and a plugin's declared ``hookwise`` requirement is
checked when it is enabled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import hookwise
import pytest
import torch
from hookwise import PluginLoadError, PluginManager, Trainer
from hookwise.checkpointing import FORMAT_VERSION, load_checkpoint

PLUGIN = """
from hookwise import hookimpl

class Plugin:
    @hookimpl
    def on_fit_start(self):
        pass
"""


def test_checkpoints_record_the_versions_of_hooks_api_and_format(
    fit_parts: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    parts = fit_parts(n_train=4)
    trainer = Trainer(**parts["trainer"], num_epochs=1)
    trainer.fit(parts["model"], parts["optimizer"], loss_module=parts["loss"])
    for weights_only in (False, True):
        file = trainer.save_checkpoint(tmp_path / f"{weights_only}.ckpt", weights_only=weights_only)
        data = load_checkpoint(file)
        assert data["format_version"] == FORMAT_VERSION
        assert data["versions"] == {
            "hookwise": hookwise.__version__,
            "hooks": hookwise.HOOKS_VERSION,
            "trainer_api": hookwise.TRAINER_API_VERSION,
            "torch": str(torch.__version__),
        }


def _with_requirement(info: Path, *requirements: str) -> None:
    metadata = info / "METADATA"
    lines = "".join(f"Requires-Dist: {r}\n" for r in requirements)
    metadata.write_text(metadata.read_text() + lines)


def test_a_plugin_needing_another_hookwise_is_refused_when_enabled(
    fake_dist: Callable[..., Path],
) -> None:
    info = fake_dist("demo-needs", {"needs": "needs_mod:Plugin"}, modules={"needs_mod": PLUGIN})
    _with_requirement(info, "torch>=1", "hookwise>=99")
    with pytest.raises(PluginLoadError) as caught:
        PluginManager().enable("needs")
    message = str(caught.value)
    assert "plugin 'needs' (distribution demo-needs 1.0) needs hookwise>=99" in message
    assert f"hookwise {hookwise.__version__} is running" in message
    assert "pip install 'hookwise>=99'" in message


def test_a_met_or_extra_only_requirement_enables_the_plugin(
    fake_dist: Callable[..., Path],
) -> None:
    info = fake_dist("demo-fits", {"fits": "fits_mod:Plugin"}, modules={"fits_mod": PLUGIN})
    _with_requirement(info, f"hookwise>={hookwise.__version__}", 'hookwise>=99; extra == "x"')
    pm = PluginManager()
    pm.enable("fits")
    assert pm.get_plugin("fits") is not None
