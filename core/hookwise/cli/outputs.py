"""What ``fit`` and ``test`` write and print: the run folder, ``--dry-run`` and the summary."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hookwise.cli.app import EXIT_OK
from hookwise.cli.checkpoints import output_dir

if TYPE_CHECKING:
    from hookwise.config import RunConfig
    from hookwise.plugins import PluginManager
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


def shared_run_dir(
    args: argparse.Namespace, resolved: RunConfig, existing: Path | None, **info: Any
) -> Path:
    """The run folder: made (or reused) on rank 0, which writes the config and ``run.json``;
    shared with the other ranks under torchrun."""
    from hookwise import distributed
    from hookwise.runs import new_run_dir, write_config, write_run_info

    folder: str | None = None
    if distributed.is_rank_zero():
        path = existing if existing is not None else new_run_dir(output_dir(args))
        write_config(path, resolved.to_toml())
        write_run_info(path, status="running", **info)
        logger.info("Run folder: %s", path)
        folder = str(path)
    shared = distributed.broadcast(folder)
    if shared is None:  # rank 0 always has one; only a broken process group gets here
        raise RuntimeError("rank 0 shared no run folder")
    return Path(shared)


def finish_run(folder: Path, status: str, metrics: dict[str, float], **info: Any) -> None:
    """Record the run's end (status and metrics) in ``run.json`` on rank 0."""
    from hookwise import distributed
    from hookwise.runs import write_run_info

    if distributed.is_rank_zero():
        write_run_info(folder, status=status, metrics=metrics, **info)


def dry_run(resolved: RunConfig, pm: PluginManager) -> int:
    """``--dry-run``: check the job's targets import; print the config and the call order
    (per hook, and why: :func:`hookwise.cli.plugin_order.dry_run_lines`)."""
    from hookwise.cli.plugin_order import dry_run_lines
    from hookwise.cli.run_config import check_job_targets

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


__all__ = ["dry_run", "finish_run", "output_label", "print_summary", "shared_run_dir"]
