"""Running a ``hookwise`` command: dispatch, exit statuses, error printing and logging.

Errors a person can fix (:class:`~hookwise.HookwiseError`) are printed without a traceback
and exit with status 2 (``--debug`` shows the traceback); any other error exits with 1, a run
ended by SIGINT/SIGTERM with 128 + the signal number (the fit command reports that itself).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from hookwise.errors import HookwiseError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

Command = Callable[[argparse.Namespace], int]


def _commands() -> dict[str, Command]:
    from hookwise.cli.fit import cmd_fit
    from hookwise.cli.hooks import cmd_hooks
    from hookwise.cli.new_plugin import cmd_new_plugin
    from hookwise.cli.plugin_order import COMMAND, cmd_plugins_order
    from hookwise.cli.plugins import cmd_plugins
    from hookwise.cli.show import cmd_show
    from hookwise.cli.test import cmd_test

    return {
        "plugins": cmd_plugins,
        COMMAND: cmd_plugins_order,
        "hooks": cmd_hooks,
        "fit": cmd_fit,
        "test": cmd_test,
        "show": cmd_show,
        "new-plugin": cmd_new_plugin,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hookwise`` command; return its exit status."""
    from hookwise.cli.parser import parse_args

    args = parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    with cli_logging(debug), current_folder_importable():
        return dispatch(args, debug)


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
        return _commands()[args.command](args)
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
        if debug:
            traceback.print_exc()
        print_error(exc)
        return EXIT_USAGE if isinstance(exc, HookwiseError) else EXIT_FAILED


def print_error(exc: BaseException) -> None:
    """``hookwise: error: ...`` and the exception's notes, on stderr."""
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


def _warning_printer(show: Any) -> Any:
    """``warnings.showwarning`` that prints hookwise's own warnings as ``warning: MESSAGE``
    lines (through the log), and any other warning as ``show`` does."""
    from hookwise.errors import ManifestChangedWarning

    def printer(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, ManifestChangedWarning):
            logging.getLogger("hookwise").warning("%s", message)
        else:
            show(message, category, *args, **kwargs)

    return printer


@contextlib.contextmanager
def cli_logging(debug: bool) -> Iterator[None]:
    """Log hookwise's messages (and print its warnings, :func:`_warning_printer`) to stderr
    while the command runs (restored afterwards, so calling :func:`main` in a process changes
    nothing there)."""
    root = logging.getLogger("hookwise")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter("%(message)s"))
    previous = (root.level, root.propagate)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False
    show = warnings.showwarning
    warnings.showwarning = _warning_printer(show)
    try:
        yield
    finally:
        warnings.showwarning = show
        root.removeHandler(handler)
        root.setLevel(previous[0])
        root.propagate = previous[1]


__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "cli_logging",
    "current_folder_importable",
    "dispatch",
    "main",
    "print_error",
]
