"""A sharded checkpoint folder is data: its pickled DCP metadata and its shards run nothing.

DCP's own reader unpickles ``.metadata`` with ``pickle.load`` and non-tensor entries with
``torch.load(weights_only=False)``; hookwise reads both restricted (``hookwise.dcp_safe``).
Each crafted folder below would create ``pwned`` (in the test's folder) if anything in it ran.
"""

from __future__ import annotations

import contextlib
import pickle
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import checkpointing, sharded
from hookwise.dcp_safe import SafeReader, read_metadata
from hookwise.errors import CheckpointError
from hookwise.last import newest_checkpoint_or_none
from torch import nn


class Payload:
    """Creates ``path`` when unpickled (by any unpickler that resolves ``pathlib.Path.touch``
    or ``builtins.exec``)."""

    def __init__(self, path: Path, how: str = "touch") -> None:
        self.path, self.how = path, how

    def __reduce__(self) -> tuple[Any, ...]:
        if self.how == "exec":
            return (exec, (f"open({str(self.path)!r}, 'w').close()",))
        return (Path.touch, (self.path,))


def _folder(tmp_path: Path) -> tuple[Path, nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 4)).sum().backward()
    optimizer.step()
    state = {
        "format": checkpointing.FORMAT,
        "format_version": checkpointing.FORMAT_VERSION,
        "epoch": 1,
        "global_step": 5,
        "model": {},
    }
    folder = sharded.save(tmp_path / "run" / "checkpoints" / "last.ckpt", state, model, [optimizer])
    return folder, model, optimizer


def _refused_everywhere(folder: Path, model: nn.Module, optimizer: Any, tmp_path: Path) -> None:
    meta = sharded.load_meta(folder)
    with pytest.raises(CheckpointError, match="refused") as caught:
        sharded.load_training(folder, meta, model, [optimizer])
    assert str(folder) in str(caught.value)
    with pytest.raises(CheckpointError, match="refused"):
        sharded.to_single_file(folder, tmp_path / "single.ckpt")
    assert not (tmp_path / "single.ckpt").exists()


@pytest.mark.fault("trust.dcp-metadata")
@pytest.mark.parametrize("how", ["touch", "exec"])
def test_a_crafted_metadata_pickle_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.chdir(tmp_path)
    folder, model, optimizer = _folder(tmp_path)
    marker = tmp_path / "pwned"
    # DCP's own reader runs it: the payload is real
    (folder / ".metadata").write_bytes(pickle.dumps(Payload(marker, how)))
    with pytest.raises(CheckpointError, match=r"not allowed in a checkpoint's DCP metadata"):
        read_metadata(folder)
    _refused_everywhere(folder, model, optimizer, tmp_path)
    assert not marker.exists()
    from torch.distributed.checkpoint.filesystem import FileSystemReader

    with contextlib.suppress(Exception):
        FileSystemReader(folder).read_metadata()  # DCP's own reader: the payload runs
    assert marker.exists(), "the crafted file is not a real payload"


@pytest.mark.fault("trust.dcp-metadata")
def test_a_payload_inside_real_metadata_and_a_shard_outside_the_folder(tmp_path: Path) -> None:
    folder, model, optimizer = _folder(tmp_path)
    marker = tmp_path / "pwned"
    metadata = read_metadata(folder)
    metadata.planner_data = {"x": Payload(marker)}  # type: ignore[assignment]
    (folder / ".metadata").write_bytes(pickle.dumps(metadata))
    _refused_everywhere(folder, model, optimizer, tmp_path)
    assert not marker.exists()
    # a shard file named outside the folder is refused before anything is opened
    folder, model, optimizer = _folder(tmp_path / "b")
    metadata = read_metadata(folder)
    for info in metadata.storage_data.values():
        info.relative_path = "../../outside.distcp"
    (folder / ".metadata").write_bytes(pickle.dumps(metadata))
    with pytest.raises(CheckpointError, match="not a file of the checkpoint folder"):
        read_metadata(folder)
    with pytest.raises(CheckpointError, match="not a file of the checkpoint folder"):
        sharded.load_training(folder, sharded.load_meta(folder), model, [optimizer])


@pytest.mark.fault("trust.dcp-metadata")
def test_a_shard_entry_that_runs_code_when_loaded_runs_nothing(tmp_path: Path) -> None:
    from torch.distributed.checkpoint.filesystem import FileSystemWriter
    from torch.distributed.checkpoint.state_dict import get_state_dict
    from torch.distributed.checkpoint.state_dict_saver import save

    folder, model, optimizer = _folder(tmp_path)
    marker = tmp_path / "pwned"
    model_state, optim_state = get_state_dict(model, [optimizer])
    optim_state["param_groups"][0]["lr"] = Payload(marker)  # a non-tensor entry
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        save(
            {"model": model_state, "optimizers": optim_state},
            storage_writer=FileSystemWriter(folder, overwrite=True),
            no_dist=True,
        )
    with pytest.raises(CheckpointError, match="refused a non-tensor entry"):
        sharded.load_training(folder, sharded.load_meta(folder), model, [optimizer])
    assert not marker.exists()
    # the metadata itself is clean: 'last' still lists the folder (by hookwise's own file)
    found = newest_checkpoint_or_none(tmp_path)
    assert found is not None and found.path == folder
    assert isinstance(SafeReader(folder).read_metadata(), object)
