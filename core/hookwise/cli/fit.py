"""``hookwise fit``: train the job a config describes, in a new run folder (or the resumed
run's own)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hookwise.cli.app import EXIT_OK
from hookwise.cli.checkpoints import checkpoint_path, load_weights
from hookwise.cli.outputs import (
    checkpoint_stamps,
    dry_run,
    finish_run,
    print_evaluate_again,
    print_summary,
    run_locks,
    shared_run_dir,
    written_checkpoint,
)
from hookwise.cli.run_config import job_enforcing, plugin_manager, resolve, trainer_kwargs
from hookwise.cli.setting_flags import _trainer_flag_kwargs
from hookwise.errors import ConfigError, HookwiseError

logger = logging.getLogger("hookwise")

if TYPE_CHECKING:
    from hookwise.config import RunConfig
    from hookwise.plugins import PluginManager
    from hookwise.trainer import TrainingInterrupted


def cmd_fit(args: argparse.Namespace) -> int:
    """``hookwise fit``."""
    from hookwise.runs import CONFIG_FILE, run_dir_of

    if args.resume and args.weights:
        raise ConfigError("give --resume (continue a run) or --weights (start from weights)")
    resume = checkpoint_path(args.resume, args, "--resume") if args.resume else None
    weights = checkpoint_path(args.weights, args, "--weights") if args.weights else None
    # A resume continues in the checkpoint's own run folder (one marked by hookwise's
    # run.json), with that run's config; a checkpoint outside a run folder starts a new
    # run folder under --output-dir and runs only the config named here.
    resumed_run = run_dir_of(resume) if resume is not None else None
    saved = resumed_run / CONFIG_FILE if resumed_run is not None else None
    if saved is not None and not saved.is_file():
        saved = None
    resolved = resolve(args, saved_config=saved)
    pm = plugin_manager(resolved, dry_run=args.dry_run)
    if args.dry_run:
        return dry_run(resolved, pm)
    from hookwise import distributed, settings

    kwargs = trainer_kwargs(resolved)
    # Under torchrun the ranks agree on the run folder before the trainer exists.
    with (
        job_enforcing(resolved),
        distributed.process_group(
            kwargs.get("device", "auto"),
            kwargs.get("dist_timeout", settings.DEFAULT_DIST_TIMEOUT_S),
            kwargs.get("dist_stall_timeout", settings.DEFAULT_DIST_STALL_TIMEOUT_S),
        ),
        run_locks(),
    ):
        return _fit_in_group(
            args, resolved, pm, kwargs, resume=resume, weights=weights, run_dir=resumed_run
        )


def interrupted_status(exc: TrainingInterrupted) -> int:
    """Report a run a signal ended (and how to resume it); return ``128 + signal number``."""
    print(f"hookwise: {exc}", file=sys.stderr)
    if exc.checkpoint is not None:
        print(f"hookwise: resume with: hookwise fit --resume {exc.checkpoint}", file=sys.stderr)
    return 128 + exc.signal_number


def seed_before_building(seed: int | None) -> int:
    """Seed torch, ``random`` and numpy before the job is built; return the seed. Without one
    (``seed = false``) a seed is drawn (the same on every rank) and the run records it."""
    import torch

    from hookwise import distributed
    from hookwise.trainer.position import seed_everything

    if seed is None:
        seed = distributed.broadcast(int(torch.initial_seed() & 0x7FFFFFFF))
    seed_everything(seed)
    return seed


def _fit_in_group(
    args: argparse.Namespace,
    resolved: RunConfig,
    pm: PluginManager,
    kwargs: dict[str, Any],
    *,
    resume: Path | None,
    weights: Path | None,
    run_dir: Path | None,
) -> int:
    from hookwise import distributed
    from hookwise.job import build_job
    from hookwise.trainer import Trainer, TrainingInterrupted

    # The seed comes first: the model's initial weights, a data split drawn by a factory and
    # anything else random that building the job does all follow it (the trainer seeds again
    # at fit start, for dropout and the data order).
    kwargs["seed"] = seed_before_building(kwargs.get("seed"))
    job = build_job(resolved.job)
    if weights is not None:
        load_weights(job.model, weights)
    from hookwise.manifest import build_manifest

    config = resolved.to_dict()
    info: dict[str, Any] = {"command": "fit", "resumed_from": resume, "weights": weights}
    manifest = build_manifest(pm, seed=kwargs["seed"], config=config)
    folder = shared_run_dir(args, resolved, run_dir, **info, manifest=manifest)
    trainer = Trainer(
        output_dir=folder,
        train_dataloader=job.train_loader,
        test_dataloader=job.val_loaders or None,
        train_data_connector=job.train_data_connector,
        test_data_connector=job.test_data_connector,
        plugins=pm,
        **kwargs,
        **_trainer_flag_kwargs(args),
    )
    trainer.run_config = config  # recorded in every checkpoint's manifest
    if job.optimizer is None:  # build_job(train=True) always builds one
        raise ConfigError("[optimizer] is missing: e.g. target = 'torch.optim:SGD', lr = 0.1")
    status = "failed"
    test_metrics: dict[str, float] = {}
    before = checkpoint_stamps(folder)
    resume_from = resume_after_restart(resume, folder, trainer.resume_on_restart)
    late: list[int] = []  # a signal after training, acted on once the run's records are whole
    with contextlib.ExitStack() as after_training:
        try:
            trainer.fit(
                job.model, job.optimizer, job.scheduler, job.loss_module, resume_from=resume_from
            )
            after_training.enter_context(deferred_signals(late, enabled=trainer.handle_signals))
            if job.test_loaders:
                trainer.test_dataloader = job.test_loaders
                with interrupting_signals(enabled=trainer.handle_signals):
                    test_metrics = trainer.test(job.model)
            status = "finished"
        except TrainingInterrupted as exc:
            status = "interrupted"
            return interrupted_status(exc)
        except EvaluationInterrupted as exc:  # a signal during the final test
            status = "interrupted"
            print(f"hookwise: the final test was interrupted by {exc.name}", file=sys.stderr)
            return 128 + exc.signal_number
        except SystemExit as exc:  # sys.exit() in a plugin or the job's code: never a success
            raise exit_inside_fit(exc) from exc
        finally:
            info["resumed_from"] = trainer.resumed_from or resume  # or the restart's checkpoint
            finish_run(folder, status, trainer.metrics, **info, manifest=final_manifest(trainer))
        if distributed.is_rank_zero():
            print_summary(folder, test_metrics, trainer.metrics, tested=bool(job.test_loaders))
            print_evaluate_again(folder, written_checkpoint(folder, before), args.output_dir)
    return late_signal_status(late)


def resume_after_restart(resume: Path | None, folder: Path, on_restart: bool) -> Path | None:
    """The checkpoint ``fit`` resumes: ``resume`` (``--resume``), except after torchrun
    restarted the workers (``resume_on_restart``) when the run folder holds a complete
    checkpoint: ``None`` then, so the trainer continues from the newest one (the attempt
    before went past ``--resume``). Rank 0 looks; every rank gets its answer."""
    from hookwise import distributed
    from hookwise.last import newest_checkpoint_or_none

    if resume is None or not on_restart or distributed.restart_count() == 0:
        return resume
    found = distributed.is_rank_zero() and newest_checkpoint_or_none(folder) is not None
    return None if distributed.broadcast(found) else resume


def final_manifest(trainer: Any) -> dict[str, Any] | None:
    """The run's manifest for the final ``run.json`` (the checkpoint's seed after a resume);
    ``None`` when it cannot be built, so that a failed run reports its own error."""
    try:
        manifest: dict[str, Any] = trainer.manifest()
    except Exception:
        logger.exception("could not record the run's manifest in run.json")
        return None
    return manifest


def deferred_signals(
    received: list[int], *, enabled: bool
) -> contextlib.AbstractContextManager[None]:
    """While the block runs, SIGINT and SIGTERM are appended to ``received`` instead of ending
    the process: after training, the final test (which :func:`interrupting_signals` ends
    itself), ``run.json`` and the summary are finished whole, then :func:`late_signal_status`
    acts on the signal."""
    from hookwise.trainer.stopping import handling_signals

    return handling_signals(received.append, enabled=enabled)


def late_signal_status(received: list[int]) -> int:
    """``EXIT_OK``, or ``128 + signal number`` for a signal that arrived after training while
    the run's records were written (they are complete: the run is recorded as it ended)."""
    if not received:
        return EXIT_OK
    import signal

    name = signal.Signals(received[0]).name
    print(
        f"hookwise: {name} arrived after training; the run's records are complete", file=sys.stderr
    )
    return 128 + received[0]


