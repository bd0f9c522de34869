"""A ``hookwise`` command's log messages: hookwise's loggers write to stderr while it runs."""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator
from typing import Any


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {message}"
        return message


def _warning_printer(show: Any) -> Any:
    """``warnings.showwarning`` that prints hookwise's own warnings as ``warning: MESSAGE``
    lines (through the log), and any other warning as ``show`` does."""

    def printer(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        from hookwise.errors import ManifestChangedWarning

        if issubclass(category, ManifestChangedWarning):
            logging.getLogger("hookwise").warning("%s", message)
        else:
            show(message, category, *args, **kwargs)

    return printer


@contextlib.contextmanager
def cli_logging(debug: bool) -> Iterator[None]:
    """Log hookwise's messages (and print its warnings, :func:`_warning_printer`) to stderr
    while the command runs (restored afterwards, so calling :func:`hookwise.cli.main` in a
    process changes nothing there)."""
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


__all__ = ["cli_logging"]
