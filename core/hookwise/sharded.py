"""Sharded checkpoints (``strategy="fsdp"``, or ``checkpoint_format="sharded"`` under DDP):
one folder, every rank writing its own part (under DDP, DCP writes each replicated tensor
once, from one of the ranks).

A sharded checkpoint ``NAME.ckpt/`` holds

* the model's and optimizers' states as ``torch.distributed.checkpoint`` (DCP) writes them:
  one ``__<rank>_0.distcp`` file per rank and DCP's ``.metadata``;
* ``hookwise.pt``: everything else of a hookwise checkpoint (format, versions, manifest,
  position, seed, RNG, plugin states, metrics), written by rank 0 with
  :func:`hookwise.checkpointing.atomic_save`; its ``sharded`` entry records the number of
  processes and its ``model`` entry is empty.

Atomic as a whole: every rank writes into ``.NAME.ckpt.partial/`` next to the target; once
DCP's collective save has returned on every rank (so every shard and the metadata are
written and fsynced), rank 0 writes ``hookwise.pt`` last and renames the folder into place. A
crash before the rename leaves only the ``.partial`` folder, which neither ``last`` nor a
resume considers; the previous checkpoint of that name is replaced only by the rename (an
existing ``NAME.ckpt`` is first moved to ``.NAME.ckpt.old``, removed after).

Loading reads DCP's pickled metadata with :mod:`hookwise.dcp_safe` (checkpoints are
untrusted). :func:`to_single_file` turns a sharded checkpoint into a one-file, weights-only
hookwise checkpoint (for ``hookwise test --weights`` on one process).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.distributed.checkpoint.api import CheckpointException

from hookwise import checkpointing, distributed
from hookwise.errors import CheckpointError

logger = logging.getLogger("hookwise")

#: hookwise's own file inside a sharded checkpoint folder.
META_FILE = checkpointing.SHARDED_META_FILE
#: The entries of a checkpoint that go to DCP's shards, not to :data:`META_FILE`.
SHARDED_KEYS = ("model", "optimizers")


def is_sharded(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a sharded checkpoint folder (one holding :data:`META_FILE`)."""
    return Path(path).is_dir() and (Path(path) / META_FILE).is_file()


def partial_folder(path: Path) -> Path:
    """Where a save of ``path`` is written before it is complete."""
    return path.with_name(f".{path.name}.partial")


def _dcp_states(
    model: nn.Module, optimizers: Sequence[torch.optim.Optimizer]
) -> dict[str, dict[str, Any]]:
    from torch.distributed.checkpoint.state_dict import get_state_dict

    model_state, optim_state = get_state_dict(model, list(optimizers))
    return {"model": model_state, "optimizers": optim_state}


def save(
    path: Path,
    state: Mapping[str, Any],
    model: nn.Module,
    optimizers: Sequence[torch.optim.Optimizer],
    weights_only: bool = False,
    on_done: Callable[[Path], None] | None = None,
) -> Path:
    """Write a sharded checkpoint of ``model`` (and ``optimizers``) and ``state`` (the other
    entries of a hookwise checkpoint) to the folder ``path``. A collective call: every rank
    calls it, at the same point.

    :raises CheckpointError: ``state`` holds gradients accumulated in an unfinished window
        (a sharded checkpoint is taken at optimizer-step boundaries).
    """
    from torch.distributed.checkpoint.filesystem import FileSystemWriter
    from torch.distributed.checkpoint.state_dict_saver import save as dcp_save

    if state.get("accumulated_grads"):
        raise CheckpointError(
            f"cannot write the sharded checkpoint {str(path)!r} in the middle of a gradient "
            f"accumulation window; save at an optimizer step"
        )
    rank = distributed.get_rank()
    partial = partial_folder(path)
    if rank == 0:
        shutil.rmtree(partial, ignore_errors=True)  # a crashed save's leftovers
        partial.mkdir(parents=True)
    distributed.synchronize()
    shards = _dcp_states(model, [] if weights_only else optimizers)
    if weights_only:
        del shards["optimizers"]
    writer = FileSystemWriter(partial, sync_files=True)
    with _quiet_single_process():
        dcp_save(shards, storage_writer=writer, no_dist=not distributed.is_distributed())
    if rank == 0:
        meta = {key: value for key, value in state.items() if key not in SHARDED_KEYS}
        meta["model"] = {}  # in the shards
        meta["sharded"] = {
            "world_size": distributed.get_world_size(),
            "entries": sorted(shards),
            "optimizers": 0 if weights_only else len(optimizers),
        }
        checkpointing.atomic_save(meta, partial / META_FILE)
        _move_into_place(partial, path)
        if on_done is not None:
            on_done(path)
    distributed.synchronize()  # the folder is in place before any rank goes on
    return path


