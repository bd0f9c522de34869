"""``async_save=True``: the same files as synchronous saving, links and deletes only once the
new file is durable, and exact resume from files written in the background."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import torch
from ckpt_training import Run, assert_same_tensors, load, train
from hookwise import Callback, ConfigError, saving
from hookwise.checkpointing import atomic_save
from hookwise_checkpoint import CheckpointCallback

EPOCHS = 4
STEP_PARAMS: dict[str, Any] = {"epoch_based": False, "checkpoint_period": 4, "keep_last": None}
STEP_RUN: dict[str, Any] = {"optimizer": "sgd", "scheduler": "step", "val_check_interval": 5}


def _run(folder: Path, *, async_save: bool, **extra: Any) -> Run:
    params = {**STEP_PARAMS, "async_save": async_save}
    return train(folder, epochs=EPOCHS, plugins=[("checkpoint", params)], **STEP_RUN, **extra)


def _without_folder(data: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint without the run folder it names (the two runs have their own) and
    without ``async_save`` in its manifest (the one parameter the two runs differ in)."""
    data["plugins"]["checkpoint"].pop("folder")
    for plugin in data["manifest"]["plugins"]:
        plugin["params"].pop("async_save", None)
    return data


def test_async_files_hold_what_sync_files_hold(tmp_path: Path) -> None:
    sync = _run(tmp_path / "sync", async_save=False)
    background = _run(tmp_path / "async", async_save=True)
    assert background.files() == sync.files()
    assert len(sync.files()) > 3
    for name in sync.files():
        assert_same_tensors(
            _without_folder(load(background.folder / name)),
            _without_folder(load(sync.folder / name)),
            name,
        )
    assert_same_tensors(background.model.state_dict(), sync.model.state_dict(), "model")


def test_resume_from_async_checkpoints_is_exact(tmp_path: Path) -> None:
    full = _run(tmp_path / "full", async_save=True)
    checkpoints = sorted(full.folder.glob("epoch=*.ckpt"))
    mid_epoch = [c for c in checkpoints if not load(c)["epoch_complete"]]
    assert mid_epoch
    for index, checkpoint in enumerate([mid_epoch[0], checkpoints[-2]]):
        resumed = _run(
            tmp_path / f"resumed-{index}", async_save=True, resume_from=checkpoint, init_seed=1234
        )
        assert_same_tensors(resumed.model.state_dict(), full.model.state_dict(), "model")
        assert_same_tensors(resumed.optimizer.state_dict(), full.optimizer.state_dict(), "opt")
        assert resumed.trainer.global_step == full.trainer.global_step


class Watcher(Callback):
    """At the start of the step after the second checkpoint, while that write is held, looks
    at the folder; then lets the write go on."""

    def __init__(self, folder: Path, gate: threading.Event) -> None:
        super().__init__()
        self.folder, self.gate = folder, gate
        self.seen: dict[str, Any] | None = None

    def on_train_batch_start(
        self, trainer_state: Any, model: Any, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer_state["global_step"] == 2 and self.seen is None:
            self.seen = {
                "files": sorted(p.name for p in self.folder.glob("*.ckpt")),
                "last_step": load(self.folder / "last.ckpt")["global_step"],
            }
            self.gate.set()


def test_links_and_deletes_wait_for_the_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()

    def held_write(obj: Any, path: Any) -> Path:
        if Path(path).name == "epoch=0-step=2.ckpt":
            assert gate.wait(timeout=60)
        return atomic_save(obj, path)

    monkeypatch.setattr(saving, "atomic_save", held_write)
    run = tmp_path / "run"
    watcher = Watcher(run / "checkpoints", gate)
    params = {"epoch_based": False, "checkpoint_period": 1, "keep_last": 1, "async_save": True}
    done = train(run, epochs=1, plugins=[("checkpoint", params)], callbacks=[watcher])
    # while step 2's file was being written: step 1's file and last.ckpt (step 1) untouched
    assert watcher.seen == {"files": ["epoch=0-step=1.ckpt", "last.ckpt"], "last_step": 1}
    assert done.files() == ["epoch=0-step=6.ckpt", "last.ckpt"]
    assert load(done.folder / "last.ckpt")["global_step"] == 6


def test_async_save_must_be_a_bool() -> None:
    with pytest.raises(ConfigError, match="async_save must be True or False"):
        CheckpointCallback(async_save="yes")  # type: ignore[arg-type]
    assert CheckpointCallback().async_save is False


def test_the_emergency_checkpoint_waits_for_the_write_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []

    def slow_write(obj: Any, path: Any) -> Path:
        threading.Event().wait(0.2 if Path(path).name.startswith("epoch=") else 0)
        written = atomic_save(obj, path)
        order.append(Path(path).name)
        return written

    monkeypatch.setattr(saving, "atomic_save", slow_write)

    class Fails(Callback):
        def on_train_batch_start(self, trainer_state: Any, *args: Any, **kwargs: Any) -> None:
            if trainer_state["global_step"] == 1:
                raise RuntimeError("boom")

    params = {"epoch_based": False, "checkpoint_period": 1, "async_save": True}
    with pytest.raises(RuntimeError, match="boom"):
        train(tmp_path / "run", epochs=1, plugins=[("checkpoint", params)], callbacks=[Fails()])
    folder = tmp_path / "run" / "checkpoints"
    assert order == ["epoch=0-step=1.ckpt", "emergency.ckpt"]
    assert load(folder / "last.ckpt")["global_step"] == 1
    assert torch.equal(
        load(folder / "emergency.ckpt")["model"]["body.0.weight"],
        load(folder / "last.ckpt")["model"]["body.0.weight"],
    )
