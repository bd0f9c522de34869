"""Checkpoints written in the background (the checkpoint plugin's ``async_save=True``): a write
that fails on disk, and SIGTERM while a write is in flight (sent for real to a child)."""

from __future__ import annotations

import errno
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from faultkit import ChildRun, checkpoint_files, fit, make_trainer
from hookwise import Callback, CheckpointError, saving
from hookwise.checkpointing import atomic_save, load_checkpoint

STEP_PLUGIN = ["checkpoint", {"epoch_based": False, "checkpoint_period": 1, "async_save": True}]


@pytest.mark.fault("ckpt.async-write-fails")
def test_a_failed_background_write_ends_the_run_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full_at_step_2(obj: Any, path: Any) -> Path:
        if Path(path).name == "epoch=0-step=2.ckpt":
            raise OSError(errno.ENOSPC, "No space left on device")
        return atomic_save(obj, path)

    monkeypatch.setattr(saving, "atomic_save", disk_full_at_step_2)
    run = tmp_path / "run"
    trainer = make_trainer(run, plugins=[tuple(STEP_PLUGIN)], epochs=2, batches=3)
    with pytest.raises(CheckpointError, match=r"epoch=0-step=2\.ckpt.*No space left") as caught:
        fit(trainer)
    assert isinstance(caught.value.__cause__, OSError)
    # reported at the step after the failed save at the latest (the write may fail fast)
    assert trainer.global_step in (2, 3)
    folder = run / "checkpoints"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["emergency.ckpt", "epoch=0-step=1.ckpt", "last.ckpt"], names
    assert load_checkpoint(folder / "last.ckpt")["global_step"] == 1
    emergency = load_checkpoint(folder / "emergency.ckpt")
    assert emergency["global_step"] == trainer.global_step
    assert emergency["plugins"]["checkpoint"]["kept"] == ["epoch=0-step=1.ckpt"]


class ReleasesTheWrite(Callback):
    """At the start of step 3 lets the held write fail and waits until it has, so that the
    checkpoint plugin's next save (at the end of step 3) is the first to see the failure."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__()
        self.gate = gate

    def on_train_batch_start(
        self, trainer_state: Any, model: Any, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer_state["global_step"] == 2:
            self.gate.set()
            trainer_state["train_module"]._async_saver.wait()


@pytest.mark.fault("ckpt.async-write-fails")
def test_a_failed_background_write_seen_by_the_next_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()

    def disk_full_at_step_2(obj: Any, path: Any) -> Path:
        if Path(path).name == "epoch=0-step=2.ckpt":
            assert gate.wait(timeout=60)
            raise OSError(errno.EIO, "Input/output error")
        return atomic_save(obj, path)

    monkeypatch.setattr(saving, "atomic_save", disk_full_at_step_2)
    run = tmp_path / "run"
    trainer = make_trainer(
        run, plugins=[tuple(STEP_PLUGIN)], callbacks=[ReleasesTheWrite(gate)], batches=3
    )
    with pytest.raises(CheckpointError, match=r"epoch=0-step=2\.ckpt.*Input/output") as caught:
        fit(trainer)
    assert any("checkpoint" in note for note in getattr(caught.value, "__notes__", []))
    folder = run / "checkpoints"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["emergency.ckpt", "epoch=0-step=1.ckpt", "last.ckpt"], names
    assert load_checkpoint(folder / "last.ckpt")["global_step"] == 1
    assert load_checkpoint(folder / "emergency.ckpt")["global_step"] == 3
    # the plugin's bookkeeping of the save that never started was rolled back
    assert load_checkpoint(folder / "emergency.ckpt")["plugins"]["checkpoint"]["kept"] == [
        "epoch=0-step=1.ckpt"
    ]


@pytest.mark.slow
@pytest.mark.fault("signal.sigterm-async-write")
def test_sigterm_during_a_background_write_leaves_a_loadable_last(tmp_path: Path) -> None:
    work = tmp_path / "child"
    spec = {"epochs": 2, "batches": 3, "plugins": [STEP_PLUGIN], "pause_in_background_write": 1}
    with ChildRun(work, spec) as child:
        child.wait_paused()  # the writer thread holds step 1's checkpoint, not yet written
        child.send(signal.SIGTERM)
        child.release()
        result = child.finish()
    assert result.returncode == 128 + signal.SIGTERM, result.describe()
    assert "Traceback" not in result.stderr, result.describe()
    folder = work / "run" / "checkpoints"
    files = checkpoint_files(folder)
    assert result.result is not None
    steps = {path.name: load_checkpoint(path)["global_step"] for path in files}
    assert steps["epoch=0-step=1.ckpt"] == 1  # the write in flight finished
    assert steps["last.ckpt"] == max(s for n, s in steps.items() if n.startswith("epoch="))
    assert steps["interrupted.ckpt"] == result.result["global_step"]
    assert not list(folder.glob(".*tmp"))
