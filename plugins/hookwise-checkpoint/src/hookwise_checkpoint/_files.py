"""File names, atomic links and deletion for the checkpoint folder."""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

logger = logging.getLogger("hookwise.checkpoint")

#: Always the newest checkpoint the plugin wrote.
LAST = "last.ckpt"
#: The checkpoint with the best monitored value.
BEST = "best.ckpt"
#: Written when the run fails (``on_exception(fatal=True)``).
EMERGENCY = "emergency.ckpt"


def periodic_file_name(epoch: int, step: int) -> str:
    """``epoch={epoch}-step={step}.ckpt``, vis4d's name for periodic checkpoints."""
    return f"epoch={epoch}-step={step}.ckpt"


def format_value(value: float) -> str:
    """A metric value as vis4d prints it: 4 decimals, scientific notation below 1e-3."""
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.3e}"
    return f"{value:.4f}"


def best_file_name(epoch: int, step: int, monitor: str, value: float) -> str:
    """``best-epoch={epoch}-step={step}-{metric}={value}.ckpt`` (``/`` in the metric: ``_``)."""
    metric = re.sub(r"[^A-Za-z0-9_.-]+", "_", monitor).strip("_") or "metric"
    return f"best-epoch={epoch}-step={step}-{metric}={format_value(value)}.ckpt"


#: The names the plugin gives the files it may delete (periodic and best checkpoints).
_OWN_NAMES = (
    re.compile(r"epoch=\d+-step=\d+\.ckpt\Z"),
    re.compile(r"best-epoch=\d+-step=\d+-[A-Za-z0-9_.-]+=[A-Za-z0-9_.+-]+\.ckpt\Z"),
)


def is_own_file_name(name: object) -> bool:
    """Whether ``name`` is a bare file name the plugin writes and may delete later
    (``epoch=E-step=S.ckpt``, ``best-epoch=E-step=S-METRIC=VALUE.ckpt``): no folder part, no
    ``..``, nothing a saved state could use to point outside the checkpoint folder."""
    if not isinstance(name, str) or name in ("", ".", "..") or "\x00" in name:
        return False
    if any(sep in name for sep in ("/", "\\", os.sep, os.altsep or "/")):
        return False
    return any(pattern.match(name) for pattern in _OWN_NAMES)


def checkpoint_subfolder(registered_name: str | None) -> str:
    """The folder, inside the run folder, of the plugin enabled under ``registered_name``:
    ``checkpoints`` for the first instance, ``checkpoints@b`` for ``checkpoint@b`` (and for a
    second ``CheckpointCallback#2`` given as an object, ``checkpoints@2``), so that two
    instances never write, list or delete the same files."""
    suffix = ""
    if registered_name:
        for mark in ("@", "#"):
            if mark in registered_name:
                suffix = registered_name.rsplit(mark, 1)[1]
                break
    suffix = re.sub(r"[^A-Za-z0-9_.-]+", "_", suffix).strip("._")
    return f"checkpoints@{suffix}" if suffix else "checkpoints"


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def link_or_copy(source: Path, target: Path) -> None:
    """Make ``target`` hold the same bytes as ``source``, atomically.

    A hard link costs no space and no time; where the file system has none, the file is copied
    and fsynced. Either way the new name is prepared under a temporary name and renamed over
    ``target``, so a reader sees the old file or the new one, never a partial one. Removing
    ``source`` later leaves ``target`` intact.
    """
    temporary = target.with_name(f".{target.name}.{os.getpid()}.link.tmp")
    temporary.unlink(missing_ok=True)
    try:
        try:
            os.link(source, temporary)
        except OSError:
            shutil.copyfile(source, temporary)
            _fsync_file(temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


#: A temporary file of a write that did not finish: ``atomic_save``'s ``.NAME.HEX.tmp`` or
#: :func:`link_or_copy`'s ``.NAME.PID.link.tmp``.
_TEMPORARY = re.compile(r"\.(?P<name>.+\.ckpt)\.[0-9a-f]+(\.link)?\.tmp\Z")


def finish_interrupted_save(folder: Path, names: list[str], doomed: list[str]) -> list[str]:
    """Complete a save the process was killed in, after its first file was written: give the
    first file (``names[0]``) its other names (``last.ckpt``, ``best.ckpt``, the best file),
    and remove the files that save dropped (``doomed``, already checked to be the plugin's
    own). Returns what was done, for the log.
    """
    done: list[str] = []
    primary = folder / names[0]
    for name in names[1:]:
        target = folder / name
        if not (target.exists() and os.path.samefile(primary, target)):
            link_or_copy(primary, target)
            done.append(f"linked {name}")
    for name in doomed:
        if (folder / name).exists():
            delete_quietly(folder / name)
            done.append(f"removed {name}")
    return done


def remove_temporaries(folder: Path) -> list[str]:
    """Remove the temporary files that writes of the plugin's own names left in ``folder``
    when the process was killed during them (nothing else matches); return their names."""
    removed = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        match = _TEMPORARY.match(path.name)
        if match and (is_own_file_name(match["name"]) or match["name"] in (LAST, BEST, EMERGENCY)):
            delete_quietly(path)
            removed.append(path.name)
    return removed


def delete_quietly(path: Path) -> None:
    """Remove a checkpoint the plugin no longer keeps; a failure is logged, not raised.

    Only a regular file is removed (a symbolic link or a folder under a checkpoint's name is
    not the plugin's and stays)."""
    try:
        if path.is_symlink() or not path.is_file():
            if path.exists() or path.is_symlink():
                logger.warning("checkpoint: left %s in place: it is not a checkpoint file", path)
            return
        path.unlink(missing_ok=True)
    except OSError as exc:
        logger.warning("could not remove old checkpoint %s: %s", path, exc)
