"""The ``hookwise`` argument parser: every command, option and help text."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

PRECEDENCE = """\
Plugins and settings come from four layers; a later layer wins, key by key:
  1. the defaults: the embedded default config (print it with `hookwise fit --dry-run`),
     whose plugins are logging (plot=true), evaluator (accuracy) and checkpoint;
  2. CONFIG, the TOML file named on the command line (no other file is ever read);
  3. the environment: HOOKWISE_PLUGINS="NAME[:key=value,...];no:NAME;...";
  4. the command line: -p NAME[:key=value,...], -p no:NAME, --epochs, --steps, --seed, ...,
     then KEY=VALUE overrides of any config key (optimizer.lr=0.01, or --set KEY=VALUE).
A later layer's parameters update an earlier one's for the same plugin; no:NAME removes a
plugin (a default too) and naming it again later enables it again. Plugins run in the order
you named them, then the defaults. HOOKWISE_DISABLE_PLUGIN_AUTOLOAD=1 leaves out the default
plugins; HOOKWISE_ALLOWED_PLUGINS (and a config's allowed_plugins) is an allow-list.
A CONFIG with a [model] table defines the whole job (model, data, optimizer, loss); without
one, its sections change the default job (digits)."""

#: The commands that run a job: only they have the settings' flags and ``KEY=VALUE`` overrides.
RUN_COMMANDS = ("fit", "test")

PLUGIN_SPEC_HELP = (
    "enable a plugin: NAME (entry-point name, NAME@instance, package.module:Object, or a "
    "file: ./callbacks.py:Object, or ./plugins.py for every plugin in it) with "
    'optional :key=value,... parameters (values are TOML literals: 3, 0.5, true, "text", '
    "[1, 2], {a = 1}; anything else is a string); -p no:NAME blocks one. Repeatable."
)

OVERRIDE_HELP = (
    "set any config key by its dotted path, after every other layer: optimizer.lr=0.01, "
    "data.train.batch_size=128, trainer.epochs=3, plugins.checkpoint.keep_last=2 (values "
    "are TOML literals, else strings; checked like the config file; recorded in the run's "
    "config.toml). The same KEY=VALUE words may also follow CONFIG without --set. Repeatable."
)


def _add_debug(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="show tracebacks and debug logs",
    )


def _add_checkpoint_options(parser: argparse.ArgumentParser, *, fit: bool) -> None:
    if fit:
        parser.add_argument(
            "--resume",
            metavar="PATH|last",
            help="continue a run from a checkpoint; 'last' is the newest complete checkpoint "
            "(by its recorded step) of the newest training run in --output-dir. The run goes "
            "on in the checkpoint's run folder",
        )
        parser.add_argument(
            "--weights",
            metavar="PATH|last",
            help="start from the model weights of a hookwise checkpoint (not its optimizer "
            "or position); 'last' is the newest complete checkpoint of any run in "
            "--output-dir",
        )
    else:
        parser.add_argument(
            "--weights",
            metavar="PATH|last",
            required=True,
            help="the hookwise checkpoint to evaluate; 'last' is the newest complete "
            "checkpoint of any run in --output-dir",
        )


def _add_run_options(parser: argparse.ArgumentParser, *, fit: bool) -> None:
    parser.add_argument(
        "config",
        nargs="?",
        metavar="CONFIG",
        help="a TOML config (default: the embedded digits example; `hookwise test --weights` "
        "reads only the weights, never the config saved beside the checkpoint)",
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
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=OVERRIDE_HELP,
    )
    _add_checkpoint_options(parser, fit=fit)
    from hookwise.cli.setting_flags import add_setting_flags  # fit and test only

    add_setting_flags(parser, "fit" if fit else "test")
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
    _add_debug(parser, argparse.SUPPRESS)


def _listing_options(listing: argparse.ArgumentParser) -> None:
    listing.add_argument(
        "config",
        nargs="?",
        metavar="CONFIG|NAME",
        help="a TOML config: list the local plugin files it names too; or a plugin NAME (as "
        "-p names it: early_stopping, package.module:Object, ./file.py:Object): show its "
        "distribution, version, parameters (type, default, doc) and hooks (imports it)",
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


def _debug_option(parser: argparse.ArgumentParser) -> None:
    _add_debug(parser, argparse.SUPPRESS)


def _show_options(show: argparse.ArgumentParser) -> None:
    show.add_argument(
        "path", metavar="PATH", help="a run folder, its run.json, or a checkpoint (.ckpt)"
    )
    show.add_argument("--json", action="store_true", help="print JSON")
    _add_debug(show, argparse.SUPPRESS)


def _fit_options(parser: argparse.ArgumentParser) -> None:
    _add_run_options(parser, fit=True)


def _test_options(parser: argparse.ArgumentParser) -> None:
    _add_run_options(parser, fit=False)


def _new_plugin_options(new: argparse.ArgumentParser) -> None:
    new.add_argument(
        "name",
        nargs="?",
        metavar="NAME",
        help="the plugin's name, e.g. grad_norm (with --from: default, the object's name)",
    )
    new.add_argument(
        "--from",
        dest="from_file",
        metavar="FILE:OBJECT",
        help="publish a local plugin: move OBJECT of FILE (with the imports and helpers it "
        "uses) into the distribution, with its entry point, README and a test; parameters for "
        "the test as in -p: --from ./callbacks.py:GradNorm:every=2",
    )
    new.add_argument(
        "--hooks",
        metavar="HOOK,...",
        help="the hooks to implement, comma-separated (e.g. on_train_batch_end,on_validation_end)",
    )
    new.add_argument(
        "--dir",
        default=".",
        metavar="DIR",
        help="where to create the hookwise-NAME folder (default: the current folder)",
    )
    _add_debug(new, argparse.SUPPRESS)


def _consolidate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", metavar="FOLDER", help="a sharded checkpoint folder")
    parser.add_argument(
        "out",
        nargs="?",
        metavar="OUT",
        help="the file to write (default: NAME-full.ckpt next to the folder NAME.ckpt)",
    )
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")
    _add_debug(parser, argparse.SUPPRESS)


#: Each command: its ``add_parser`` arguments and what adds its options.
_COMMANDS: dict[str, tuple[dict[str, Any], Callable[[argparse.ArgumentParser], None]]] = {
    "plugins": (
        {
            "help": "list installed plugins (reads metadata; imports nothing)",
            "description": "List the installed hookwise plugins: name, distribution, version, "
            "entry-point target and status (default, enabled by HOOKWISE_PLUGINS, blocked). "
            "Reads entry-point metadata only: no plugin and not torch is imported, unless "
            "--inspect. With CONFIG, also the local plugin files it names (plugins_file, "
            '[plugins."./file.py:Object"]), with their paths. Exits with 1 when --inspect '
            "finds a broken plugin. `hookwise plugins NAME [--json]` shows one plugin before you "
            "enable it: its distribution, version, parameters and hooks.",
        },
        _listing_options,
    ),
    "hooks": (
        {
            "help": "the hook reference",
            "description": "Every hook: its arguments and when the trainer calls it.",
        },
        _debug_option,
    ),
    "show": (
        {
            "help": "what made a run or a checkpoint, and its metrics",
            "description": "Print a run's manifest (hookwise, Python and torch versions, the "
            "seed, each plugin in enabled order with its distribution, version and parameters, "
            "the call order per hook, the resolved config) and its metrics: for a run folder (or "
            "its run.json) the final metrics and the last value of each metrics.csv column, for "
            "a checkpoint its epoch, step and metrics. A checkpoint is read with the safe "
            "loader: nothing in it is run.",
        },
        _show_options,
    ),
    "fit": (
        {
            "help": "train (the embedded digits example when no CONFIG is given)",
            "description": "Train the job a TOML config describes, with its plugins. Without "
            "CONFIG, train a small network on scikit-learn's bundled digits with the default "
            "plugins.",
            "epilog": PRECEDENCE,
            "formatter_class": argparse.RawDescriptionHelpFormatter,
        },
        _fit_options,
    ),
    "test": (
        {
            "help": "evaluate a checkpoint on the test data",
            "description": "Evaluate the model weights of a hookwise checkpoint on the config's "
            "[data] test loaders, with the plugins (evaluator...).",
            "epilog": PRECEDENCE,
            "formatter_class": argparse.RawDescriptionHelpFormatter,
        },
        _test_options,
    ),
    "new-plugin": (
        {
            "help": "write a new plugin distribution",
            "description": "Write a pip-installable plugin distribution hookwise-NAME: a "
            "pyproject.toml declaring the entry point NAME, a Callback subclass named after NAME "
            "(grad_norm: GradNorm) implementing the hooks of --hooks, or the hooks NAME suggests "
            "(grad, clip, norm: on_before_optimizer_step; stop, early, best: on_validation_end; "
            "metric, eval, acc, score: the evaluation hooks; lr: on_train_epoch_end; loss, log, "
            "timer: on_train_batch_end; otherwise on_train_batch_end and on_validation_end), a "
            "README and one test per hook using hookwise's pytest fixtures, which pass once it is "
            "installed. A NAME that an installed plugin, distribution or module already has is "
            "refused.",
        },
        _new_plugin_options,
    ),
    "consolidate": (
        {
            "help": "turn a sharded checkpoint folder into one file",
            "description": "Turn a sharded checkpoint folder (strategy='fsdp' or "
            "checkpoint_format='sharded': one part per rank) into one weights-only checkpoint "
            "file with the full tensors, for `hookwise test --weights` or `hookwise fit "
            "--weights` on one process. Runs in one process, "
            "without torchrun; the folder's metadata is read with the restricted loader "
            "(nothing in it is run). To resume training, pass the folder itself to --resume: "
            "the optimizer state and position stay in the folder.",
        },
        _consolidate_options,
    ),
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line's arguments; ``hookwise [--debug] plugins order ...`` is parsed by
    :func:`hookwise.cli.plugin_order.order_parser` (``plugins`` takes an optional CONFIG, so
    ``order`` cannot be one of its subcommands)."""
    words = list(sys.argv[1:] if argv is None else argv)
    start = 0
    while start < len(words) and words[start] == "--debug":
        start += 1
    if words[start : start + 2] == ["plugins", "order"]:
        from hookwise.cli.plugin_order import COMMAND, order_parser

        args = order_parser().parse_args(words[start + 2 :])
        args.command = COMMAND
        args.debug = args.debug or start > 0
        return args
    command = next((word for word in words[start:] if not word.startswith("-")), None)
    return _with_overrides(build_parser(command=command), words)


def _with_overrides(parser: argparse.ArgumentParser, words: list[str]) -> argparse.Namespace:
    """Parse ``words``; ``KEY=VALUE`` words of ``fit`` and ``test`` (anywhere after the
    command) become :attr:`overrides`, after those of ``--set``."""
    args, extra = parser.parse_known_args(words)
    if not extra and args.command not in RUN_COMMANDS:
        return args  # nothing to sort: `hookwise plugins` never imports the config machinery
    from hookwise.config.overrides import is_override

    positional = [w for w in extra if is_override(w)]
    unknown = [w for w in extra if not is_override(w)]
    config = getattr(args, "config", None) if args.command in RUN_COMMANDS else None
    if config and is_override(config) and not Path(config).exists():
        positional.insert(0, config)  # fit optimizer.lr=0.01: no CONFIG, an override
        args.config = None
    if positional and args.command not in RUN_COMMANDS:
        unknown = positional + unknown
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command in RUN_COMMANDS:
        args.overrides = [*args.overrides, *positional]
    return args


def build_parser(*, command: str | None = None) -> argparse.ArgumentParser:
    """The ``hookwise`` argument parser.

    :param command: build only this command's options (all a parse of its command line
        needs; the other commands keep their names and help); :func:`parse_args` does, so
        that ``hookwise plugins`` neither adds ``fit``'s options nor imports
        :mod:`hookwise.settings` for their flags. ``None``: every command's options.
    """
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
    for name, (parser_options, add_options) in _COMMANDS.items():
        subparser = commands.add_parser(name, **parser_options)
        if command is None or command == name:
            add_options(subparser)
    return parser


__all__ = [
    "OVERRIDE_HELP",
    "PLUGIN_SPEC_HELP",
    "PRECEDENCE",
    "RUN_COMMANDS",
    "build_parser",
    "parse_args",
]
