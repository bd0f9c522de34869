"""``hookwise new-plugin``: write a new plugin distribution from the scaffold."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from hookwise.cli.app import EXIT_OK


def cmd_new_plugin(args: argparse.Namespace) -> int:
    """``hookwise new-plugin NAME`` (or ``--from FILE:OBJECT``): write ``hookwise-NAME`` and
    say what to do next."""
    from hookwise.errors import ConfigError
    from hookwise.scaffold import names_for, write_plugin_project
    from hookwise.scaffold.recipes import hooks_for

    if args.from_file:
        return _promote(args)
    if args.name is None:
        raise ConfigError("new-plugin: give the plugin's NAME (or --from FILE:OBJECT)")

    project = write_plugin_project(args.name, Path(args.dir), args.hooks)
    names = names_for(args.name)
    print(f"Wrote {project}{os.sep}: plugin {names['name']!r}, class {names['class_name']}")
    print(f"  hooks: {', '.join(hooks_for(names['name'], args.hooks))}")
    for path in sorted(p for p in project.rglob("*") if p.is_file()):
        print(f"  {path.relative_to(project)}")
    print(
        f"Next: pip install -e {project}  (it then shows in `hookwise plugins`), and run its "
        f"tests: python -m pytest {project / 'tests'}"
    )
    return EXIT_OK


def _promote(args: argparse.Namespace) -> int:
    from hookwise.scaffold.promote import write_promoted

    project, names = write_promoted(args.from_file, args.name, Path(args.dir))
    name = names["name"]
    print(f"Wrote {project}{os.sep}: plugin {name!r}, {names['class_name']} from {args.from_file}")
    for path in sorted(p for p in project.rglob("*") if p.is_file()):
        print(f"  {path.relative_to(project)}")
    print(
        f"Next: pip install -e {project}, run its tests (python -m pytest {project / 'tests'}), "
        f"then enable it as -p {name} (or [plugins.{name}]) instead of the file, and remove "
        f"{names['class_name']} from the local file"
    )
    return EXIT_OK


__all__ = ["cmd_new_plugin"]