class EvaluationInterrupted(BaseException):
    """SIGINT or SIGTERM during the final test (a ``BaseException``: no plugin's error policy
    takes it for the plugin's own failure)."""

    def __init__(self, signal_number: int) -> None:
        import signal

        self.signal_number = signal_number
        self.name = signal.Signals(signal_number).name
        super().__init__(f"interrupted by {self.name}")


def interrupting_signals(*, enabled: bool) -> contextlib.AbstractContextManager[None]:
    """While the block runs (in the main thread), SIGINT and SIGTERM raise
    :class:`EvaluationInterrupted`, so the run is recorded as interrupted and the command
    exits with ``128 + signal`` (by default SIGTERM would end the process before it could)."""
    from hookwise.trainer.stopping import handling_signals

    def interrupt(signum: int) -> None:
        raise EvaluationInterrupted(signum)

    return handling_signals(interrupt, enabled=enabled)


def exit_inside_fit(exc: SystemExit) -> HookwiseError:
    """The error for a ``SystemExit`` raised inside ``fit`` (a plugin or the job's code called
    ``sys.exit()``): the run failed, whatever the exit code; it names where it was raised."""
    import os
    import traceback

    import pluggy

    import hookwise

    ours = tuple(os.path.dirname(m.__file__ or "") + os.sep for m in (hookwise, pluggy))
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(ours)]
    where = f" in {frames[-1].filename}:{frames[-1].lineno} ({frames[-1].name})" if frames else ""
    return HookwiseError(
        f"SystemExit({exc.code!r}) was raised during fit{where}: the run did not finish and "
        f"counts as failed. A plugin ends a run with trainer_state['trainer'].request_stop("
        f"reason), or by raising an exception (its error policy then applies)"
    )


__all__ = [
    "EvaluationInterrupted",
    "cmd_fit",
    "exit_inside_fit",
    "final_manifest",
    "interrupted_status",
    "interrupting_signals",
    "resume_after_restart",
    "seed_before_building",
]
