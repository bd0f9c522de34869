"""The ``hookwise`` command (placeholder until the command-line issue lands)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hookwise`` command."""
    print("hookwise: the command line is not built yet", file=sys.stderr)
    return 2
