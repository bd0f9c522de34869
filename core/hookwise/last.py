"""Which checkpoint ``last`` means: one resolver for the command line and the Trainer.

- ``--resume last`` (:func:`resume_checkpoint`) looks only at the newest training run in the
  output folder (``hookwise test`` runs, which train nothing, are passed over): its newest
  complete checkpoint, or an error naming that run when it has none.
- ``--weights last`` (:func:`weights_checkpoint`) takes the newest complete checkpoint of any
  run: the newest run that has one.
- ``Trainer.fit(resume_from="last")`` (:func:`newest_checkpoint`) takes the newest complete
  checkpoint under the trainer's own output folder.

An emergency checkpoint that one rank of a distributed run wrote alone when the run failed
(the checkpoint plugin records ``emergency = {world_size, rank}`` in its state) does not hold
the other ranks' state: the resolvers pass over it, with a warning naming it, and take the
newest clean checkpoint; resume it by its path to have it anyway.

"Newest" within a run is decided by the position recorded inside each file (global step,
then epoch, then whether the epoch was complete), not by file times, which copies and clock
changes disturb; ``last.ckpt`` wins a tie, then the later file. "Complete" means the file
reads as a hookwise checkpoint (its archive is whole and it holds a position); the position is
read without loading the tensors (memory-mapped), so choosing costs little even for large
models. Each resolver returns a :class:`FoundCheckpoint`, which says which file it took.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hookwise.errors import CheckpointError
from hookwise.runs import RUN_FILE, run_dirs

logger = logging.getLogger("hookwise")


@dataclass(frozen=True)
class FoundCheckpoint:
    """The checkpoint a ``last`` resolved to, and the position recorded in it."""

    path: Path
    global_step: int
    epoch: int
    epoch_complete: bool

    def describe(self) -> str:
        """``PATH (step N, epoch E)``: what a resolver reports having taken."""
        return f"{self.path} (step {self.global_step}, epoch {self.epoch})"


def _read_position(file: Path) -> tuple[int, int, bool] | None:
    """``(global_step, epoch, epoch_complete)`` recorded in ``file``; ``None`` when the file is
    not a complete hookwise checkpoint."""
    import torch

    from hookwise import checkpointing

    if file.is_dir():  # a sharded checkpoint: its position is in hookwise's file
        file = file / checkpointing.SHARDED_META_FILE
    try:
        data: Any = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # truncated, foreign or unreadable: not a candidate
        return None
    if not isinstance(data, dict) or data.get("format") != checkpointing.FORMAT:
        return None
    step, epoch = data.get("global_step"), data.get("epoch")
    if not isinstance(step, int) or not isinstance(epoch, int):
        return None
    if isinstance(step, bool) or isinstance(epoch, bool):
        return None
    partial = _one_rank_emergency(data)
    if partial is not None:
        logger.warning(
            "'last' passed over %s (step %d, epoch %d): %s, so it does not hold the other "
            "ranks' state and a resume from it would differ from the run; the newest clean "
            "checkpoint is taken instead (resume that file by its path to use it anyway)",
            file,
            step,
            epoch,
            partial,
        )
        return None
    return step, epoch, bool(data.get("epoch_complete", True))


def _one_rank_emergency(data: Mapping[str, Any]) -> str | None:
    """How the file was written, when one rank of a distributed run wrote it alone."""
    plugins = data.get("plugins")
    for state in plugins.values() if isinstance(plugins, Mapping) else ():
        info = state.get("emergency") if isinstance(state, Mapping) else None
        if not isinstance(info, Mapping):
            continue
        world, rank = info.get("world_size"), info.get("rank")
        if isinstance(world, int) and world > 1:
            return (
                f"it is an emergency checkpoint that rank {rank} wrote alone when a run of "
                f"{world} processes failed"
            )
    return None


def _candidates(folder: Path) -> list[Path]:
    """The ``*.ckpt`` files under ``folder``, one name per file: hard links to one file (the
    checkpoint plugin links ``last.ckpt``) are read once, under the name ``last.ckpt``."""
    by_inode: dict[tuple[int, int], Path] = {}
    for path in sorted(folder.rglob("*.ckpt")):
        try:
            stat = path.stat()
        except OSError:  # deleted while we looked (retention in another process)
            continue
        if not path.is_file() and not _is_sharded_folder(path):
            continue
        identity = (stat.st_dev, stat.st_ino) if stat.st_ino else (0, len(by_inode))
        known = by_inode.get(identity)
        if known is None or path.name == "last.ckpt":
            by_inode[identity] = path
    return list(by_inode.values())


def _is_sharded_folder(path: Path) -> bool:
    """A complete sharded checkpoint (``strategy="fsdp"``): a ``*.ckpt`` folder with
    hookwise's file, which is written last (a save in progress is a ``.partial`` folder)."""
    return path.is_dir() and (path / "hookwise.pt").is_file()  # checkpointing.SHARDED_META_FILE


