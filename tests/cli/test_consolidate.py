"""``hookwise consolidate FOLDER [OUT]``: a sharded checkpoint folder (``strategy="fsdp"``)
becomes one weights-only checkpoint file, as ``hookwise.sharded.to_single_file`` writes it.

The folder is written in one process (DCP writes the same layout without a process group);
``tests/distributed/test_fsdp.py`` converts a folder two FSDP ranks wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import checkpointing, sharded
from hookwise.cli.app import main
from torch import nn


def _sharded_folder(folder: Path) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(3, 4)).sum().backward()
    optimizer.step()
    state: dict[str, Any] = {
        "format": checkpointing.FORMAT,
        "format_version": checkpointing.FORMAT_VERSION,
        "epoch": 1,
        "global_step": 4,
        "seed": 3,
        "model": {},
        "optimizers": [],
        "plugins": {},
        "metrics": {"val/x": 1.0},
    }
    sharded.save(folder, state, model, [optimizer])
    return model


def test_consolidate_writes_the_full_weights_next_to_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _sharded_folder(tmp_path / "epoch1.ckpt")
    assert main(["consolidate", str(tmp_path / "epoch1.ckpt")]) == 0
    single = tmp_path / "epoch1-full.ckpt"  # the default OUT
    assert str(single) in capsys.readouterr().out
    data = checkpointing.load_checkpoint(single)
    assert data["global_step"] == 4 and "optimizers" not in data
    assert data["model"].keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        assert torch.equal(data["model"][key], value), key


def test_consolidate_to_a_named_file_refuses_to_replace_one_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sharded_folder(tmp_path / "a.ckpt")
    target = tmp_path / "out" / "weights.ckpt"
    target.parent.mkdir()
    target.write_bytes(b"old")
    assert main(["consolidate", str(tmp_path / "a.ckpt"), str(target)]) == 2
    err = capsys.readouterr().err
    assert "weights.ckpt" in err and "exists" in err and "--force" in err
    assert target.read_bytes() == b"old"
    assert main(["consolidate", str(tmp_path / "a.ckpt"), str(target), "--force"]) == 0
    assert "model" in checkpointing.load_checkpoint(target)


def test_consolidate_refuses_what_is_not_a_sharded_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "plain").mkdir()
    assert main(["consolidate", str(tmp_path / "plain")]) == 2
    err = capsys.readouterr().err
    assert "is not a sharded checkpoint" in err and "plain" in err
    assert not (tmp_path / "plain-full.ckpt").exists()


def test_consolidate_is_listed_with_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "consolidate" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["consolidate", "--help"])
    out = capsys.readouterr().out
    assert "FOLDER" in out and "OUT" in out and "--force" in out
