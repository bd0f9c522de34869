"""The ``hookwise`` command (``python -m hookwise`` is the same; torchrun launches it so).

::

    hookwise plugins [--all] [--json] [--inspect]   list installed plugins (metadata only)
    hookwise hooks                                  the hook reference
    hookwise fit [CONFIG] [-p NAME[:key=value,...]]... [-p no:NAME] [--resume PATH|last]
                 [--weights PATH] [--epochs N] [--steps N] [--seed N] [--device DEV]
                 [--output-dir DIR] [--dry-run]     train (the digits example without CONFIG)
    hookwise test [CONFIG] --weights PATH|last [-p ...] [--seed N] [--device DEV]
                  [--output-dir DIR] [--dry-run]    evaluate a checkpoint
    hookwise new-plugin NAME [--dir DIR]            write a new plugin distribution

Precedence, later wins: the embedded defaults < CONFIG < ``HOOKWISE_PLUGINS`` < the command
line (see :mod:`hookwise.config`). Errors a person can fix are printed without a traceback
and exit with status 2 (``--debug`` shows the traceback); an error during training exits with
1, a run ended by SIGINT/SIGTERM with 128 + the signal number (after writing a checkpoint).

``hookwise plugins`` imports neither torch nor any plugin: it reads entry-point metadata.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hookwise.errors import ConfigError, HookwiseError

if TYPE_CHECKING:
    from hookwise.config import RunConfig
    from hookwise.plugins import PluginManager

logger = logging.getLogger("hookwise")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

PRECEDENCE = """\
Plugins and settings come from four layers; a later layer wins, key by key:
  1. the defaults: the embedded default config (print it with `hookwise fit --dry-run`),
     whose plugins are logging (plot=true), evaluator (accuracy) and checkpoint;
  2. CONFIG, the TOML file named on the command line (no other file is ever read);
  3. the environment: HOOKWISE_PLUGINS="NAME[:key=value,...];no:NAME;...";
  4. the command line: -p NAME[:key=value,...], -p no:NAME, --epochs, --steps, --seed, ...
