"""Sphinx extension of the hookwise documentation: content generated from the code at build time.

Directives:

``hookwise-cli-help``
    The ``--help`` text of the ``hookwise`` command (no argument) or of one of its
    subcommands (``.. hookwise-cli-help:: fit``), rendered from
    :func:`hookwise.cli.build_parser` at a fixed width, so the command reference cannot drift
    from the parser.
``hookwise-hook-table``
    A table of every hook in :data:`hookwise.hookspecs.HOOK_NAMES`: its arguments, whether it
    is a vis4d hook or a hookwise extension, and what its return value means.
``hookwise-settings-table``
    A table of every trainer and run setting defined in :mod:`hookwise.settings`: its
    ``Trainer`` argument, type, default, ``[trainer]`` key, command-line flag and help text.

Included Markdown files (the bundled plugins' READMEs) have their relative links rewritten by
the ``include-read`` event: a link to the repository's ``README.md`` points at the front page,
a link to another plugin's README at that plugin's page, and a link to any other file of the
repository becomes its path in code style (the site holds no copy of it).
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from docutils.utils import get_source_line
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

#: The width the command help is rendered at (argparse reads ``COLUMNS``).
HELP_WIDTH = 92

_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]+)\]\((?P<target>[^)\s]+)\)")


# -- the command reference ------------------------------------------------------------------------


@contextmanager
def _columns(width: int) -> Iterator[None]:
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def cli_help(command: str | None = None, width: int = HELP_WIDTH) -> str:
    """The help text of ``hookwise`` or of ``hookwise <command>``, as ``--help`` prints it."""
    from hookwise.cli import build_parser

    with _columns(width):
        if command == "plugins order":  # parsed on its own (see hookwise.cli.parser.parse_args)
            from hookwise.cli.plugin_order import order_parser

            return order_parser().format_help()
        parser = build_parser()
        if command is None:
            return parser.format_help()
        for action in parser._actions:  # argparse keeps subparsers only here
            if isinstance(action, argparse._SubParsersAction):
                sub = action.choices.get(command)
                if sub is not None:
                    return str(sub.format_help())
                raise ExtensionError(
                    f"hookwise-cli-help: the hookwise command has no subcommand {command!r}; "
                    f"it has {sorted(action.choices)}"
                )
    raise ExtensionError("hookwise-cli-help: the hookwise parser has no subcommands")


class CliHelpDirective(SphinxDirective):
    """``.. hookwise-cli-help:: [SUBCOMMAND]``: the help text as a literal block
    (``plugins order``: the argument may contain a space)."""

    optional_arguments = 1
    final_argument_whitespace = True
    has_content = False

    def run(self) -> list[nodes.Node]:
        command = self.arguments[0] if self.arguments else None
        text = cli_help(command).rstrip() + "\n"
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        self.set_source_info(block)
        return [block]


# -- the hook table -------------------------------------------------------------------------------


def _return_meaning(name: str) -> str:
    """What the trainer does with the hook's return value, read from its ``:returns:`` field."""
    from hookwise import hookspecs

    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    returns = re.search(r":returns:(.*?)(?:\n\s*\n|\n:|\Z)", doc, re.S)
    if returns is None:
        return "ignored"
    prefixes = re.findall(r"\b(train|val|test)/<name>", returns.group(1))
    if not prefixes:
        raise ExtensionError(
            f"hookwise-hook-table: the :returns: of hook {name!r} does not say how values "
            f"are logged (train/<name>, val/<name> or test/<name>)"
        )
    return "logs, as " + " or ".join(f"``{p}/<key>``" for p in dict.fromkeys(prefixes))


