"""Reading ``torch.distributed.checkpoint`` (DCP) folders without running their code.

A DCP folder holds ``.metadata`` (a pickle: DCP's ``FileSystemReader`` reads it with
``pickle.load``) and shard files whose non-tensor entries DCP's planner reads with
``torch.load(weights_only=False)``. Checkpoints are untrusted (DESIGN decision 17), so
hookwise reads them with :class:`SafeReader` and the planners here instead:

* ``.metadata`` goes through :class:`MetadataUnpickler`, which resolves only DCP's own
  metadata classes, ``torch.Size``, torch's dtypes and layouts, and ``pathlib`` paths;
  anything else (``os.system``, ``builtins.eval``, any other import) is refused before it is
  called;
* every shard file the metadata names must be a bare file name inside the folder (no ``..``,
  no folder part), so a crafted metadata cannot make the reader open files elsewhere;
* non-tensor entries (optimizer hyperparameters) are read with ``weights_only=True``.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import torch
from torch.distributed.checkpoint._traverse import set_element
from torch.distributed.checkpoint.default_planner import (
    DefaultLoadPlanner,
    _EmptyStateDictLoadPlanner,
)
from torch.distributed.checkpoint.filesystem import FileSystemReader
from torch.distributed.checkpoint.metadata import Metadata, StorageMeta
from torch.distributed.checkpoint.planner import ReadItem

from hookwise.errors import CheckpointError

#: DCP's metadata file in a checkpoint folder.
METADATA_FILE = ".metadata"

_DCP_METADATA = "torch.distributed.checkpoint.metadata"
#: ``(module, name)`` pairs a DCP metadata pickle may name.
ALLOWED_GLOBALS = frozenset(
    {
        (_DCP_METADATA, "Metadata"),
        (_DCP_METADATA, "StorageMeta"),
        (_DCP_METADATA, "MetadataIndex"),
        (_DCP_METADATA, "TensorProperties"),
        (_DCP_METADATA, "TensorStorageMetadata"),
        (_DCP_METADATA, "BytesStorageMetadata"),
        (_DCP_METADATA, "ChunkStorageMetadata"),
        (_DCP_METADATA, "_MEM_FORMAT_ENCODING"),
        ("torch.distributed.checkpoint.filesystem", "_StorageInfo"),
        ("torch.serialization", "_get_layout"),
        ("torch", "Size"),
        ("pathlib", "PosixPath"),
        ("pathlib", "WindowsPath"),
        ("pathlib", "PurePosixPath"),
        ("collections", "OrderedDict"),
    }
)


class MetadataUnpickler(pickle.Unpickler):
    """Unpickles DCP metadata: only :data:`ALLOWED_GLOBALS` and torch's dtypes resolve."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        raise pickle.UnpicklingError(
            f"{module}.{name} is not allowed in a checkpoint's DCP metadata"
        )


def read_metadata(folder: Path) -> Metadata:
    """``folder``'s DCP metadata, unpickled by :class:`MetadataUnpickler` and checked.

    :raises CheckpointError: the file is missing, names anything not allowed, is not DCP
        metadata, or names a shard file outside ``folder``; the message names the file.
    """
    path = folder / METADATA_FILE
    try:
        with open(path, "rb") as stream:
            metadata = MetadataUnpickler(stream).load()
    except FileNotFoundError:
        raise CheckpointError(
            f"sharded checkpoint {str(folder)!r} has no {METADATA_FILE} (an incomplete save?)"
        ) from None
    except Exception as exc:  # UnpicklingError, or whatever the bytes make pickle raise
        raise CheckpointError(
            f"refused {str(path)!r}: {type(exc).__name__}: {exc}. The checkpoint is damaged or "
            f"was crafted; nothing in it was run"
        ) from exc
    if not isinstance(metadata, Metadata) or not isinstance(metadata.storage_data, dict):
        raise CheckpointError(f"{str(path)!r} is not DCP metadata ({type(metadata).__name__})")
    for info in metadata.storage_data.values():
        name = str(getattr(info, "relative_path", ""))
        if not name or Path(name).name != name or name in (".", ".."):
            raise CheckpointError(
                f"{str(path)!r} names the shard file {name!r}, which is not a file of the "
                f"checkpoint folder; the checkpoint is damaged or was crafted, and is refused"
            )
    if getattr(metadata, "storage_meta", None) is None:
        metadata.storage_meta = StorageMeta()
    return metadata


class SafeReader(FileSystemReader):
    """DCP's file-system reader, reading the metadata with :func:`read_metadata`."""

    def read_metadata(self, *args: Any, **kwargs: Any) -> Metadata:
        if kwargs.get("rank") is not None:
            raise CheckpointError("per-rank DCP metadata files are not read by hookwise")
        metadata = read_metadata(Path(self.path))
        assert metadata.storage_meta is not None
        metadata.storage_meta.load_id = self.load_id
        return metadata


def _load_bytes_safely(value: io.BytesIO) -> Any:
    try:
        return torch.load(value, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"refused a non-tensor entry of a sharded checkpoint: {exc}. The checkpoint is "
            f"damaged or was crafted; nothing in it was run"
        ) from exc


class SafeLoadPlanner(DefaultLoadPlanner):
    """DCP's load planner, reading non-tensor entries with ``weights_only=True`` (DCP's own
    ``load_bytes`` unpickles them with ``weights_only=False``)."""

    def load_bytes(self, read_item: ReadItem, value: io.BytesIO) -> None:
        loaded = _load_bytes_safely(value)
        if self.flatten_state_dict:
            set_element(self.original_state_dict, self.mappings[read_item.dest_index.fqn], loaded)
        else:
            self.state_dict[read_item.dest_index.fqn] = loaded


class SafeEmptyLoadPlanner(_EmptyStateDictLoadPlanner, SafeLoadPlanner):
    """DCP's planner that rebuilds the whole state from the metadata (one process), reading
    non-tensor entries as :class:`SafeLoadPlanner` does; ``keys``: only these entries."""

    def __init__(self, keys: set[str] | None = None) -> None:
        super().__init__(keys)  # type: ignore[no-untyped-call]


__all__ = [
    "ALLOWED_GLOBALS",
    "METADATA_FILE",
    "MetadataUnpickler",
    "SafeEmptyLoadPlanner",
    "SafeLoadPlanner",
    "SafeReader",
    "read_metadata",
]
