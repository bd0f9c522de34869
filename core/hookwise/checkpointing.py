"""The checkpoint format: atomic writes and safe loads.

The core owns the format; the ``checkpoint`` plugin decides when to save and what to keep.

A checkpoint is a dict that ``torch.load(weights_only=True)`` reads, so loading one can never
run code. It holds ``format`` (``"hookwise-checkpoint"``), ``format_version``, the position
(``epoch``, ``global_step``, ``batch_in_epoch``, ``epoch_complete``), ``seed``, the ``model``
state (without a DDP ``module.`` prefix), ``optimizers``, ``lr_schedulers``, ``rng`` states
(rank 0's; with ``rng_per_rank``, one entry per rank, when every rank saved together),
``plugins`` (each plugin's state under its name), the latest ``metrics`` and the run's
``manifest`` (:mod:`hookwise.manifest`; absent in checkpoints of older releases). With the training
features of :mod:`hookwise.trainer.optimization`: ``window_batches`` (batches accumulated since
the last optimizer step), ``grad_scaler`` (the ``fp16`` gradient scaler's state, else ``None``)
and, only for a checkpoint taken inside an accumulation window, ``accumulated_grads``. A
checkpoint written inside ``on_train_batch_end`` (a step checkpoint) has ``unmerged_logs``:
what that hook call's implementations returned before the save, which the trainer merges only
after the call (a resumed fit merges them at its start, so its metrics file gets the step's row).
``data_position`` records the number of processes and how far the epoch's data order is (the
samples consumed and how to draw the order again), so a resume on another number of processes
continues it (:mod:`hookwise.trainer.data_order`; absent in checkpoints of older releases).

Writes are atomic: the data goes to a temporary file in the same folder, which is flushed,
fsynced and renamed over the target, so a process killed mid-write leaves the previous file.
The trainer writes through a saver (:mod:`hookwise.saving`): synchronously, or from a copy in
host memory in a background thread.
"""

from __future__ import annotations

import errno
import os
import pickle
import random
import re
import secrets
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from hookwise.errors import CheckpointError

FORMAT = "hookwise-checkpoint"
FORMAT_VERSION = 1
#: hookwise's file inside a sharded checkpoint folder (see :mod:`hookwise.sharded`).
SHARDED_META_FILE = "hookwise.pt"


def versions() -> dict[str, str | int]:
    """What a checkpoint records of the software that wrote it: hookwise, the hook
    specifications, the trainer API for plugins and torch."""
    import hookwise
    from hookwise.api import TRAINER_API_VERSION
    from hookwise.hookspecs import HOOKS_VERSION

    return {
        "hookwise": hookwise.__version__,
        "hooks": HOOKS_VERSION,
        "trainer_api": TRAINER_API_VERSION,
        "torch": str(torch.__version__),
    }


