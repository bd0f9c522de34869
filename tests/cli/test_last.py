"""What ``last`` means (DESIGN decision 18), from real checkpoint files in real run folders:
``--resume last`` is the newest training run's newest complete checkpoint by the step recorded
inside; ``--weights last`` is the newest complete checkpoint of any run; both say which file
they took."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from clikit import TINY_CONFIG
from hookwise import checkpointing
from hookwise.cli import main
from hookwise.errors import CheckpointError
from hookwise.last import newest_checkpoint, resume_checkpoint, weights_checkpoint
from hookwise.runs import find_last_checkpoint, write_run_info


def save(path: Path, step: int, *, epoch: int = 0, complete: bool = True) -> Path:
    """A hookwise checkpoint of a tiny model at ``step``."""
    state = {
        "format": checkpointing.FORMAT,
        "format_version": checkpointing.FORMAT_VERSION,
        "epoch": epoch,
        "global_step": step,
        "epoch_complete": complete,
        "model": {"linear.weight": torch.zeros(2, 4), "linear.bias": torch.zeros(2)},
    }
    return checkpointing.atomic_save(state, path)


def age(path: Path, seconds: float) -> None:
    """Make ``path`` look ``seconds`` old."""
    stamp = path.stat().st_mtime - seconds
    os.utime(path, (stamp, stamp))


def run(root: Path, name: str, command: str = "fit") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    write_run_info(folder, command=command, status="finished", argv=[])
    return folder


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("HOOKWISE_PLUGINS", "HOOKWISE_ALLOWED_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOOKWISE_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.chdir(tmp_path)


def test_newest_by_the_recorded_step_not_the_file_time(tmp_path: Path) -> None:
    folder = run(tmp_path / "runs", "2024-01-01_00-00-00")
    save(folder / "checkpoints" / "later.ckpt", 40)
    save(folder / "checkpoints" / "copied-back.ckpt", 10)  # written last, an older state
    age(folder / "checkpoints" / "later.ckpt", 60)
    found = newest_checkpoint(folder)
    assert found.path.name == "later.ckpt" and found.global_step == 40
    assert found.describe() == f"{found.path} (step 40, epoch 0)"
    assert find_last_checkpoint(tmp_path / "runs").name == "later.ckpt"
    # At one step, a finished epoch is later than the same step mid-epoch.
    save(folder / "checkpoints" / "end-of-epoch.ckpt", 40, complete=True)
    save(folder / "checkpoints" / "later.ckpt", 40, complete=False)
    assert newest_checkpoint(folder).path.name == "end-of-epoch.ckpt"


def test_incomplete_and_foreign_files_are_passed_over(tmp_path: Path) -> None:
    folder = run(tmp_path / "runs", "2024-01-01_00-00-00")
    good = save(folder / "checkpoints" / "good.ckpt", 5)
    data = save(tmp_path / "whole.ckpt", 9).read_bytes()
    (folder / "checkpoints" / "cut.ckpt").write_bytes(data[: len(data) // 2])
    torch.save({"weights": torch.zeros(2)}, folder / "checkpoints" / "foreign.ckpt")
    (folder / "checkpoints" / "empty.ckpt").write_bytes(b"")
    assert newest_checkpoint(folder).path == good


def test_a_hard_linked_last_ckpt_is_the_name_reported(tmp_path: Path) -> None:
    folder = run(tmp_path / "runs", "2024-01-01_00-00-00")
    epoch_file = save(folder / "checkpoints" / "epoch=1-step=8.ckpt", 8)
    os.link(epoch_file, folder / "checkpoints" / "last.ckpt")
    save(folder / "checkpoints" / "epoch=0-step=4.ckpt", 4)
    assert newest_checkpoint(folder).path.name == "last.ckpt"


def test_resume_last_looks_only_at_the_newest_training_run(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    old = run(root, "2024-01-01_00-00-00")
    save(old / "checkpoints" / "last.ckpt", 12)
    evaluation = run(root, "2024-01-02_00-00-00", command="test")  # trains nothing
    assert resume_checkpoint(root).path == old / "checkpoints" / "last.ckpt"
    newest = run(root, "2024-01-03_00-00-00")
    with pytest.raises(CheckpointError, match=r"the newest run, '.*2024-01-03_00-00-00'"):
        resume_checkpoint(root)
    # --weights last takes the newest checkpoint of any run.
    assert weights_checkpoint(root).path == old / "checkpoints" / "last.ckpt"
    save(newest / "checkpoints" / "last.ckpt", 3)
    assert resume_checkpoint(root).path == newest / "checkpoints" / "last.ckpt"
    assert weights_checkpoint(root).path == newest / "checkpoints" / "last.ckpt"
    assert evaluation.is_dir()


def test_resume_last_on_the_command_line_names_the_run_without_a_checkpoint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = tmp_path / "runs"
    old = run(root, "2024-01-01_00-00-00")
    save(old / "checkpoints" / "last.ckpt", 12)
    (old / "config.toml").write_text(TINY_CONFIG, encoding="utf-8")
    crashed = run(root, "2024-01-02_00-00-00")  # started, crashed before its first checkpoint
    code = main(["fit", "--resume", "last", "--output-dir", str(root), "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"the newest run, {str(crashed)!r}, holds no complete checkpoint" in err
    assert "(given as --resume last)" in err
    # --weights last takes the older run's checkpoint and says so.
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_CONFIG.replace("epochs = 2", "epochs = 1"), encoding="utf-8")
    code = main(["fit", str(config), "--weights", "last", "--output-dir", str(root)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"--weights last: {old / 'checkpoints' / 'last.ckpt'} (step 12, epoch 0)" in err


def test_no_run_folders_or_no_output_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="it does not exist"):
        weights_checkpoint(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="it has no run folders"):
        weights_checkpoint(tmp_path / "empty")
    with pytest.raises(CheckpointError, match="it has no training run folders"):
        resume_checkpoint(tmp_path / "empty")
    folder = run(tmp_path / "runs", "2024-01-01_00-00-00")
    (folder / "run.json").write_text(json.dumps({"command": "fit"}), encoding="utf-8")
    with pytest.raises(CheckpointError, match=r"its 1 run folder\(s\) hold no complete"):
        weights_checkpoint(tmp_path / "runs")
    with pytest.raises(CheckpointError, match="no checkpoint to resume under"):
        newest_checkpoint(folder)
