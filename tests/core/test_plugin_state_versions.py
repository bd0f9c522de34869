"""Plugin state carries a version: checkpoints record it, resume migrates an older state with the
plugin's ``migrate_state`` and refuses one it cannot read (DESIGN decision 29)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hookwise import CheckpointError, PluginValidationError, Trainer, hookimpl
from hookwise.checkpointing import load_checkpoint


class BestV1:
    """Version 1 of a plugin's state: a bare number."""

    def __init__(self) -> None:
        self.best = 0.5

    @hookimpl
    def on_fit_start(self) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]


class BestV2:
    """Version 2: the number and the metric it belongs to; reads version 1 by migrating."""

    state_version = 2

    def __init__(self) -> None:
        self.best: dict[str, float] = {}
        self.migrated_from: int | None = None

    @hookimpl
    def on_fit_start(self) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {"best": dict(self.best)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = dict(state["best"])

    def migrate_state(self, state: dict[str, Any], from_version: int) -> dict[str, Any]:
        self.migrated_from = from_version
        return {"best": {"val/loss": state["best"]}}


class BestV2NoMigration(BestV1):
    state_version = 2


def _checkpoint(
    fit_parts: Callable[..., dict[str, Any]], plugin: object, tmp_path: Path
) -> tuple[Path, dict[str, Any]]:
    parts = fit_parts(n_train=4, test_sizes=())
    trainer = Trainer(**{**parts["trainer"], "test_dataloader": None}, num_epochs=1)
    trainer.pm.enable_object(plugin, "best")
    trainer.fit(parts["model"], parts["optimizer"], loss_module=parts["loss"])
    return trainer.save_checkpoint(tmp_path / "saved.ckpt"), parts


def _resume(parts: dict[str, Any], plugin: object, file: Path) -> Trainer:
    trainer = Trainer(**{**parts["trainer"], "test_dataloader": None}, num_epochs=2)
    trainer.pm.enable_object(plugin, "best")
    trainer.fit(parts["model"], parts["optimizer"], loss_module=parts["loss"], resume_from=file)
    return trainer


def test_checkpoints_record_each_plugins_state_version(
    fit_parts: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    file, _ = _checkpoint(fit_parts, BestV2(), tmp_path)
    assert load_checkpoint(file)["plugin_state_versions"] == {"best": 2}


# An expected manifest change: the resume runs the plugin's next release.
@pytest.mark.filterwarnings("ignore::hookwise.ManifestChangedWarning")
def test_an_older_state_is_migrated_before_load_state_dict(
    fit_parts: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    file, parts = _checkpoint(fit_parts, BestV1(), tmp_path)
    assert load_checkpoint(file)["plugin_state_versions"] == {"best": 1}
    newer = BestV2()
    _resume(parts, newer, file)
    assert newer.migrated_from == 1
    assert newer.best == {"val/loss": 0.5}


def test_a_state_the_plugin_cannot_read_is_an_error_naming_the_fix(
    fit_parts: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    file, parts = _checkpoint(fit_parts, BestV1(), tmp_path)
    with pytest.raises(CheckpointError, match=r"plugin 'best'.*version 1.*add migrate_state"):
        _resume(parts, BestV2NoMigration(), file)
    newer_file, parts = _checkpoint(fit_parts, BestV2(), tmp_path / "newer")
    with pytest.raises(CheckpointError, match=r"plugin 'best'.*version 2, newer than.*1"):
        _resume(parts, BestV1(), newer_file)


def test_a_checkpoint_without_versions_counts_as_version_one() -> None:
    from hookwise import PluginManager

    pm = PluginManager()
    plugin = BestV2()
    pm.enable_object(plugin, "best")
    assert pm.load_state_dict({"best": {"best": 0.25}}) == []
    assert plugin.migrated_from == 1 and plugin.best == {"val/loss": 0.25}


def test_state_version_must_be_a_positive_integer() -> None:
    from hookwise import PluginManager

    class Bad(BestV1):
        state_version = "2"

    pm = PluginManager()
    pm.enable_object(Bad(), "bad")
    with pytest.raises(PluginValidationError, match=r"'bad': state_version must be a positive"):
        pm.state_versions()