def fsync_dir(folder: Path) -> None:
    """Make the entries of ``folder`` durable (a no-op where folders cannot be fsynced)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create_temporary(target: Path) -> tuple[int, str]:
    """A new hidden temporary file beside ``target``, created with mode 0666 less the umask
    (as ``open()`` creates files, so a checkpoint's mode is that of the run's other files;
    ``tempfile.mkstemp`` would make it 0600)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temporary = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(temporary, flags, 0o666), str(temporary)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {str(target)!r}")


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``obj`` with ``torch.save`` to ``path`` atomically (temp file, fsync, rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = _create_temporary(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return target


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu") -> dict[str, Any]:
    """Load a hookwise checkpoint safely (``weights_only=True``) and check its format.

    Loading never runs code from the file: only tensors and plain values are unpickled. The
    archive's CRC-32 checksums are verified first (``torch.load`` does not), so a damaged
    tensor is an error, not silently different weights.

    :raises CheckpointError: the file is missing, truncated or corrupt, is not a hookwise
        checkpoint (another program's file, a pickled object), has an incompatible format
        version, or lacks entries a checkpoint has; the message names the file.
    """
    return _read(Path(path), map_location, verify=True)


def check_checkpoint(path: str | os.PathLike[str]) -> None:
    """The quick check of a checkpoint a command is given, before the run is built: it is a
    readable hookwise checkpoint of this format version with the entries one has.

    The tensors are mapped, not read, and the archive's checksums are left to
    :func:`load_checkpoint`, which the run calls once: the file is read in full only once.

    :raises CheckpointError: as :func:`load_checkpoint` (a damaged tensor shows there).
    """
    _read(Path(path), "cpu", verify=False)


def _not_a_file(file: Path) -> str:
    """Why ``file`` is no file to read: missing, a folder, or a broken symbolic link."""
    try:
        os.stat(file)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link that loops (a link in its chain points back into it)"
        if file.is_symlink():
            return f"is a symbolic link to {os.readlink(file)!r}, which does not exist"
        return "does not exist"
    if (file / SHARDED_META_FILE).is_file():
        return (
            "is a sharded checkpoint folder (strategy='fsdp' or checkpoint_format='sharded'): "
            "resume it with "
            "resume_from=FOLDER (any number of processes), or turn it into one file with "
            "`hookwise consolidate FOLDER [FILE]` or hookwise.sharded.to_single_file(FOLDER, "
            "FILE)"
        )
    return "is not a file"


def _read(file: Path, map_location: Any, *, verify: bool) -> dict[str, Any]:
    if not file.is_file():
        raise CheckpointError(
            f"checkpoint {str(file)!r} {_not_a_file(file)}; give the path of a .ckpt file"
        )
    if verify:
        _verify_archive(file)
    # mmap needs torch's zip format; anything else is read (and refused) in full
    mmap = not verify and zipfile.is_zipfile(file)
    try:
        with warnings.catch_warnings():  # a foreign pickle's protocol is reported below
            warnings.filterwarnings("ignore", "Detected pickle protocol")
            data = torch.load(file, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(_refused(file, exc)) from exc
    except Exception as exc:  # whatever the bytes make torch.load raise
        raise CheckpointError(
            f"checkpoint {str(file)!r} is truncated or corrupt and cannot be read: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(
            f"{str(file)!r} is not a hookwise checkpoint (no 'format': {FORMAT!r} entry); "
            f"load plain weights with --weights or torch.load"
        )
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {str(file)!r} has format version {version!r}; this hookwise reads "
            f"version {FORMAT_VERSION}. Use the hookwise release that wrote it."
        )
    _check_entries(file, data)
    return data


#: Entries every checkpoint has (``True``) or may have (``False``), with their types.
_ENTRIES: dict[str, tuple[bool, type | tuple[type, ...]]] = {
    "model": (True, Mapping),
    "epoch": (True, int),
    "global_step": (True, int),
    "batch_in_epoch": (False, int),
    "epoch_complete": (False, bool),
    "optimizers": (False, list),
    "lr_schedulers": (False, list),
    "plugins": (False, Mapping),
    "plugin_state_versions": (False, Mapping),
    "versions": (False, Mapping),
    "manifest": (False, Mapping),
    "rng": (False, Mapping),
    "rng_per_rank": (False, list),
    "metrics": (False, Mapping),
    "unmerged_logs": (False, Mapping),
    "window_batches": (False, int),
    "grad_scaler": (False, (Mapping, type(None))),
    "accumulated_grads": (False, Mapping),
    "data_position": (False, Mapping),
    "sharded": (False, Mapping),
}


def _check_entries(file: Path, data: Mapping[str, Any]) -> None:
    problems = []
    for key, (required, kind) in _ENTRIES.items():
        if key not in data:
            if required:
                problems.append(f"{key!r} is missing")
            continue
        value = data[key]
        wrong_bool = isinstance(value, bool) and kind is int
        if wrong_bool or not isinstance(value, kind):
            expected = kind.__name__ if isinstance(kind, type) else str(kind)
            problems.append(f"{key!r} is {type(value).__name__}, not {expected}")
    if problems:
        raise CheckpointError(
            f"checkpoint {str(file)!r} is damaged or was not written by hookwise: "
            f"{'; '.join(problems)}"
        )


def _verify_archive(file: Path) -> None:
    """Check the CRC-32 of every record of a zip-format file (torch.load does not)."""
    try:
        if not zipfile.is_zipfile(file):
            return  # not an archive (or a cut one): torch.load says what is wrong
        with zipfile.ZipFile(file) as archive:
            damaged = archive.testzip()
    except Exception as exc:
        raise CheckpointError(
            f"checkpoint {str(file)!r} is truncated or corrupt and cannot be read: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if damaged is not None:
        raise CheckpointError(
            f"checkpoint {str(file)!r} is corrupt: the checksum of its record {damaged!r} does "
            f"not match its data (the file was damaged after it was written)"
        )


def _refused(file: Path, exc: Exception) -> str:
    """The message for a file that a safe load refuses: a pickled object, or bad pickle data."""
    text = str(exc)
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if found:
        return (
            f"checkpoint {str(file)!r} holds a pickled Python object ({found.group(1)}), which "
            f"a safe load refuses: hookwise loads only tensors and plain values, so that loading "
            f"a file never runs code from it. A file from another program: save the object's "
            f"state_dict() instead; a file from an older hookwise: a plugin's state held that "
            f"object (hookwise now checks plugin state when it saves)."
        )
    operand = re.search(r"Unsupported operand[^\n]*", text)
    reason = operand.group(0) if operand else text.strip().splitlines()[0] if text else ""
    return (
        f"checkpoint {str(file)!r} is corrupt or was not written by torch.save: a safe load "
        f"cannot read it ({reason})"
    )


def strip_module_prefix(state: Mapping[str, Any]) -> dict[str, Any]:
    """Remove a DDP ``module.`` (or ``model.``) prefix shared by every key."""
    keys = list(state)
    for prefix in ("module.", "model."):
        if keys and all(k.startswith(prefix) for k in keys):
            return {k[len(prefix) :]: v for k, v in state.items()}
    return dict(state)


def capture_rng_state() -> dict[str, Any]:
    """The RNG states of torch (CPU and CUDA), Python's ``random`` and numpy, if imported."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": _python_state_to_plain(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
        state["cuda"] = torch.cuda.get_rng_state_all()
    numpy = _numpy()
    if numpy is not None:
        kind, keys, pos, has_gauss, cached = numpy.random.get_state()
        state["numpy"] = [kind, torch.from_numpy(keys.astype("int64")), pos, has_gauss, cached]
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`capture_rng_state` returned."""
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy = _numpy()
    if numpy is not None and "numpy" in state:
        kind, keys, pos, has_gauss, cached = state["numpy"]
        numpy.random.set_state((kind, keys.numpy().astype("uint32"), pos, has_gauss, cached))


def _python_state_to_plain(state: tuple[Any, ...]) -> list[Any]:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _numpy() -> Any:
    import sys

    return sys.modules.get("numpy")
