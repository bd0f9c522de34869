"""``hookwise plugins``: the installed plugins, from entry-point metadata alone."""

from __future__ import annotations

import argparse
import json

from hookwise.cli.app import EXIT_FAILED, EXIT_OK


def cmd_plugins(args: argparse.Namespace) -> int:
    """``hookwise plugins``: list (``--inspect``: import and check) the installed plugins."""
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


__all__ = ["cmd_plugins"]
