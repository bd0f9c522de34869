"""Run folders: every ``hookwise fit`` or ``hookwise test`` writes into its own folder.

An output directory (``--output-dir``, default ``./hookwise-runs``) holds one folder per run,
named by its start time (``2024-05-01_12-30-05``; ``_2``, ``_3``... when several start in the
same second). A run folder holds the resolved config (``config.toml``, which
``hookwise fit <run>/config.toml`` runs again), ``run.json`` (the command, the status and the
final metrics) and whatever the plugins write there (``checkpoints/``, ``metrics.csv``,
``curves.png``).

``--resume last`` and ``--weights last`` look only in the output directory they are given
(:mod:`hookwise.last` says which checkpoint each takes).

A folder is a run folder only when it holds hookwise's own marker: a ``run.json`` whose
``hookwise_run`` entry is :data:`RUN_MARKER`. The run folder of a checkpoint is looked for in
the checkpoint's own folder and the one above it (``RUN/checkpoints/last.ckpt``), never further
up: a ``config.toml`` or ``run.json`` in some ancestor folder is not a run, and what is found
near a checkpoint is never trusted to decide what code runs (see docs/security.md).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT_DIR = "hookwise-runs"
CONFIG_FILE = "config.toml"
RUN_FILE = "run.json"
#: The value of ``run.json``'s ``hookwise_run`` entry that marks a hookwise run folder.
RUN_MARKER = 1
_TIME_FORMAT = "%Y-%m-%d_%H-%M-%S"
_RUN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2})(?:_(\d+))?\Z")


def _sort_key(folder: Path) -> tuple[str, int]:
    match = _RUN_NAME.match(folder.name)
    assert match is not None
    return match.group(1), int(match.group(2) or 1)


def new_run_dir(output_dir: str | os.PathLike[str], now: datetime | None = None) -> Path:
    """Create and return a new, unique run folder under ``output_dir``."""
    root = Path(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now()).strftime(_TIME_FORMAT)
    count = 1
    while True:
        folder = root / (stamp if count == 1 else f"{stamp}_{count}")
        try:
            folder.mkdir()
        except FileExistsError:
            count += 1
            continue
        return folder


def run_dirs(output_dir: str | os.PathLike[str]) -> list[Path]:
    """The run folders under ``output_dir``, oldest first (by their names)."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and _RUN_NAME.match(p.name)]
    return sorted(found, key=_sort_key)


def checkpoints_in(folder: Path) -> list[Path]:
    """The ``*.ckpt`` files under ``folder``, newest last (``last.ckpt`` wins a tie)."""
    files = [p for p in folder.rglob("*.ckpt") if p.is_file()]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name == "last.ckpt"))


def find_last_checkpoint(output_dir: str | os.PathLike[str]) -> Path:
    """The newest complete checkpoint of the newest run under ``output_dir`` that has one
    (what ``--weights last`` takes; see :func:`hookwise.last.weights_checkpoint`).

    :raises CheckpointError: no run folder under ``output_dir`` holds a checkpoint.
    """
    from hookwise.last import weights_checkpoint

    return weights_checkpoint(output_dir).path


def is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds hookwise's run marker (``run.json`` with ``hookwise_run``)."""
    try:
        info = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("hookwise_run") == RUN_MARKER


def run_dir_of(checkpoint: Path) -> Path | None:
    """The run folder a checkpoint belongs to: its own folder or the one above it
    (``RUN/checkpoints/x.ckpt``), when that holds the run marker; else ``None``. The path is
    taken as given (made absolute, links not followed) and no other ancestor is looked at."""
    path = Path(os.path.abspath(checkpoint))
    for folder in (path.parent, path.parent.parent):
        if is_run_folder(folder):
            return folder
    return None


def write_config(folder: Path, text: str) -> Path:
    """Write the resolved config into ``folder`` (``config.toml``)."""
    path = folder / CONFIG_FILE
    path.write_text(text, encoding="utf-8")
    return path


def write_run_info(
    folder: Path,
    *,
    command: str,
    status: str,
    argv: Sequence[str] | None = None,
    metrics: Mapping[str, float] | None = None,
    **extra: Any,
) -> Path:
    """Write ``run.json``: the command, the status, when, and the final metrics."""
    info: dict[str, Any] = {
        "hookwise_run": RUN_MARKER,
        "command": command,
        "status": status,
        "argv": list(sys.argv if argv is None else argv),
        "updated": datetime.now().isoformat(timespec="seconds"),
        "metrics": dict(metrics or {}),
        **extra,
    }
    path = folder / RUN_FILE
    path.write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class RunOutput:
    """One entry of a run folder: a file, or a folder with how many files it holds and the
    newest few (relative to it, oldest first)."""

    path: Path
    is_folder: bool = False
    file_count: int = 1
    newest: tuple[str, ...] = ()

    def describe(self) -> str:
        """``PATH`` for a file; ``PATH/  (13 files, the newest: a, b, c, d)`` for a folder."""
        if not self.is_folder:
            return str(self.path)
        more = (
            f"{self.file_count} files, the newest: " if self.file_count > len(self.newest) else ""
        )
        return f"{self.path}{os.sep}  ({more}{', '.join(self.newest)})"


def run_outputs(folder: Path, shown: int = 4) -> list[RunOutput]:
    """What a run folder holds, by name: each file, and each folder that holds files (with its
    ``shown`` newest files). Empty folders are left out."""
    outputs: list[RunOutput] = []
    if not folder.is_dir():
        return outputs
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):  # the run's lock file, temporary files
            continue
        if entry.is_file():
            outputs.append(RunOutput(entry))
        elif entry.is_dir():
            files = sorted(
                (p for p in entry.rglob("*") if p.is_file()),
                key=lambda p: (p.stat().st_mtime_ns, p.name),
            )
            if files:
                newest = tuple(str(p.relative_to(entry)) for p in files[-shown:])
                outputs.append(RunOutput(entry, True, len(files), newest))
    return outputs


def describe_outputs(folder: Path) -> list[str]:
    """Lines naming what a run folder holds: each file, and each folder with its newest
    files (``checkpoints/  (13 files, the newest: ..., last.ckpt)``)."""
    return [entry.describe() for entry in run_outputs(folder)]


__all__ = [
    "CONFIG_FILE",
    "DEFAULT_OUTPUT_DIR",
    "RUN_FILE",
    "RUN_MARKER",
    "RunOutput",
    "checkpoints_in",
    "describe_outputs",
    "find_last_checkpoint",
    "is_run_folder",
    "new_run_dir",
    "run_dir_of",
    "run_dirs",
    "run_outputs",
    "write_config",
    "write_run_info",
]
