"""The run manifest: every checkpoint records what made the run, and a resume compares the
checkpoint's manifest with its own and warns once, naming each change (DESIGN decisions 21
and 27)."""

from __future__ import annotations

import importlib.metadata
import logging
import platform
import warnings
from pathlib import Path
from typing import Any

import hookwise
import pytest
import torch
from hookwise import CheckpointError, ManifestChangedWarning
from hookwise.checkpointing import load_checkpoint
from hookwise.manifest import plain
from hookwise.manifest_changes import manifest_changes
from hookwise.testing import run_fit
from support.manifest_plugins import Label

SCALED = "support.manifest_plugins:Scaled"
STOPPING = ("early_stopping", {"monitor": "val/loss", "patience": 3})


def _saved(tmp_path: Path, plugins: list[Any]) -> Path:
    first = run_fit(plugins, epochs=1, test=False, tmp_path=tmp_path / "first")
    return first.trainer.save_checkpoint(tmp_path / "saved.ckpt")


def _resume(tmp_path: Path, plugins: list[Any], checkpoint: Path) -> Any:
    return run_fit(
        plugins, epochs=2, test=False, tmp_path=tmp_path / "second", resume_from=checkpoint
    )


def test_a_checkpoint_records_versions_plugins_order_settings_and_seed(tmp_path: Path) -> None:
    scaled = (SCALED, {"factor": 2.0, "label": Label("x"), "kind": Label})
    file = _saved(tmp_path, [scaled, STOPPING])
    manifest = load_checkpoint(file)["manifest"]  # read back by the safe loader
    assert manifest["versions"]["python"] == platform.python_version()
    assert manifest["versions"]["torch"] == str(torch.__version__)
    assert manifest["versions"]["hookwise"] == hookwise.__version__
    assert manifest["seed"] == 0
    assert manifest["config"] is None
    assert manifest["settings"]["num_epochs"] == 1 and manifest["settings"]["device"] == "cpu"
    plugins = {entry["name"]: entry for entry in manifest["plugins"]}
    assert plugins[SCALED]["params"] == {
        "factor": 2.0,
        "label": "Label('x')",  # an object: its repr
        "kind": "support.manifest_plugins:Label",  # a class: its import path
    }
    assert plugins[SCALED]["state"] is True
    stopping = plugins["early_stopping"]
    assert stopping["distribution"] == "hookwise-early-stopping"
    assert stopping["version"] == importlib.metadata.version("hookwise-early-stopping")
    assert stopping["params"] == {"monitor": "val/loss", "patience": 3}
    names = [entry["name"] for entry in manifest["plugins"]]
    assert names.index(SCALED) < names.index("early_stopping")  # enabled order
    assert SCALED in manifest["hook_order"]["on_train_batch_end"]
    assert manifest["hook_order"]["on_validation_end"][-1] == "early_stopping"


def test_every_file_of_the_checkpoint_plugin_records_the_manifest(tmp_path: Path) -> None:
    result = run_fit([("checkpoint", {"keep_last": 5})], epochs=2, test=False, tmp_path=tmp_path)
    assert result.checkpoints
    for file in result.checkpoints:
        plugins = load_checkpoint(file)["manifest"]["plugins"]
        assert {"name": "checkpoint", "params": {"keep_last": 5}}.items() <= {
            k: v for k, v in plugins[-1].items() if k in ("name", "params")
        }.items()


def test_an_unchanged_resume_warns_nothing(tmp_path: Path) -> None:
    plugins = [(SCALED, {"factor": 2.0}), STOPPING]
    file = _saved(tmp_path, plugins)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resumed = _resume(tmp_path, plugins, file)
    assert resumed.trainer.resumed_from == file


def test_a_resume_warns_once_naming_each_change(tmp_path: Path) -> None:
    file = _saved(tmp_path, [(SCALED, {"factor": 2.0}), STOPPING])
    with pytest.warns(ManifestChangedWarning) as caught:
        _resume(tmp_path, [(SCALED, {"factor": 3.0}), "lr_monitor"], file)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "(3 changes)" in message
    assert f"plugin '{SCALED}': parameter factor 2.0 -> 3.0" in message
    assert "plugin 'lr_monitor' added (hookwise-lr-monitor " in message
    assert "plugin 'early_stopping' removed (hookwise-early-stopping " in message
    assert "its saved state is not loaded" in message


def test_a_resume_names_plugins_called_in_another_order(tmp_path: Path) -> None:
    file = _saved(tmp_path, [SCALED, "lr_monitor"])
    with pytest.warns(ManifestChangedWarning, match="hook on_train_batch_end calls") as caught:
        _resume(tmp_path, ["lr_monitor", SCALED], file)
    now, _, was = str(caught[0].message).partition(" in this order, was ")
    assert now.endswith(f"lr_monitor, {SCALED}") and was.endswith(f"{SCALED}, lr_monitor")


