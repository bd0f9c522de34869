"""Running a ``hookwise`` command: dispatch, exit statuses and error printing (the command's
log messages go to stderr through :mod:`hookwise.cli.logs`).

Errors a person can fix (:class:`~hookwise.HookwiseError`) are printed without a traceback
and exit with status 2 (``--debug`` shows the traceback); any other error exits with 1, a run
ended by SIGINT/SIGTERM with 128 + the signal number (the fit command reports that itself).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

Command = Callable[[argparse.Namespace], int]

# Each command's module and function, imported only when that command runs: `hookwise plugins`
# must not pay for the trainer's, the config's or the plugin manager's imports.
COMMANDS = {
    "plugins": "hookwise.cli.plugins:cmd_plugins",
    "plugins order": "hookwise.cli.plugin_order:cmd_plugins_order",
    "hooks": "hookwise.cli.hooks:cmd_hooks",
    "fit": "hookwise.cli.fit:cmd_fit",
    "test": "hookwise.cli.test:cmd_test",
    "show": "hookwise.cli.show:cmd_show",
    "new-plugin": "hookwise.cli.new_plugin:cmd_new_plugin",
    "consolidate": "hookwise.cli.consolidate:cmd_consolidate",
}


def command(name: str) -> Command:
    """The function that runs the command ``name`` (a key of :data:`COMMANDS`)."""
    module, _, function = COMMANDS[name].partition(":")
    found: Command = getattr(importlib.import_module(module), function)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hookwise`` command; return its exit status."""
    from hookwise.cli.parser import parse_args

    args = parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    with current_folder_importable():
        if not may_log(args):
            return dispatch(args, debug)
        from hookwise.cli.logs import cli_logging

        with cli_logging(debug):
            return dispatch(args, debug)


def may_log(args: argparse.Namespace) -> bool:
    """Whether the command runs code that may log (its messages then go to stderr): every
    command but the plain listing, ``hookwise plugins [--all] [--json]``, which reads metadata
    and imports no plugin, so it skips importing :mod:`logging` (a listing should cost little
    more than the metadata scan)."""
    return args.command != "plugins" or bool(args.inspect or args.config)


@contextlib.contextmanager
def current_folder_importable() -> Iterator[None]:
    """Let the command import modules of the current folder (``-p cb:Hello``, ``-p
    mypkg.hooks``, a job's ``target = "mymodel:Net"``) from the ``hookwise`` script as under
    ``python -m hookwise``; the folder is searched after the installed packages, so a file
    there never hides one of them. Restored afterwards."""
    folder = os.getcwd()
    if "" in sys.path or folder in sys.path:
        yield
        return
    sys.path.append(folder)
    try:
        yield
    finally:
        if folder in sys.path:
            sys.path.remove(folder)


def dispatch(args: argparse.Namespace, debug: bool) -> int:
    """Run the command ``args`` names; turn its errors into a message and an exit status."""
    try:
        return command(args.command)(args)
    except BrokenPipeError:  # the reader went away (`hookwise hooks | head`)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
    except KeyboardInterrupt:
        if debug:
            _print_traceback()
        print("hookwise: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            _print_traceback()
        print_error(exc)
        return EXIT_USAGE if _is_hookwise_error(exc) else EXIT_FAILED


def _print_traceback() -> None:
    import traceback  # on the error path only: a listing does not import it

    traceback.print_exc()


def _is_hookwise_error(exc: BaseException) -> bool:
    from hookwise.errors import HookwiseError  # imports pluggy: on the error path only

    return isinstance(exc, HookwiseError)


def print_error(exc: BaseException) -> None:
    """``hookwise: error: ...`` and the exception's notes, on stderr."""
    ours = _is_hookwise_error(exc)
    label = "" if ours else f"{type(exc).__name__}: "
    print(f"hookwise: error: {label}{exc}", file=sys.stderr)
    for note in getattr(exc, "__notes__", None) or []:
        print(f"  {note}", file=sys.stderr)
    if not ours:
        print("  (run with --debug for the traceback)", file=sys.stderr)


__all__ = [
    "COMMANDS",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "command",
    "current_folder_importable",
    "dispatch",
    "main",
    "may_log",
    "print_error",
]