A later layer's parameters update an earlier one's for the same plugin; no:NAME removes a
plugin (a default too) and naming it again later enables it again. Plugins run in the order
you named them, then the defaults. HOOKWISE_DISABLE_PLUGIN_AUTOLOAD=1 leaves out the default
plugins; HOOKWISE_ALLOWED_PLUGINS (and a config's allowed_plugins) is an allow-list.
A CONFIG with a [model] table defines the whole job (model, data, optimizer, loss); without
one, its sections change the default job (digits)."""

PLUGIN_SPEC_HELP = (
    "enable a plugin: NAME (entry-point name, NAME@instance, or package.module:Object) with "
    'optional :key=value,... parameters (values are TOML literals: 3, 0.5, true, "text", '
    "[1, 2], {a = 1}; anything else is a string); -p no:NAME blocks one. Repeatable."
)


# -- the parser -------------------------------------------------------------------------------


def _add_debug(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="show tracebacks and debug logs",
    )


def _add_run_options(parser: argparse.ArgumentParser, *, fit: bool) -> None:
    parser.add_argument(
        "config",
        nargs="?",
        metavar="CONFIG",
        help="a TOML config (default: the embedded digits example; `hookwise test` uses the "
        "config saved beside the checkpoint when there is one)",
    )
    parser.add_argument(
        "-p",
        "--plugin",
        dest="plugins",
        action="append",
        default=[],
        metavar="NAME[:key=value,...]",
        help=PLUGIN_SPEC_HELP,
    )
    if fit:
        parser.add_argument(
            "--resume",
            metavar="PATH|last",
            help="continue a run from a checkpoint; 'last' is the newest checkpoint of the "
            "newest run in --output-dir. The run goes on in the checkpoint's run folder",
        )
        parser.add_argument(
            "--weights",
            metavar="PATH|last",
            help="start from the model weights of a hookwise checkpoint (not its optimizer "
            "or position)",
        )
        parser.add_argument("--epochs", type=int, metavar="N", help="[trainer] epochs")
        parser.add_argument("--steps", type=int, metavar="N", help="[trainer] steps (batches)")
    else:
        parser.add_argument(
            "--weights",
            metavar="PATH|last",
            required=True,
            help="the hookwise checkpoint to evaluate; 'last' is the newest checkpoint of the "
            "newest run in --output-dir",
        )
    parser.add_argument("--seed", type=int, metavar="N", help="[trainer] seed")
    parser.add_argument(
        "--device", metavar="DEVICE", help="[trainer] device: cpu, cuda, cuda:1, auto"
    )
    parser.add_argument(
        "--output-dir",
        default=None,
        metavar="DIR",
        help="where run folders go (default: ./hookwise-runs); each run writes into "
        "DIR/<timestamp>",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the resolved config and, per hook, the plugins in call order; run nothing",
    )
    _add_trainer_flags(parser)
    _add_debug(parser, argparse.SUPPRESS)


def _add_trainer_flags(parser: argparse.ArgumentParser) -> None:
    """Flags that become ``Trainer`` keyword arguments (see :func:`_trainer_flag_kwargs`).

    The place for flags such as ``--profile-hooks`` (``Trainer(profile_hooks=True)``).
    """
    parser.add_argument(
        "--profile-hooks",
        action="store_true",
        help="time every plugin's hooks; log a table per plugin and hook (calls, total and "
        "mean time, share of step time) at the end of the run",
    )


def _trainer_flag_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The ``Trainer`` keyword arguments set by :func:`_add_trainer_flags`'s flags."""
    return {"profile_hooks": True} if getattr(args, "profile_hooks", False) else {}


def build_parser() -> argparse.ArgumentParser:
    """The ``hookwise`` argument parser."""
    from hookwise import __version__

    parser = argparse.ArgumentParser(
        prog="hookwise",
        description="Plugin-discovered callbacks for PyTorch training: list plugins and hooks, "
        "train and test from a TOML config, scaffold a plugin.",
        epilog=PRECEDENCE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hookwise {__version__}")
    _add_debug(parser, False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    listing = commands.add_parser(
        "plugins",
        help="list installed plugins (reads metadata; imports nothing)",
        description="List the installed hookwise plugins: name, distribution, version, "
        "entry-point target and status (default, enabled by HOOKWISE_PLUGINS, blocked). "
        "Reads entry-point metadata only: no plugin and not torch is imported, unless "
        "--inspect. Exits with 1 when --inspect finds a broken plugin.",
    )
    listing.add_argument(
        "--all",
        action="store_true",
        help="also list blocked plugins and default plugins that are not installed",
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.add_argument(
        "--inspect",
        action="store_true",
        help="import each plugin and show the hooks it implements (a broken one shows its "
        "error; the others still list)",
    )
    _add_debug(listing, argparse.SUPPRESS)

    hooks = commands.add_parser(
        "hooks",
        help="the hook reference",
        description="Every hook: its arguments and when the trainer calls it.",
    )
    _add_debug(hooks, argparse.SUPPRESS)

    fit = commands.add_parser(
        "fit",
        help="train (the embedded digits example when no CONFIG is given)",
        description="Train the job a TOML config describes, with its plugins. Without CONFIG, "
        "train a small network on scikit-learn's bundled digits with the default plugins.",
        epilog=PRECEDENCE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_run_options(fit, fit=True)

    test = commands.add_parser(
        "test",
        help="evaluate a checkpoint on the test data",
        description="Evaluate the model weights of a hookwise checkpoint on the config's "
        "[data] test loaders, with the plugins (evaluator...).",
        epilog=PRECEDENCE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_run_options(test, fit=False)

    new = commands.add_parser(
        "new-plugin",
        help="write a new plugin distribution",
        description="Write a pip-installable plugin distribution hookwise-NAME: a "
        "pyproject.toml declaring the entry point, a Callback subclass using a connector, a "
        "README and tests using hookwise's pytest fixtures.",
    )
    new.add_argument("name", metavar="NAME", help="the plugin's name, e.g. grad_norm")
    new.add_argument(
        "--dir",
        default=".",
        metavar="DIR",
        help="where to create the hookwise-NAME folder (default: the current folder)",
    )
    _add_debug(new, argparse.SUPPRESS)
    return parser


# -- entry point ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hookwise`` command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    with _cli_logging(debug):
        return _dispatch(args, debug)


def _dispatch(args: argparse.Namespace, debug: bool) -> int:
    handlers = {
        "plugins": cmd_plugins,
        "hooks": cmd_hooks,
        "fit": cmd_fit,
        "test": cmd_test,
        "new-plugin": cmd_new_plugin,
    }
    try:
        return handlers[args.command](args)
    except BrokenPipeError:  # the reader went away (`hookwise hooks | head`)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print("hookwise: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        interrupted = _interrupt_status(exc)
        if interrupted is not None:
            return interrupted
        if debug:
            traceback.print_exc()
        _print_error(exc)
        return EXIT_USAGE if isinstance(exc, HookwiseError) else EXIT_FAILED


def _interrupt_status(exc: BaseException) -> int | None:
    if type(exc).__name__ != "TrainingInterrupted" or not isinstance(exc, HookwiseError):
        return None
    number = int(getattr(exc, "signal_number", 2))
    print(f"hookwise: {exc}", file=sys.stderr)
    checkpoint = getattr(exc, "checkpoint", None)
    if checkpoint is not None:
        print(f"hookwise: resume with: hookwise fit --resume {checkpoint}", file=sys.stderr)
    return 128 + number


def _print_error(exc: BaseException) -> None:
    label = "" if isinstance(exc, HookwiseError) else f"{type(exc).__name__}: "
    print(f"hookwise: error: {label}{exc}", file=sys.stderr)
    for note in getattr(exc, "__notes__", None) or []:
        print(f"  {note}", file=sys.stderr)
    if not isinstance(exc, HookwiseError):
        print("  (run with --debug for the traceback)", file=sys.stderr)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {message}"
        return message


@contextlib.contextmanager
def _cli_logging(debug: bool) -> Iterator[None]:
    """Log hookwise's messages to stderr while the command runs (restored afterwards, so
    calling :func:`main` in a process changes nothing there)."""
    root = logging.getLogger("hookwise")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter("%(message)s"))
    previous = (root.level, root.propagate)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous[0])
        root.propagate = previous[1]


# -- hookwise plugins -------------------------------------------------------------------------


def cmd_plugins(args: argparse.Namespace) -> int:
    """``hookwise plugins``."""
    from hookwise.listing import inspect_rows, list_rows, render_table, visible

    every = list_rows()
    rows = visible(every, args.all)
    broken = 0
    if args.inspect:
        broken = inspect_rows(rows)
    if args.json:
        print(json.dumps([row.as_dict(args.inspect) for row in rows], indent=2))
    else:
        print(render_table(rows, inspect=args.inspect, hidden=len(every) - len(rows)))
    return EXIT_FAILED if broken else EXIT_OK


# -- hookwise hooks ---------------------------------------------------------------------------


def cmd_hooks(args: argparse.Namespace) -> int:
    """``hookwise hooks``: every hook's signature and reference text, from the hookspecs."""
    import inspect
    import textwrap

    from hookwise import hookspecs

    blocks = []
    for name in hookspecs.HOOK_NAMES:
        function = getattr(hookspecs, name)
        arguments = ", ".join(inspect.signature(function).parameters)
        origin = "vis4d" if name in hookspecs.VIS4D_HOOKS else "hookwise"
        doc = inspect.getdoc(function) or ""
        blocks.append(f"{name}({arguments})  [{origin}]\n{textwrap.indent(doc, '    ')}")
    print("\n\n".join(blocks))
    return EXIT_OK


# -- hookwise fit / test ----------------------------------------------------------------------


def _output_dir(args: argparse.Namespace) -> Path:
    from hookwise.runs import DEFAULT_OUTPUT_DIR

    return Path(args.output_dir if args.output_dir is not None else DEFAULT_OUTPUT_DIR)


def _checkpoint_path(value: str, args: argparse.Namespace, option: str) -> Path:
    """``last`` or a path, checked to be a readable hookwise checkpoint."""
    from hookwise.runs import find_last_checkpoint

    path = find_last_checkpoint(_output_dir(args)) if value == "last" else Path(value)
    from hookwise import checkpointing  # imports torch

    try:
        checkpointing.load_checkpoint(path)
    except HookwiseError as exc:
        exc.args = (f"{option} {value}: {exc}",)
        raise
    if value == "last":
        logger.info("%s last: %s", option, path)
    return path


def _resolve(
    args: argparse.Namespace, *, saved_config: Path | None = None, fit: bool = True
) -> RunConfig:
    from hookwise.config import load_toml, resolve_config

    config_path = Path(args.config) if args.config else saved_config
    config = load_toml(config_path) if config_path is not None else None
    overrides: dict[str, Any] = {"seed": args.seed, "device": args.device}
    if fit:
        overrides.update(epochs=args.epochs, steps=args.steps)
    if config_path is not None and not args.config:
        logger.info("Using the config saved with the checkpoint: %s", config_path)
    return resolve_config(
        config,
        source=str(config_path) if config_path is not None else "<default config>",
        plugin_args=args.plugins,
        trainer_overrides=overrides,
        use_environment=True,
    )


def _plugin_manager(resolved: RunConfig) -> PluginManager:
    from hookwise.config import enable_plan
    from hookwise.plugins import PluginManager

    pm = PluginManager(allowed=resolved.allowed_plugins)
    enable_plan(pm, resolved.plugins)
    return pm


def _check_job_targets(job: dict[str, Any]) -> None:
    """Import every ``target`` of the job (what ``--dry-run`` checks without building)."""
    from hookwise.targets import is_target, resolve

    def visit(value: Any, where: str) -> None:
        if is_target(value):
            resolve(value["target"], where=f"{where}.target")
        if isinstance(value, dict):
            for key, item in value.items():
                if key != "connector":
                    visit(item, f"{where}.{key}" if where else f"[{key}]")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, f"{where}[{index}]")

    visit({k: v for k, v in job.items() if v is not None}, "")


def _dry_run(resolved: RunConfig, pm: PluginManager) -> int:
    from hookwise import hookspecs

    _check_job_targets(resolved.job)
    print(f"# The resolved config (from {resolved.source}, the environment and the command line)")
    print(resolved.to_toml())
    print("# Plugins per hook, in call order (hooks no plugin implements are left out):")
    for hook in hookspecs.HOOK_NAMES:
        order = pm.hook_order(hook)
        if order:
            print(f"#   {hook}: {', '.join(order)}")
    if not pm.plugin_names():
        print("#   (no plugins enabled)")
    return EXIT_OK


def _load_weights(model: Any, path: Path, device: str = "cpu") -> None:
    from hookwise import checkpointing
    from hookwise.errors import CheckpointError

    data = checkpointing.load_checkpoint(path, map_location=device)
    try:
        model.load_state_dict(checkpointing.strip_module_prefix(data["model"]))
    except RuntimeError as exc:
        raise CheckpointError(
            f"the weights in {str(path)!r} do not fit the config's [model]: {exc}"
        ) from exc


def _trainer_kwargs(resolved: RunConfig) -> dict[str, Any]:
    """``Trainer`` keyword arguments from ``[trainer]``; applies ``num_threads`` to torch."""
    from hookwise.settings import DEFAULT_NUM_EPOCHS

    settings = resolved.trainer
    threads = settings.get("num_threads")
    if threads is not None:
        import torch

        if threads < 1:
            raise ConfigError(f"[trainer] num_threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    device = settings.get("device", "auto")
    if device != "auto":
        import torch

        try:
            torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ConfigError(
                f"[trainer] device {device!r} is not a device torch knows ({exc}); use cpu, "
                f"cuda, cuda:N, mps or auto"
            ) from None
    every = settings.get("check_val_every_n_epoch", 1)
    interval = settings.get("val_check_interval")
    kwargs: dict[str, Any] = {
        "device": device,
        "num_epochs": settings.get("epochs", DEFAULT_NUM_EPOCHS),
        "num_steps": settings.get("steps", -1),
        "check_val_every_n_epoch": None if every is False else every,
        "val_check_interval": None if interval is False else interval,
        "seed": settings.get("seed"),
        "scheduler_interval": settings.get("scheduler_interval", "epoch"),
    }
    if "log_every_n_steps" in settings:
        kwargs["log_every_n_steps"] = settings["log_every_n_steps"]
    return kwargs


def cmd_fit(args: argparse.Namespace) -> int:
    """``hookwise fit``."""
    from hookwise.runs import CONFIG_FILE, run_dir_of

    if args.resume and args.weights:
        raise ConfigError("give --resume (continue a run) or --weights (start from weights)")
    resume = _checkpoint_path(args.resume, args, "--resume") if args.resume else None
    weights = _checkpoint_path(args.weights, args, "--weights") if args.weights else None
    resumed_run = run_dir_of(resume) if resume is not None else None
    saved = resumed_run / CONFIG_FILE if resumed_run is not None else None
    resolved = _resolve(args, saved_config=saved)
    pm = _plugin_manager(resolved)
    if args.dry_run:
        return _dry_run(resolved, pm)
    return _run_fit(args, resolved, pm, resume=resume, weights=weights, run_dir=resumed_run)


def _shared_run_dir(
    args: argparse.Namespace, resolved: RunConfig, existing: Path | None, **info: Any
) -> Path:
    """The run folder: made (or reused) on rank 0, which writes the config and ``run.json``;
    shared with the other ranks under torchrun."""
    from hookwise import distributed
    from hookwise.runs import new_run_dir, write_config, write_run_info

    folder: str | None = None
    if distributed.is_rank_zero():
        path = existing if existing is not None else new_run_dir(_output_dir(args))
        write_config(path, resolved.to_toml())
        write_run_info(path, status="running", **info)
        logger.info("Run folder: %s", path)
        folder = str(path)
    shared = distributed.broadcast(folder)
    assert shared is not None
    return Path(shared)


def _finish_run(folder: Path, status: str, metrics: dict[str, float], **info: Any) -> None:
    from hookwise import distributed
    from hookwise.runs import write_run_info

    if distributed.is_rank_zero():
        write_run_info(folder, status=status, metrics=metrics, **info)


def _run_fit(
    args: argparse.Namespace,
    resolved: RunConfig,
    pm: PluginManager,
    *,
    resume: Path | None,
    weights: Path | None,
    run_dir: Path | None,
) -> int:
    from hookwise import distributed

    trainer_kwargs = _trainer_kwargs(resolved)
    # Under torchrun the ranks agree on the run folder before the trainer exists.
    with distributed.process_group(trainer_kwargs["device"]):
        return _fit_in_group(
            args, resolved, pm, trainer_kwargs, resume=resume, weights=weights, run_dir=run_dir
        )


def _fit_in_group(
    args: argparse.Namespace,
    resolved: RunConfig,
    pm: PluginManager,
    trainer_kwargs: dict[str, Any],
    *,
    resume: Path | None,
    weights: Path | None,
    run_dir: Path | None,
) -> int:
    from hookwise import distributed
    from hookwise.job import build_job
    from hookwise.trainer import Trainer

    job = build_job(resolved.job)
    if weights is not None:
        _load_weights(job.model, weights)
    info: dict[str, Any] = {"command": "fit", "resumed_from": resume, "weights": weights}
    folder = _shared_run_dir(args, resolved, run_dir, **info)
    trainer = Trainer(
        output_dir=folder,
        train_dataloader=job.train_loader,
        test_dataloader=job.val_loaders or None,
        train_data_connector=job.train_data_connector,
        test_data_connector=job.test_data_connector,
        plugins=pm,
        **trainer_kwargs,
        **_trainer_flag_kwargs(args),
    )
    status = "failed"
    assert job.optimizer is not None  # build_job(train=True) always builds one
    try:
        trainer.fit(job.model, job.optimizer, job.scheduler, job.loss_module, resume_from=resume)
        test_metrics: dict[str, float] = {}
        if job.test_loaders:
            trainer.test_dataloader = job.test_loaders
            test_metrics = trainer.test(job.model)
        status = "finished"
    except BaseException as exc:
        status = "interrupted" if type(exc).__name__ == "TrainingInterrupted" else "failed"
        raise
    finally:
        _finish_run(folder, status, trainer.metrics, **info)
    if distributed.is_rank_zero():
        _print_summary(folder, test_metrics, trainer.metrics, tested=bool(job.test_loaders))
        print(f"Evaluate these weights again with: hookwise test --weights last{_dir_hint(args)}")
    return EXIT_OK


def _dir_hint(args: argparse.Namespace) -> str:
    return f" --output-dir {args.output_dir}" if args.output_dir is not None else ""


def cmd_test(args: argparse.Namespace) -> int:
    """``hookwise test``."""
    from hookwise.runs import CONFIG_FILE, run_dir_of

    weights = _checkpoint_path(args.weights, args, "--weights")
    run = run_dir_of(weights)
    saved = run / CONFIG_FILE if run is not None else None
    resolved = _resolve(args, saved_config=saved, fit=False)
    pm = _plugin_manager(resolved)
    if args.dry_run:
        return _dry_run(resolved, pm)

    from hookwise import distributed

    kwargs = _trainer_kwargs(resolved)
    with distributed.process_group(kwargs["device"]):
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
    info: dict[str, Any] = {"command": "test", "weights": weights}
    folder = _shared_run_dir(args, resolved, None, **info)
    trainer = Trainer(
        device=kwargs["device"],
        output_dir=folder,
        test_dataloader=job.test_loaders,
        test_data_connector=job.test_data_connector,
        plugins=pm,
        seed=kwargs["seed"],
        **_trainer_flag_kwargs(args),
    )
    _load_weights(job.model, weights, str(trainer.device))
    if kwargs["seed"] is not None:
        import torch

        torch.manual_seed(int(kwargs["seed"]))
    status = "failed"
    metrics: dict[str, float] = {}
    try:
        metrics = trainer.test(job.model)
        if trainer.profiler is not None:
            trainer.profiler.log_report()
        status = "finished"
    finally:
        _finish_run(folder, status, metrics, **info)
    if distributed.is_rank_zero():
        print(f"Weights: {weights}")
        _print_summary(folder, metrics, trainer.metrics, tested=True)
    return EXIT_OK


def _print_summary(
    folder: Path, test_metrics: dict[str, float], metrics: dict[str, float], *, tested: bool
) -> None:
    from hookwise.runs import describe_outputs

    if tested:
        print("Test metrics:")
        if test_metrics:
            width = max(len(k) for k in test_metrics)
            for key in sorted(test_metrics):
                print(f"  {key:<{width}}  {test_metrics[key]:.4f}")
        else:
            print("  (none: enable an evaluator plugin, e.g. -p evaluator:evaluator=accuracy)")
    else:
        print("No [data] test loader: the final test was skipped.")
        final = {k: v for k, v in metrics.items() if k.startswith("val/")}
        if final:
            print("Last validation metrics:")
            width = max(len(k) for k in final)
            for key in sorted(final):
                print(f"  {key:<{width}}  {final[key]:.4f}")
    print(f"Outputs in {folder}:")
    labels = {
        "checkpoints": "checkpoints",
        "metrics.csv": "metrics file",
        "metrics.jsonl": "metrics file",
        "curves.png": "curves",
        "config.toml": "config",
        "run.json": "run info",
    }
    for line in describe_outputs(folder):
        name = Path(line.split("  (")[0].rstrip(os.sep)).name
        label = labels.get(name, "file" if "  (" not in line else "folder")
        print(f"  {label + ':':<14}{line}")


# -- hookwise new-plugin ----------------------------------------------------------------------


def cmd_new_plugin(args: argparse.Namespace) -> int:
    """``hookwise new-plugin``."""
    from hookwise.scaffold import write_plugin_project

    project = write_plugin_project(args.name, Path(args.dir))
    print(f"Wrote {project}{os.sep}")
    for path in sorted(p for p in project.rglob("*") if p.is_file()):
        print(f"  {path.relative_to(project)}")
    print(
        f"Next: pip install -e {project}  (it then shows in `hookwise plugins`), and run its "
        f"tests: python -m pytest {project / 'tests'}"
    )
    return EXIT_OK


__all__ = ["build_parser", "main"]
