"""File names, atomic links and deletion for the checkpoint folder.

A checkpoint is one file, or a folder (a sharded checkpoint: ``strategy="fsdp"``, or
``checkpoint_format="sharded"``) holding one file per rank, DCP's metadata and
``hookwise.pt``; the functions here handle both.
"""

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


#: The file a sharded checkpoint folder holds besides its shards (written last).
_SHARDED_META = "hookwise.pt"


def is_checkpoint_folder(path: Path) -> bool:
    """Whether ``path`` is a complete sharded checkpoint folder (not a link to one)."""
    return path.is_dir() and not path.is_symlink() and (path / _SHARDED_META).is_file()


def same_checkpoint(first: Path, second: Path) -> bool:
    """Whether two names hold the same checkpoint: the same file, or folders whose
    ``hookwise.pt`` is the same file (:func:`link_or_copy` links a folder file by file)."""
    if is_checkpoint_folder(first) and is_checkpoint_folder(second):
        first, second = first / _SHARDED_META, second / _SHARDED_META
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def link_or_copy(source: Path, target: Path) -> None:
    """Make ``target`` hold the same bytes as ``source``, atomically.

    A hard link costs no space and no time; where the file system has none, the file is copied
    and fsynced. Either way the new name is prepared under a temporary name and renamed over
    ``target``, so a reader sees the old file or the new one, never a partial one. Removing
    ``source`` later leaves ``target`` intact. A sharded checkpoint folder is linked file by
    file into a new folder (:func:`_link_folder`).
    """
    temporary = target.with_name(f".{target.name}.{os.getpid()}.link.tmp")
    if source.is_dir():
        _link_folder(source, target, temporary)
        return
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


def _link_file(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
        _fsync_file(target)


def _link_folder(source: Path, target: Path, temporary: Path) -> None:
    """:func:`link_or_copy` for a sharded checkpoint folder: every file linked into
    ``temporary``, which then replaces ``target`` (an older ``target`` is moved aside first, as
    a folder cannot be renamed over a folder, and removed after)."""
    _remove(temporary)
    old = target.with_name(f".{target.name}.{os.getpid()}.old.tmp")
    try:
        temporary.mkdir()
        for path in sorted(source.iterdir()):
            _link_file(path, temporary / path.name)
        _fsync_dir(temporary)
        if target.exists() or target.is_symlink():
            _remove(old)
            os.replace(target, old)
        os.replace(temporary, target)
        _fsync_dir(target.parent)
    except BaseException:
        _remove(temporary)
        raise
    _remove(old)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


#: A temporary file of a write that did not finish: ``atomic_save``'s ``.NAME.HEX.tmp`` or
#: :func:`link_or_copy`'s ``.NAME.PID.link.tmp`` and ``.NAME.PID.old.tmp`` (folders), or a
#: sharded save's ``.NAME.partial`` and ``.NAME.old`` folders.
_TEMPORARY = re.compile(r"\.(?P<name>.+\.ckpt)(\.[0-9a-f]+(\.link|\.old)?\.tmp|\.partial|\.old)\Z")


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
        if not (target.exists() and same_checkpoint(primary, target)):
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
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                delete_quietly(path)
            removed.append(path.name)
    return removed


def delete_quietly(path: Path) -> None:
    """Remove a checkpoint the plugin no longer keeps; a failure is logged, not raised.

    Only a regular file or a sharded checkpoint folder is removed (a symbolic link, or another
    folder under a checkpoint's name, is not the plugin's and stays)."""
    try:
        if is_checkpoint_folder(path):
            shutil.rmtree(path)
            return
        if path.is_symlink() or not path.is_file():
            if path.exists() or path.is_symlink():
                logger.warning("checkpoint: left %s in place: it is not a checkpoint file", path)
            return
        path.unlink(missing_ok=True)
    except OSError as exc:
        logger.warning("could not remove old checkpoint %s: %s", path, exc)
