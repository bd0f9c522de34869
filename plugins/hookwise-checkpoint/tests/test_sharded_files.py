"""The checkpoint plugin's file handling for sharded checkpoint folders (one process; the
plugin under ``fsdp`` and ``checkpoint_format="sharded"`` with real processes is
``tests/distributed/test_fsdp.py``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from hookwise_checkpoint import CheckpointCallback
from hookwise_checkpoint._files import (
    delete_quietly,
    finish_interrupted_save,
    link_or_copy,
    remove_temporaries,
    same_checkpoint,
)

SHARDS = (".metadata", "__0_0.distcp", "__1_0.distcp", "hookwise.pt")


def _folder(path: Path, content: str) -> Path:
    path.mkdir()
    for name in SHARDS:
        (path / name).write_text(f"{content}:{name}")
    return path


def test_a_folder_is_linked_file_by_file_and_replaces_an_older_one(tmp_path: Path) -> None:
    first = _folder(tmp_path / "epoch=0-step=3.ckpt", "a")
    second = _folder(tmp_path / "epoch=1-step=6.ckpt", "b")
    last = tmp_path / "last.ckpt"
    link_or_copy(first, last)
    assert same_checkpoint(first, last) and not same_checkpoint(second, last)
    link_or_copy(second, last)  # a folder is not renamed over a folder: the old one goes
    assert same_checkpoint(second, last)
    assert sorted(p.name for p in last.iterdir()) == sorted(SHARDS)
    assert all((last / n).samefile(second / n) for n in SHARDS)
    delete_quietly(second)  # a sharded checkpoint folder is the plugin's to remove
    assert not second.exists() and (last / "hookwise.pt").read_text() == "b:hookwise.pt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch=0-step=3.ckpt", "last.ckpt"]


def test_other_folders_stay_and_leftovers_of_sharded_saves_go(tmp_path: Path) -> None:
    other = tmp_path / "epoch=2-step=9.ckpt"
    other.mkdir()  # no hookwise.pt: not a checkpoint folder
    delete_quietly(other)
    assert other.is_dir()
    leftovers = (".epoch=3-step=12.ckpt.partial", ".last.ckpt.123.link.tmp", ".best.ckpt.7.old.tmp")
    for name in leftovers:
        _folder(tmp_path / name, "x")
    assert remove_temporaries(tmp_path) == [
        ".best.ckpt.7.old.tmp",
        ".epoch=3-step=12.ckpt.partial",
        ".last.ckpt.123.link.tmp",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch=2-step=9.ckpt"]


def test_an_interrupted_save_of_a_folder_is_finished(tmp_path: Path) -> None:
    primary = _folder(tmp_path / "epoch=1-step=6.ckpt", "new")
    _folder(tmp_path / "last.ckpt", "old")
    done = finish_interrupted_save(tmp_path, [primary.name, "last.ckpt"], [])
    assert done == ["linked last.ckpt"] and same_checkpoint(primary, tmp_path / "last.ckpt")
    assert finish_interrupted_save(tmp_path, [primary.name, "last.ckpt"], []) == []


class _ShardedTrainer:
    sharded_checkpoints = True
    world_size, rank = 2, 0

    def save_checkpoint(self, *args: Any, **kwargs: Any) -> Path:
        raise AssertionError("a sharded save needs every rank: never from on_exception")


def test_no_emergency_checkpoint_with_sharded_checkpoints(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plugin = CheckpointCallback(save_prefix=tmp_path)
    plugin._in_fit = True
    state: Any = {"trainer": _ShardedTrainer(), "current_epoch": 0, "global_step": 1}
    with caplog.at_level(logging.WARNING, logger="hookwise.checkpoint"):
        plugin.on_exception(state, None, RuntimeError("boom"), True)  # type: ignore[arg-type]
    assert "no emergency checkpoint" in caplog.text
    assert not (tmp_path / "checkpoints" / "emergency.ckpt").exists()
