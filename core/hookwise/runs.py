"""Run folders: every ``hookwise fit`` or ``hookwise test`` writes into its own folder.

An output directory (``--output-dir``, default ``./hookwise-runs``) holds one folder per run,
named by its start time (``2024-05-01_12-30-05``; ``_2``, ``_3``... when several start in the
same second). A run folder holds the resolved config (``config.toml``, which
``hookwise fit <run>/config.toml`` runs again), ``run.json`` (the command, the status and the
final metrics) and whatever the plugins write there (``checkpoints/``, ``metrics.csv``,
``curves.png``).

``--resume last`` and ``--weights last`` look only in the output directory they are given:
the newest run folder that holds a checkpoint, and in it the newest checkpoint.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from hookwise.errors import CheckpointError

DEFAULT_OUTPUT_DIR = "hookwise-runs"
CONFIG_FILE = "config.toml"
RUN_FILE = "run.json"
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
    """The newest checkpoint of the newest run folder under ``output_dir`` that has one.

    :raises CheckpointError: no run folder under ``output_dir`` holds a checkpoint.
    """
    for folder in reversed(run_dirs(output_dir)):
        files = checkpoints_in(folder)
        if files:
            return files[-1]
    runs = run_dirs(output_dir)
    state = (
        f"its {len(runs)} run folder(s) hold no *.ckpt file"
        if runs
        else "it has no run folders"
        if Path(output_dir).is_dir()
        else "it does not exist"
    )
    raise CheckpointError(
        f"no checkpoint for 'last' in the output directory {str(output_dir)!r}: {state}. "
        f"Train with the checkpoint plugin enabled, pass the --output-dir that holds your "
        f"runs, or give a checkpoint path"
    )


def run_dir_of(checkpoint: Path) -> Path | None:
    """The run folder a checkpoint belongs to (the nearest parent with a ``config.toml``)."""
    for parent in checkpoint.resolve().parents:
        if (parent / CONFIG_FILE).is_file():
            return parent
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


def describe_outputs(folder: Path) -> list[str]:
    """Lines naming what a run folder holds: each file, and each folder with its newest
    files (``checkpoints/  (13 files, the newest: ..., last.ckpt)``)."""
    lines: list[str] = []
    if not folder.is_dir():
        return lines
    for entry in sorted(folder.iterdir()):
        if entry.is_file():
            lines.append(f"{entry}")
        elif entry.is_dir():
            files = sorted(
                (p for p in entry.rglob("*") if p.is_file()),
                key=lambda p: (p.stat().st_mtime_ns, p.name),
            )
            if not files:
                continue
            shown = files[-4:]
            names = ", ".join(str(p.relative_to(entry)) for p in shown)
            more = f"{len(files)} files, the newest: " if len(files) > len(shown) else ""
            lines.append(f"{entry}{os.sep}  ({more}{names})")
    return lines


__all__ = [
    "CONFIG_FILE",
    "DEFAULT_OUTPUT_DIR",
    "RUN_FILE",
    "checkpoints_in",
    "describe_outputs",
    "find_last_checkpoint",
    "new_run_dir",
    "run_dir_of",
    "run_dirs",
    "write_config",
    "write_run_info",
]
