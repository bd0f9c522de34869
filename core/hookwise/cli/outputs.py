"""What ``fit`` and ``test`` write and print: the run folder, ``--dry-run`` and the summary."""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hookwise.cli.app import EXIT_OK
from hookwise.cli.checkpoints import output_dir

if TYPE_CHECKING:
    from hookwise.config import RunConfig
    from hookwise.plugins import PluginManager
    from hookwise.runlock import RunLock
    from hookwise.runs import RunOutput

logger = logging.getLogger("hookwise")

#: How the summary labels a run folder's entries (by name); others are "file" or "folder".
OUTPUT_LABELS = {
    "checkpoints": "checkpoints",
    "metrics.csv": "metrics file",
    "metrics.jsonl": "metrics file",
    "curves.png": "curves",
    "config.toml": "config",
    "run.json": "run info",
}


#: The run folders this process holds locked (released by :func:`run_locks`).
_LOCKS: list[RunLock] = []


@contextlib.contextmanager
def run_locks() -> Iterator[None]:
    """Release, at the end of the block, the run-folder locks taken inside it."""
    before = len(_LOCKS)
    try:
        yield
    finally:
        while len(_LOCKS) > before:
            _LOCKS.pop().release()


def shared_run_dir(
    args: argparse.Namespace, resolved: RunConfig, existing: Path | None, **info: Any
) -> Path:
    """The run folder: made (or reused) on rank 0, which locks it (see
    :mod:`hookwise.runlock`; a folder in use is refused, naming its holder) and writes the
    config and ``run.json``; shared with the other ranks under torchrun."""
    from hookwise import distributed
    from hookwise.runlock import RunLock
    from hookwise.runs import new_run_dir, write_config, write_run_info

    folder: str | None = None
    command = f"hookwise {info.get('command', '')}".strip()
    if distributed.is_rank_zero():
        path = existing or restarted_run_dir(command) or new_run_dir(output_dir(args))
        _LOCKS.append(RunLock(path, command=command))
        write_config(path, resolved.to_toml())
        write_run_info(path, status="running", **info)
        logger.info("Run folder: %s", path)
        folder = str(path)
        distributed.remember_for_restarts(command, str(path.resolve()))
    shared = distributed.broadcast(folder)
    if shared is None:  # rank 0 always has one; only a broken process group gets here
        raise RuntimeError("rank 0 shared no run folder")
    return Path(shared)


def restarted_run_dir(command: str) -> Path | None:
    """After ``torchrun --max-restarts`` restarted the workers: the run folder the attempt
    before chose for ``command`` (read from torchrun's rendezvous store, where
    :func:`shared_run_dir` records it), so the job continues there (the trainer resumes from
    its newest checkpoint: ``resume_on_restart``); ``None`` on a first attempt, or when the
    attempt before recorded none."""
    from hookwise import distributed
    from hookwise.runs import is_run_folder

    previous = distributed.recall_from_earlier_attempt(command)
    if previous is None:
        return None
    folder = Path(previous)
    if not is_run_folder(folder):
        logger.warning(
            "torchrun restarted the workers; the attempt before ran in %s, which is no longer "
            "a run folder: this attempt starts a new one",
            folder,
        )
        return None
    logger.warning(
        "torchrun restarted the workers (attempt %d): the run continues in the run folder of "
        "the attempt before, %s",
        distributed.restart_count(),
        folder,
    )
    return folder


CheckpointStamps = dict[Path, tuple[int, int, int]]


def checkpoint_stamps(folder: Path) -> CheckpointStamps:
    """Each ``*.ckpt`` under ``folder`` with its inode, time and size: what was there before
    the run (see :func:`written_checkpoint`)."""
    stamps: CheckpointStamps = {}
    for path in folder.rglob("*.ckpt"):
        try:
            stat = path.stat()
        except OSError:  # deleted while we looked
            continue
        stamps[path] = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    return stamps