class HookTableDirective(SphinxDirective):
    """``.. hookwise-hook-table::``: one row per hook, from the hookspecs."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from hookwise import hookspecs

        lines = [
            ".. list-table::",
            "   :header-rows: 1",
            "   :widths: 26 44 12 18",
            "",
            "   * - hook",
            "     - arguments",
            "     - origin",
            "     - return value",
        ]
        for name in hookspecs.HOOK_NAMES:
            arguments = ", ".join(
                f"``{p}``" for p in inspect.signature(getattr(hookspecs, name)).parameters
            )
            origin = "vis4d" if name in hookspecs.VIS4D_HOOKS else "extension"
            lines += [
                f"   * - :func:`~hookwise.hookspecs.{name}`",
                f"     - {arguments or '(none)'}",
                f"     - {origin}",
                f"     - {_return_meaning(name)}",
            ]
        container = nodes.container()
        source, line = self.get_source_info()
        content = StringList(lines, items=[(source, line)] * len(lines))
        self.state.nested_parse(content, 0, container)
        return list(container.children)


# -- the settings table ---------------------------------------------------------------------------


class SettingsTableDirective(SphinxDirective):
    """``.. hookwise-settings-table::``: one row per setting, from :mod:`hookwise.settings`."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from hookwise import settings

        lines = [
            ".. list-table::",
            "   :header-rows: 1",
            "   :widths: 20 14 10 16 10 30",
            "",
            "   * - ``Trainer`` argument",
            "     - type",
            "     - default",
            "     - ``[trainer]`` key",
            "     - flag",
            "     - meaning",
        ]
        for name, kind, default, key, flag, text in settings.rows():
            lines += [
                f"   * - ``{name}``",
                f"     - ``{kind}``",
                f"     - ``{default}``",
                f"     - ``{key}``" if key else "     - ",
                f"     - ``{flag}``" if flag else "     - ",
                f"     - {text}",
            ]
        container = nodes.container()
        source, line = self.get_source_info()
        content = StringList(lines, items=[(source, line)] * len(lines))
        self.state.nested_parse(content, 0, container)
        return list(container.children)


# -- included READMEs -----------------------------------------------------------------------------


def rewrite_links(text: str, included: PurePosixPath, docs: Path, root: Path) -> str:
    """Rewrite the relative links of ``included`` (a path relative to ``docs``) for the site."""
    folder = (docs / included).parent

    def replace(match: re.Match[str]) -> str:
        text_, target = match.group("text"), match.group("target")
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")):
            return match.group(0)  # a URL, an anchor or a path already rooted in the site
        path_part, _, anchor = target.partition("#")
        resolved = (folder / path_part).resolve()
        try:
            relative = resolved.relative_to(root)
        except ValueError:
            return match.group(0)
        suffix = f"#{anchor}" if anchor else ""
        if relative == Path("README.md"):
            return f"[{text_}](/index.md{suffix})"
        parts = relative.parts
        if len(parts) == 3 and parts[0] == "plugins" and parts[2] == "README.md":
            page = parts[1].removeprefix("hookwise-").replace("-", "_")
            return f"[{text_}](/plugins/{page}.md{suffix})"
        try:
            relative.relative_to("docs")
        except ValueError:
            return f"{text_} (`{relative.as_posix()}`)"
        return match.group(0)

    return _LINK.sub(replace, text)


def _on_include_read(
    app: Sphinx, relative_path: Path, parent_docname: str, content: list[str]
) -> None:
    if Path(relative_path).name != "README.md":
        return
    docs = Path(app.srcdir)
    content[0] = rewrite_links(
        content[0], PurePosixPath(Path(relative_path).as_posix()), docs, docs.parent.resolve()
    )


# -- references written in the pages ---------------------------------------------------------------


def _on_missing_reference(
    app: Sphinx, env: Any, node: addnodes.pending_xref, contnode: nodes.Element
) -> None:
    """Warn about a Python cross-reference written in a page of ``docs/`` that resolves to
    nothing (Sphinx says nothing unless ``nitpicky``, which would also report every torch type
    named in the API's docstrings, since the build fetches no inventories)."""
    if node.get("refdomain") != "py":
        return None
    parent = node.parent
    while parent is not None:  # type hints and docstrings rendered by autodoc are not checked
        if isinstance(parent, addnodes.desc):
            return None
        parent = parent.parent
    source, _ = get_source_line(node)
    if not source or "docstring of" in source:
        return None
    try:
        Path(source).resolve().relative_to(Path(app.srcdir).resolve())
    except ValueError:
        return None
    logger.warning(
        "the reference %s:`%s` resolves to nothing; name a documented object (see api.rst)",
        node.get("reftype"),
        node.get("reftarget"),
        location=node,
        type="hookwise",
        subtype="ref",
    )
    return None


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("hookwise-cli-help", CliHelpDirective)
    app.add_directive("hookwise-hook-table", HookTableDirective)
    app.add_directive("hookwise-settings-table", SettingsTableDirective)
    app.connect("include-read", _on_include_read)
    app.connect("missing-reference", _on_missing_reference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


__all__ = ["cli_help", "rewrite_links", "setup"]