def test_a_change_that_makes_the_state_unloadable_is_an_error_listing_the_changes(
    tmp_path: Path,
) -> None:
    file = _saved(tmp_path, [(SCALED, {"state_version": 1})])
    with pytest.raises(CheckpointError, match="has no migrate_state") as caught:
        _resume(tmp_path, [(SCALED, {"state_version": 2})], file)
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert f"plugin '{SCALED}': parameter state_version 1 -> 2" in notes


def test_a_checkpoint_without_a_manifest_resumes_with_one_line_saying_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = _saved(tmp_path, [SCALED])
    data = torch.load(file, weights_only=True)
    del data["manifest"]  # as an older hookwise wrote it
    torch.save(data, file)
    with caplog.at_level(logging.INFO, logger="hookwise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        _resume(tmp_path, [(SCALED, {"factor": 9.0})], file)
    lines = [r.getMessage() for r in caplog.records if "no run manifest" in r.getMessage()]
    assert len(lines) == 1 and str(file) in lines[0]


def _manifest(**changes: Any) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "versions": {"hookwise": "0.1.0", "torch": "2.5.0", "python": "3.11.7"},
        "seed": 0,
        "plugins": [
            {
                "name": "logging",
                "distribution": "hookwise-logging",
                "version": "0.1.0",
                "target": "hookwise_logging:LoggingCallback",
                "params": {"plot": True},
            },
        ],
        "hook_order": {"on_fit_start": ["logging"]},
        "config": {"optimizer": {"lr": 0.1}, "trainer": {"epochs": 2, "seed": 0}},
        "settings": None,
    }
    manifest.update(changes)
    return manifest


def test_versions_config_keys_and_upgrades_are_named() -> None:
    old = _manifest()
    new = _manifest(
        versions={"hookwise": "0.2.0", "torch": "2.6.0", "python": "3.12.1"},
        plugins=[{**old["plugins"][0], "version": "0.3.0"}],
        config={"optimizer": {"lr": 0.01}, "trainer": {"epochs": 9, "seed": 4}},
    )
    assert manifest_changes(old, new) == [
        "hookwise 0.1.0 -> 0.2.0",
        "torch 2.5.0 -> 2.6.0",
        "Python 3.11.7 -> 3.12.1",
        "plugin 'logging': hookwise-logging 0.1.0 -> 0.3.0",
        "config optimizer.lr: 0.1 -> 0.01 (not used: the resumed run restores the "
        "checkpoint's optimizer state, its hyperparameters included)",
        "config trainer.seed: 0 -> 4 (a resumed run keeps the checkpoint's seed and RNG state)",
    ]  # trainer.epochs: a resume may lengthen the run
    assert manifest_changes(old, _manifest()) == []


def test_a_run_length_that_the_job_follows_is_named() -> None:
    job = {"scheduler": {"T_max": "${trainer.epochs}"}, "model": {"hidden": 8}}
    old = _manifest(config={**job, "trainer": {"epochs": 1}})
    new = _manifest(config={**job, "model": {"hidden": 16}, "trainer": {"epochs": 3}})
    assert manifest_changes(old, new) == [
        "config model.hidden: 8 -> 16",
        "config trainer.epochs: 1 -> 3 (scheduler.T_max follows it, but the resumed run "
        "restores the checkpoint's scheduler state)",
    ]


def test_settings_are_compared_without_a_config() -> None:
    old = _manifest(
        config=None, settings={"seed": 1, "num_epochs": 2, "scheduler_interval": "epoch"}
    )
    new = _manifest(
        config=None, settings={"seed": None, "num_epochs": 5, "scheduler_interval": "step"}
    )
    assert manifest_changes(old, new) == ['setting scheduler_interval: "epoch" -> "step"']


def test_parameters_are_recorded_as_plain_data() -> None:
    class Thing:
        pass

    recorded = plain(
        {"path": Path("a/b"), "set": {3, 1}, "tensor": torch.zeros(2, 3), "obj": Thing()}
    )
    assert recorded["path"] == str(Path("a/b"))
    assert recorded["set"] == [1, 3]
    assert recorded["tensor"] == "Tensor(shape=[2, 3], dtype=torch.float32)"
    assert " at 0x" not in recorded["obj"] and "Thing object" in recorded["obj"]


def test_a_plugin_from_another_distribution_or_target_is_named() -> None:
    old = _manifest()
    moved = {**old["plugins"][0], "distribution": None, "version": None, "target": "mine:Log"}
    assert manifest_changes(old, _manifest(plugins=[moved])) == [
        "plugin 'logging' is now mine:Log, was hookwise-logging 0.1.0 "
        "(hookwise_logging:LoggingCallback)"
    ]
