"""``hookwise plugins``: the installed plugins, from entry-point metadata alone."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hookwise.cli.app import EXIT_FAILED, EXIT_OK


def cmd_plugins(args: argparse.Namespace) -> int:
    """``hookwise plugins [CONFIG]``: list (``--inspect``: import and check) the installed
    plugins, and the local plugin files CONFIG names, with their paths; ``hookwise plugins
    NAME`` shows one plugin (:func:`show_plugin`)."""
    from hookwise.listing import inspect_rows, list_rows, local_rows, render_table, visible

    if args.config and is_plugin_name(args.config):
        return show_plugin(args.config, as_json=args.json)
    every = list_rows()
    if args.config:
        from hookwise.config import load_toml, resolve_config

        resolved = resolve_config(
            load_toml(Path(args.config)), source=args.config, use_environment=True
        )
        every = local_rows(resolved) + every
    rows = visible(every, args.all)
    broken = 0
    if args.inspect:
        broken = inspect_rows(rows)
    if args.json:
        print(json.dumps([row.as_dict(args.inspect) for row in rows], indent=2))
    else:
        print(render_table(rows, inspect=args.inspect, hidden=len(every) - len(rows)))
    return EXIT_FAILED if broken else EXIT_OK


def is_plugin_name(word: str) -> bool:
    """Whether ``hookwise plugins WORD`` names a plugin rather than a CONFIG file: WORD is no
    file and does not end in ``.toml``."""
    return not word.endswith(".toml") and not Path(word).is_file()


def show_plugin(name: str, *, as_json: bool) -> int:
    """``hookwise plugins NAME``: its distribution, version, parameters and hooks."""
    from hookwise.plugin_details import describe, render

    details = describe(name)
    print(json.dumps(details.as_dict(), indent=2) if as_json else render(details))
    return EXIT_OK


__all__ = ["cmd_plugins", "is_plugin_name", "show_plugin"]