def newest_checkpoint_or_none(folder: str | os.PathLike[str]) -> FoundCheckpoint | None:
    """The newest complete checkpoint under ``folder`` by its recorded position, or ``None``."""
    best: tuple[tuple[Any, ...], FoundCheckpoint] | None = None
    for path in _candidates(Path(folder)):
        position = _read_position(path)
        if position is None:
            continue
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            continue
        key = (*position, path.name == "last.ckpt", mtime)
        if best is None or key > best[0]:
            best = (key, FoundCheckpoint(path, *position))
    return None if best is None else best[1]


def newest_checkpoint(folder: str | os.PathLike[str]) -> FoundCheckpoint:
    """The newest complete checkpoint under ``folder`` (``Trainer.fit(resume_from="last")``).

    :raises CheckpointError: naming ``folder`` when it holds no complete checkpoint.
    """
    found = newest_checkpoint_or_none(folder)
    if found is None:
        raise CheckpointError(
            f"no checkpoint to resume under {str(folder)!r} (no complete *.ckpt file there); "
            f"run fit with the checkpoint plugin enabled, or give a checkpoint path"
        )
    return found


def _is_training_run(folder: Path) -> bool:
    try:
        info = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True  # no readable run.json: it may still be a run that trained
    return not (isinstance(info, dict) and info.get("command") == "test")


def _missing(output_dir: str | os.PathLike[str], what: str) -> CheckpointError:
    root = Path(output_dir)
    state = "it does not exist" if not root.is_dir() else what
    return CheckpointError(
        f"no checkpoint for 'last' in the output directory {str(output_dir)!r}: {state}. "
        f"Train with the checkpoint plugin enabled, pass the --output-dir that holds your "
        f"runs, or give a checkpoint path"
    )


def resume_checkpoint(output_dir: str | os.PathLike[str]) -> FoundCheckpoint:
    """``--resume last``: the newest complete checkpoint of the newest training run.

    :raises CheckpointError: there is no training run under ``output_dir``, or the newest one
        holds no complete checkpoint (the message names that run).
    :raises RunInUseError: the newest run is locked by a running command (named).
    """
    from hookwise.runlock import RunInUseError, describe_holder, holder_of, is_locked

    runs = [run for run in run_dirs(output_dir) if _is_training_run(run)]
    if not runs:
        raise _missing(output_dir, "it has no training run folders")
    if is_locked(runs[-1]):
        raise RunInUseError(
            f"no checkpoint for --resume last: the newest run, {str(runs[-1])!r}, is in use by "
            f"{describe_holder(holder_of(runs[-1]))} (--resume last continues only the newest "
            f"run, and never one that is running). Wait until it ends, or give the path of a "
            f"checkpoint to start from with --weights"
        )
    found = newest_checkpoint_or_none(runs[-1])
    if found is None:
        raise CheckpointError(
            f"no checkpoint for --resume last: the newest run, {str(runs[-1])!r}, holds no "
            f"complete checkpoint (--resume last continues only the newest run). Give the "
            f"path of the checkpoint to resume, or start from weights with --weights last"
        )
    return found


def weights_checkpoint(output_dir: str | os.PathLike[str]) -> FoundCheckpoint:
    """``--weights last``: the newest complete checkpoint of any run (newest run first).

    :raises CheckpointError: no run under ``output_dir`` holds a complete checkpoint.
    """
    runs = run_dirs(output_dir)
    for folder in reversed(runs):
        found = newest_checkpoint_or_none(folder)
        if found is not None:
            return found
    what = f"its {len(runs)} run folder(s) hold no complete *.ckpt file"
    raise _missing(output_dir, what if runs else "it has no run folders")


__all__ = [
    "FoundCheckpoint",
    "newest_checkpoint",
    "newest_checkpoint_or_none",
    "resume_checkpoint",
    "weights_checkpoint",
]