@contextlib.contextmanager
def _quiet_single_process() -> Iterator[None]:
    """DCP warns when it runs without a process group, which one process (a test, a
    conversion) does on purpose."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "torch.distributed is disabled, unavailable")
        yield


def _move_into_place(partial: Path, path: Path) -> None:
    old = path.with_name(f".{path.name}.old")
    replaced = path.exists() or path.is_symlink()
    if replaced:
        _remove(old)
        os.replace(path, old)
    os.replace(partial, path)
    checkpointing.fsync_dir(path.parent)
    if replaced:
        _remove(old)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def load_meta(path: Path, map_location: Any = "cpu") -> dict[str, Any]:
    """The hookwise entries of the sharded checkpoint ``path`` (checked as any checkpoint)."""
    data = checkpointing.load_checkpoint(path / META_FILE, map_location=map_location)
    if not isinstance(data.get("sharded"), Mapping):
        raise CheckpointError(f"{str(path / META_FILE)!r} has no 'sharded' entry")
    return data


def load_training(
    path: Path,
    meta: Mapping[str, Any],
    model: nn.Module,
    optimizers: Sequence[torch.optim.Optimizer],
) -> None:
    """Restore the model and optimizers from the sharded checkpoint ``path`` (every rank
    calls it; DCP reads each rank's part)."""
    from torch.distributed.checkpoint.state_dict import set_state_dict
    from torch.distributed.checkpoint.state_dict_loader import load as dcp_load

    from hookwise.dcp_safe import SafeLoadPlanner, SafeReader, read_metadata

    read_metadata(path)  # refused here, before DCP reads it (DCP would hide why)
    info = meta["sharded"]
    saved = info.get("optimizers")
    if saved != len(optimizers):
        raise CheckpointError(
            f"checkpoint {str(path)!r} has {saved} optimizer states; the run has "
            f"{len(optimizers)} optimizers"
        )
    shards = _dcp_states(model, optimizers)
    try:
        reader, planner = SafeReader(path), SafeLoadPlanner()
        with _quiet_single_process():
            dcp_load(
                shards,
                storage_reader=reader,
                planner=planner,
                no_dist=not distributed.is_distributed(),
            )
    except (Exception, CheckpointException) as exc:
        raise _load_error(exc, path, "does not fit the model or optimizers") from exc
    set_state_dict(
        model,
        list(optimizers),
        model_state_dict=shards["model"],
        optim_state_dict=shards["optimizers"],
    )


def is_fsdp(model: nn.Module) -> bool:
    """Whether ``model`` is sharded by FSDP (its parameters are ``DTensor`` shards)."""
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def restore_training(
    path: Path,
    data: Mapping[str, Any],
    model: nn.Module,
    optimizers: Sequence[torch.optim.Optimizer],
) -> bool:
    """Restore the model and optimizers when the checkpoint ``path`` or the model is sharded
    (every rank calls it); return whether it did. ``False``: one file into a model every rank
    holds whole, which the caller loads as usual."""
    if is_sharded(path):
        load_training(path, data, model, optimizers)
        return True
    if is_fsdp(model):
        load_full(path, data, model, optimizers)
        return True
    return False


def load_full(
    path: Path,
    data: Mapping[str, Any],
    model: nn.Module,
    optimizers: Sequence[torch.optim.Optimizer],
) -> None:
    """Load the one-file checkpoint ``data`` (read from ``path``: written by one process, or
    by rank 0 under DDP) into the sharded ``model`` and its ``optimizers``: every rank holds
    the full tensors and keeps its shard of them."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

    saved = data.get("optimizers", [])
    if len(saved) != len(optimizers):
        raise CheckpointError(
            f"checkpoint {str(path)!r} has {len(saved)} optimizer states; the run has "
            f"{len(optimizers)} optimizers"
        )
    weights = data["model"]
    if set(weights) != set(model.state_dict()):  # DDP's "module." prefix
        weights = checkpointing.strip_module_prefix(weights)
    names = {id(p): name for name, p in model.named_parameters()}
    by_name: dict[str, Any] = {"state": {}, "param_groups": []}
    for optimizer, state in zip(optimizers, saved, strict=True):
        named = _by_name(optimizer, state, names)
        by_name["state"].update(named["state"])
        by_name["param_groups"] += named["param_groups"]
    try:
        set_state_dict(
            model,
            list(optimizers),
            model_state_dict=dict(weights),
            optim_state_dict=by_name,
            options=StateDictOptions(full_state_dict=True),
        )
    except (KeyError, RuntimeError, ValueError) as exc:
        raise _load_error(exc, path, "does not fit the model or optimizers") from exc


def _by_name(
    optimizer: torch.optim.Optimizer, state: Mapping[str, Any], names: Mapping[int, str]
) -> dict[str, Any]:
    """An optimizer's ``state_dict()`` (parameters by index) with parameters by name, as
    ``set_state_dict`` takes it; the indices are the order of ``optimizer``'s parameters."""
    fqn: dict[Any, str] = {}
    groups = state.get("param_groups", [])
    for saved, group in zip(groups, optimizer.param_groups, strict=True):
        for index, param in zip(saved["params"], group["params"], strict=True):
            fqn[index] = names[id(param)]
    return {
        "state": {fqn[index]: value for index, value in state.get("state", {}).items()},
        "param_groups": [{**g, "params": [fqn[i] for i in g["params"]]} for g in groups],
    }


def _load_error(exc: BaseException, path: Path, what: str) -> CheckpointError:
    """A failed DCP read as one :class:`CheckpointError`: hookwise's own refusal (a crafted
    metadata file) as it is, anything else naming the folder; DCP's ``CheckpointException``
    (a ``BaseException``) wraps each rank's failure."""
    failures = exc.failures.values() if isinstance(exc, CheckpointException) else [(exc, None)]
    inner = [failure for failure, _ in failures]
    for failure in inner:
        if isinstance(failure, CheckpointError):
            return failure
    first = inner[0] if inner else exc
    return CheckpointError(
        f"sharded checkpoint {str(path)!r} {what}: {type(first).__name__}: {first}"
    )


def to_single_file(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Turn the sharded checkpoint ``source`` into a one-file, weights-only hookwise
    checkpoint ``target`` (full tensors; loadable by one process, e.g. ``hookwise test
    --weights``). Runs in one process, without a process group; the metadata is read
    restricted (:mod:`hookwise.dcp_safe`).

    :raises CheckpointError: ``source`` is not a complete sharded checkpoint, or is refused.
    """
    from torch.distributed.checkpoint.state_dict_loader import _load_state_dict

    from hookwise.dcp_safe import SafeEmptyLoadPlanner, SafeReader, read_metadata
    from hookwise.trainer.resume import WEIGHTS_ONLY_KEYS

    folder = Path(source)
    if not is_sharded(folder):
        raise CheckpointError(
            f"{str(folder)!r} is not a sharded checkpoint (a folder holding {META_FILE})"
        )
    meta = load_meta(folder)
    read_metadata(folder)  # refused here, before DCP reads it (DCP would hide why)
    full: dict[str, Any] = {}
    try:
        _load_state_dict(
            full,
            storage_reader=SafeReader(folder),
            planner=SafeEmptyLoadPlanner(keys={"model"}),
            no_dist=True,
        )
    except (Exception, CheckpointException) as exc:
        raise _load_error(exc, folder, "could not be read") from exc
    single = {key: meta[key] for key in WEIGHTS_ONLY_KEYS if key in meta}
    single["model"] = full.get("model", {})
    written = checkpointing.atomic_save(single, target)
    logger.info("wrote %s: the weights of the sharded checkpoint %s", written, folder)
    return written


__all__ = [
    "META_FILE",
    "is_sharded",
    "load_meta",
    "is_fsdp",
    "load_full",
    "load_training",
    "restore_training",
    "partial_folder",
    "save",
    "to_single_file",
]
