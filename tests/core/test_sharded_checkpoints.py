"""Sharded checkpoint folders (``hookwise.sharded``) in one process, without a process group.

DCP writes and reads the same folders with or without a group, so the folder layout, the
atomic move into place, ``last``'s view of folders, the conversion to one file and the
refusals are tested here quickly; ``tests/distributed/test_fsdp.py`` runs them under FSDP
with real processes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import checkpointing, sharded
from hookwise.errors import CheckpointError
from hookwise.last import newest_checkpoint
from torch import nn


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def _trained(seed: int = 0) -> tuple[nn.Module, torch.optim.Optimizer]:
    model = _model(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(3, 4)).sum().backward()
    optimizer.step()
    return model, optimizer


def _state(step: int) -> dict[str, Any]:
    return {
        "format": checkpointing.FORMAT,
        "format_version": checkpointing.FORMAT_VERSION,
        "epoch": step,
        "global_step": step,
        "seed": 3,
        "model": {"ignored": torch.zeros(1)},
        "optimizers": [],
        "plugins": {"p": {"calls": step}},
        "metrics": {"val/x": 1.0},
    }


def test_a_sharded_checkpoint_is_a_folder_of_shards_and_hookwise_file(tmp_path: Path) -> None:
    model, optimizer = _trained()
    folder = sharded.save(tmp_path / "epoch1.ckpt", _state(1), model, [optimizer])
    names = sorted(p.name for p in folder.iterdir())
    assert names == [".metadata", "__0_0.distcp", "hookwise.pt"]
    meta = sharded.load_meta(folder)
    assert meta["global_step"] == 1 and meta["plugins"] == {"p": {"calls": 1}}
    assert meta["model"] == {} and meta["sharded"]["world_size"] == 1
    assert not sharded.partial_folder(folder).exists()
    # restore into a fresh model and optimizer: equal weights and momentum buffers
    fresh, fresh_optimizer = _model(seed=5), None
    fresh_optimizer = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    sharded.load_training(folder, meta, fresh, [fresh_optimizer])
    for (key, value), other in zip(
        model.state_dict().items(), fresh.state_dict().values(), strict=True
    ):
        assert torch.equal(value, other), key
    saved = optimizer.state_dict()["state"]
    restored = fresh_optimizer.state_dict()["state"]
    for index in saved:
        assert torch.equal(saved[index]["momentum_buffer"], restored[index]["momentum_buffer"])


def test_a_crash_mid_save_leaves_the_previous_checkpoint_and_last_skips_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, optimizer = _trained()
    checkpoints = tmp_path / "checkpoints"
    sharded.save(checkpoints / "last.ckpt", _state(1), model, [optimizer])

    def crash(obj: Any, path: Any) -> Path:  # the shards are written, hookwise's file is not
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(checkpointing, "atomic_save", crash)
    with pytest.raises(OSError, match="simulated"):
        sharded.save(checkpoints / "last.ckpt", _state(2), model, [optimizer])
    with pytest.raises(OSError, match="simulated"):
        sharded.save(checkpoints / "epoch2.ckpt", _state(2), model, [optimizer])
    monkeypatch.undo()
    assert (checkpoints / ".epoch2.ckpt.partial" / ".metadata").is_file()  # left by the crash
    assert not (checkpoints / "epoch2.ckpt").exists()
    found = newest_checkpoint(tmp_path)
    assert found.path == checkpoints / "last.ckpt" and found.global_step == 1
    assert sharded.load_meta(found.path)["global_step"] == 1
    # the next save of that name clears the leftovers and replaces the folder as a whole
    sharded.save(checkpoints / "last.ckpt", _state(3), model, [optimizer])
    assert newest_checkpoint(tmp_path).global_step == 3
    assert sorted(p.name for p in checkpoints.iterdir()) == [".epoch2.ckpt.partial", "last.ckpt"]


def test_to_single_file_gives_a_weights_only_checkpoint_for_one_process(tmp_path: Path) -> None:
    model, optimizer = _trained()
    folder = sharded.save(tmp_path / "s.ckpt", _state(4), model, [optimizer])
    single = sharded.to_single_file(folder, tmp_path / "single.ckpt")
    data = checkpointing.load_checkpoint(single)
    assert data["global_step"] == 4 and "optimizers" not in data and "sharded" not in data
    fresh = _model(seed=9)
    fresh.load_state_dict(data["model"])
    for key, value in model.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[key]), key


def test_loading_a_sharded_folder_as_a_file_says_how_to_convert_it(tmp_path: Path) -> None:
    model, optimizer = _trained()
    folder = sharded.save(tmp_path / "s.ckpt", _state(1), model, [optimizer])
    with pytest.raises(
        CheckpointError, match=r"sharded checkpoint folder.*hookwise\.sharded\.to_single_file"
    ):
        checkpointing.load_checkpoint(folder)
    with pytest.raises(CheckpointError, match="not a sharded checkpoint"):
        sharded.to_single_file(tmp_path, tmp_path / "x.ckpt")


def test_a_sharded_checkpoint_that_does_not_fit_is_a_checkpoint_error(tmp_path: Path) -> None:
    model, optimizer = _trained()
    folder = sharded.save(tmp_path / "s.ckpt", _state(1), model, [optimizer])
    meta = sharded.load_meta(folder)
    other = nn.Sequential(nn.Linear(4, 3))
    with pytest.raises(CheckpointError, match="does not fit"):
        sharded.load_training(folder, meta, other, [torch.optim.SGD(other.parameters(), lr=1)])
    with pytest.raises(CheckpointError, match="1 optimizer states; the run has 0"):
        sharded.load_training(folder, meta, _model(), [])


def test_the_command_line_resumes_a_folder_and_refuses_it_as_weights(tmp_path: Path) -> None:
    import argparse

    from hookwise.cli.checkpoints import checkpoint_path

    model, optimizer = _trained()
    folder = sharded.save(tmp_path / "s.ckpt", _state(1), model, [optimizer])
    args = argparse.Namespace(output_dir=None)
    assert checkpoint_path(str(folder), args, "--resume") == folder
    with pytest.raises(CheckpointError, match="to_single_file"):
        checkpoint_path(str(folder), args, "--weights")
