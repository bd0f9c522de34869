"""``hookwise show PATH [--json]``: what made a run and what it measured.

PATH is a run folder, its ``run.json`` or a checkpoint (``.ckpt``). The command prints the
run's manifest (:mod:`hookwise.manifest`: versions, seed, plugins in enabled order with their
distributions and parameters, the call order per hook, the config or the settings) and its
metrics: for a run, ``run.json``'s final metrics and the last value of each column of
``metrics.csv``; for a checkpoint, its position and the latest metrics it holds.

A checkpoint is untrusted (docs/security.md): it is read with the safe loader
(:func:`hookwise.checkpointing.load_checkpoint`), and nothing it or the run folder names is
imported or run.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hookwise.cli.app import EXIT_OK
from hookwise.errors import CheckpointError, HookwiseError, add_note

#: What the command reads as a run's ``run.json`` (any other file is read as a checkpoint).
_JSON_SUFFIX = ".json"


def _run_info(file: Path) -> dict[str, Any]:
    """``run.json``, checked to be hookwise's."""
    from hookwise.runs import RUN_MARKER

    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HookwiseError(f"cannot read {str(file)!r}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise HookwiseError(
            f"{str(file)!r} is not valid JSON ({exc}): the run's record is damaged"
        ) from exc
    if not isinstance(info, dict) or info.get("hookwise_run") != RUN_MARKER:
        raise HookwiseError(
            f'{str(file)!r} is not a hookwise run\'s record (it has no "hookwise_run": '
            f"{RUN_MARKER} entry)"
        )
    return info


def csv_summary(file: Path) -> dict[str, Any] | None:
    """``metrics.csv``'s row count and, per column, its last value with that row's epoch and
    step (``None`` when the file is absent or unreadable)."""
    try:
        with file.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    last: dict[str, dict[str, str]] = {}
    for row in rows:
        for key, value in row.items():
            if key not in (None, "epoch", "step") and value not in (None, ""):
                last[str(key)] = {
                    "value": str(value),
                    "epoch": row.get("epoch") or "",
                    "step": row.get("step") or "",
                }
    return {"file": str(file), "rows": len(rows), "last": last}


def run_report(folder: Path, info: Mapping[str, Any]) -> dict[str, Any]:
    """What ``show`` reports of a run folder."""
    from hookwise.runs import checkpoints_in

    return {
        "kind": "run",
        "path": str(folder),
        "command": info.get("command"),
        "status": info.get("status"),
        "updated": info.get("updated"),
        "resumed_from": info.get("resumed_from"),
        "manifest": info.get("manifest"),
        "metrics": info.get("metrics") or {},
        "metrics_csv": csv_summary(folder / "metrics.csv"),
        "checkpoints": [str(p.relative_to(folder)) for p in checkpoints_in(folder)],
    }


def checkpoint_report(file: Path) -> dict[str, Any]:
    """What ``show`` reports of a checkpoint, read with the safe loader."""
    from hookwise.checkpointing import load_checkpoint
    from hookwise.manifest import plain
    from hookwise.runs import run_dir_of

    data = load_checkpoint(file)
    folder = run_dir_of(file)
    return {
        "kind": "checkpoint",
        "path": str(file),
        "run_folder": str(folder) if folder is not None else None,
        "epoch": data["epoch"],
        "global_step": data["global_step"],
        "epoch_complete": data.get("epoch_complete"),
        "seed": plain(data.get("seed")),
        "versions": plain(data.get("versions")),
        "manifest": data.get("manifest"),
        "metrics": plain(dict(data.get("metrics", {}))),
        "plugin_states": sorted(data.get("plugins", {})),
    }


def report(path: Path) -> dict[str, Any]:
    """What ``show`` reports of ``path`` (a run folder, a ``run.json`` or a checkpoint).

    :raises HookwiseError: the path does not exist, is a folder that is no run, or is a
        damaged or foreign file; :class:`~hookwise.CheckpointError` for a bad checkpoint.
    """
    from hookwise.runs import RUN_FILE, run_dirs

    if not path.exists():
        raise HookwiseError(
            f"{str(path)!r} does not exist; give a run folder (hookwise-runs/<time>), its "
            f"run.json or a checkpoint (.ckpt)"
        )
    if path.is_dir():
        if (path / RUN_FILE).is_file():
            return run_report(path, _run_info(path / RUN_FILE))
        runs = run_dirs(path)
        many = f"{len(runs)} run folders" if len(runs) > 1 else "a run folder"
        hint = (
            f"; it holds {many}: show one, e.g. hookwise show {runs[-1]}"
            if runs
            else ": a run folder holds hookwise's run.json"
        )
        raise HookwiseError(f"{str(path)!r} is not a hookwise run folder{hint}")
    if path.suffix == _JSON_SUFFIX:
        return run_report(path.parent, _run_info(path))
    try:
        return checkpoint_report(path)
    except CheckpointError as exc:
        if path.suffix != ".ckpt":
            add_note(exc, "hookwise show reads a run folder, its run.json or a checkpoint (.ckpt)")
        raise


def cmd_show(args: argparse.Namespace) -> int:
    """``hookwise show PATH [--json]``."""
    from hookwise.cli.show_text import render

    found = report(Path(args.path))
    if args.json:
        print(json.dumps(found, indent=2, default=str))
    else:
        print(render(found))
    return EXIT_OK


__all__ = ["checkpoint_report", "cmd_show", "csv_summary", "report", "run_report"]
