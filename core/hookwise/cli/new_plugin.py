"""``hookwise new-plugin``: write a new plugin distribution from the scaffold."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from hookwise.cli.app import EXIT_OK


def cmd_new_plugin(args: argparse.Namespace) -> int:
    """``hookwise new-plugin NAME``: write ``hookwise-NAME`` and say what to do next."""
    from hookwise.scaffold import names_for, write_plugin_project
    from hookwise.scaffold.recipes import hooks_for

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


__all__ = ["cmd_new_plugin"]