def written_checkpoint(folder: Path, before: CheckpointStamps) -> Path | None:
    """The newest complete checkpoint this run wrote under ``folder`` (one absent or different
    in ``before``); ``None`` when it wrote none (``-p no:checkpoint``, ``--epochs 0``)."""
    from hookwise import last

    after = checkpoint_stamps(folder)
    written = {p for p, stamp in after.items() if before.get(p) != stamp}
    found = last.newest_checkpoint_or_none(folder)
    if found is None or found.path not in written:
        return None
    # last.ckpt moves on when the run is resumed: name the epoch's own file (a hard link to the
    # same data) where there is one, so the command keeps evaluating these weights.
    inode = after[found.path][0]
    links = sorted(p for p in written if p != found.path and after[p][0] == inode)
    return links[0] if links else found.path


def print_evaluate_again(folder: Path, checkpoint: Path | None, output_dir: str | None) -> None:
    """The command that evaluates the checkpoint this run wrote (nothing when it wrote none):
    it names the checkpoint and the run's resolved config, so it evaluates these weights with
    this run's job whatever other runs the output folder holds."""
    if checkpoint is None:
        return
    from hookwise.runs import CONFIG_FILE

    hint = f" --output-dir {output_dir}" if output_dir is not None else ""
    print(
        f"Evaluate these weights again with: hookwise test {folder / CONFIG_FILE} "
        f"--weights {checkpoint}{hint}"
    )


def finish_run(folder: Path, status: str, metrics: dict[str, float], **info: Any) -> None:
    """Record the run's end (status and metrics) in ``run.json`` on rank 0.

    When the run failed, a failure to write ``run.json`` (a full or read-only file system, the
    likely cause of the run's own failure) is logged, not raised, so that the error the command
    reports is the run's, not this consequence of it."""
    from hookwise import distributed
    from hookwise.runs import write_run_info

    if not distributed.is_rank_zero():
        return
    try:
        write_run_info(folder, status=status, metrics=metrics, **info)
    except OSError as exc:
        if status == "finished":
            raise
        logger.warning("could not record the run's end (%s) in %s: %s", status, folder, exc)


def dry_run(resolved: RunConfig, pm: PluginManager) -> int:
    """``--dry-run``: check the job's targets import; print the config and the call order
    (per hook, and why: :func:`hookwise.cli.plugin_order.dry_run_lines`)."""
    from hookwise.cli.plugin_order import dry_run_lines
    from hookwise.cli.run_config import check_job_targets, job_enforcing

    with job_enforcing(resolved):
        check_job_targets(resolved.job)
    print(f"# The resolved config (from {resolved.source}, the environment and the command line)")
    print(resolved.to_toml())
    print("\n".join(dry_run_lines(pm)))
    return EXIT_OK


def _print_metrics(title: str, metrics: dict[str, float]) -> None:
    print(title)
    width = max(len(k) for k in metrics)
    for key in sorted(metrics):
        print(f"  {key:<{width}}  {metrics[key]:.4f}")


def output_label(entry: RunOutput) -> str:
    """How the summary names a run folder entry: ``checkpoints``, ``config``... or its kind."""
    return OUTPUT_LABELS.get(entry.path.name, "folder" if entry.is_folder else "file")


def print_summary(
    folder: Path, test_metrics: dict[str, float], metrics: dict[str, float], *, tested: bool
) -> None:
    """The end of a run: its test (or last validation) metrics and what its folder holds."""
    from hookwise.runs import run_outputs

    if tested:
        if test_metrics:
            _print_metrics("Test metrics:", test_metrics)
        else:
            print("Test metrics:")
            print("  (none: enable an evaluator plugin, e.g. -p evaluator:evaluator=accuracy)")
    else:
        print("No [data] test loader: the final test was skipped.")
        final = {k: v for k, v in metrics.items() if k.startswith("val/")}
        if final:
            _print_metrics("Last validation metrics:", final)
    print(f"Outputs in {folder}:")
    for entry in run_outputs(folder):
        print(f"  {output_label(entry) + ':':<14}{entry.describe()}")


__all__ = [
    "checkpoint_stamps",
    "dry_run",
    "finish_run",
    "output_label",
    "print_evaluate_again",
    "print_summary",
    "restarted_run_dir",
    "run_locks",
    "shared_run_dir",
    "written_checkpoint",
]
