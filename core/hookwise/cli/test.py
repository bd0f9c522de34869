"""``hookwise test``: evaluate a checkpoint's weights on the config's test loaders."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hookwise.cli.app import EXIT_OK
from hookwise.cli.checkpoints import checkpoint_path, load_weights
from hookwise.cli.outputs import dry_run, finish_run, print_summary, run_locks, shared_run_dir
from hookwise.cli.run_config import job_enforcing, plugin_manager, resolve, trainer_kwargs
from hookwise.cli.setting_flags import _trainer_flag_kwargs
from hookwise.errors import CheckpointError, ConfigError, add_note

if TYPE_CHECKING:
    from hookwise.config import RunConfig
    from hookwise.plugins import PluginManager


def cmd_test(args: argparse.Namespace) -> int:
    """``hookwise test``."""
    weights = checkpoint_path(args.weights, args, "--weights")
    # Only the weights are read from the checkpoint: a config found beside it is not run
    # (checkpoints and their folders are untrusted); the error below names it when the
    # weights do not fit the config used.
    resolved = resolve(args)
    pm = plugin_manager(resolved, dry_run=args.dry_run)
    if args.dry_run:
        return dry_run(resolved, pm)

    from hookwise import distributed, settings

    kwargs = trainer_kwargs(resolved)
    with (
        job_enforcing(resolved),
        distributed.process_group(
            kwargs.get("device", "auto"),
            kwargs.get("dist_timeout", settings.DEFAULT_DIST_TIMEOUT_S),
            kwargs.get("dist_stall_timeout", settings.DEFAULT_DIST_STALL_TIMEOUT_S),
        ),
        run_locks(),
    ):
        return _test_in_group(args, resolved, pm, kwargs, weights)


def _test_in_group(
    args: argparse.Namespace,
    resolved: RunConfig,
    pm: PluginManager,
    kwargs: dict[str, Any],
    weights: Path,
) -> int:
    from hookwise import distributed
    from hookwise.job import build_job
    from hookwise.trainer import Trainer

    job = build_job(resolved.job, train=False)
    if not job.test_loaders:
        raise ConfigError(
            f"{resolved.source}: [data] has no test loader; add test = {{target = ...}}"
        )
    from hookwise.manifest import build_manifest

    config = resolved.to_dict()
    info: dict[str, Any] = {
        "command": "test",
        "weights": weights,
        "manifest": build_manifest(pm, seed=kwargs.get("seed"), config=config),
    }
    folder = shared_run_dir(args, resolved, None, **info)
    trainer = Trainer(
        output_dir=folder,
        test_dataloader=job.test_loaders,
        test_data_connector=job.test_data_connector,
        plugins=pm,
        **kwargs,
        **_trainer_flag_kwargs(args),
    )
    try:
        load_weights(job.model, weights, str(trainer.device))
    except CheckpointError as exc:
        _name_the_saved_config(exc, args, weights)
        raise
    if trainer.seed is not None:
        import torch

        torch.manual_seed(trainer.seed)
    status = "failed"
    metrics: dict[str, float] = {}
    try:
        metrics = trainer.test(job.model)
        if trainer.profiler is not None:
            trainer.profiler.log_report()
        status = "finished"
    finally:
        finish_run(folder, status, metrics, **info)
    if distributed.is_rank_zero():
        print(f"Weights: {weights}")
        print_summary(folder, metrics, trainer.metrics, tested=True)
    return EXIT_OK


def _name_the_saved_config(exc: CheckpointError, args: argparse.Namespace, weights: Path) -> None:
    """Add a note naming the config saved in the checkpoint's run folder, which ``test``
    does not run unless it is named."""
    from hookwise.runs import CONFIG_FILE, run_dir_of

    run = run_dir_of(weights)
    if args.config or run is None or not (run / CONFIG_FILE).is_file():
        return
    add_note(
        exc,
        f"hookwise test reads only the weights of a checkpoint, never the config beside it; "
        f"to evaluate with the config of its run, name it: "
        f"hookwise test {run / CONFIG_FILE} --weights {weights}",
    )


__all__ = ["cmd_test"]
