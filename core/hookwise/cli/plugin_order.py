"""``hookwise plugins order [HOOK] [CONFIG] [-p ...]``: the resolved call order and why.

The plugins are those a run with the same CONFIG, environment and ``-p`` options enables (the
embedded default config without CONFIG). Per hook, each implementation is listed in call order
with why it is there: ``tryfirst``/``trylast``, its place in enabled order, the named
constraints that placed it (``@hookimpl(before=/after=)``, ``run_before``/``run_after``) and
its trigger (``every 50 steps``). Constraints that name a plugin that is not enabled are listed
as ignored; constraints that form a cycle are an error naming the cycle (exit status 2).
``hookwise fit --dry-run`` prints the same lines as TOML comments.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from hookwise.cli.app import EXIT_OK
from hookwise.errors import ConfigError

if TYPE_CHECKING:
    from hookwise.plugins import PluginManager

COMMAND = "plugins order"


def order_parser() -> argparse.ArgumentParser:
    """The parser of ``hookwise plugins order``."""
    from hookwise.cli.parser import PLUGIN_SPEC_HELP

    parser = argparse.ArgumentParser(
        prog="hookwise plugins order",
        description="Show, per hook, the plugins in the order a run calls them and why "
        "(tryfirst/trylast, enabled order, named before/after constraints, triggers), and "
        "the constraints that are ignored because they name a plugin that is not enabled. "
        "The plugins are those `hookwise fit` enables with the same CONFIG, environment and "
        "-p options. Constraints that form a cycle are an error naming the cycle.",
    )
    parser.add_argument(
        "hook",
        nargs="?",
        metavar="HOOK",
        help="the hook, e.g. on_validation_end (default: every hook some plugin implements; "
        "`hookwise plugins order CONFIG` shows them for a config)",
    )
    parser.add_argument(
        "config", nargs="?", metavar="CONFIG", help="a TOML config (default: the embedded one)"
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
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    return parser


def _check_hook(hook: str) -> None:
    from hookwise import hookspecs

    if hook not in hookspecs.HOOK_NAMES:
        close = difflib.get_close_matches(hook, hookspecs.HOOK_NAMES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"hookwise plugins order: there is no hook {hook!r}; {hint}the hooks are "
            f"{', '.join(hookspecs.HOOK_NAMES)} (`hookwise hooks` describes them)"
        )


def hook_lines(pm: PluginManager, hook: str) -> list[str]:
    """One line per implementation of ``hook`` in call order: ``1. name: why``.

    :raises OrderCycleError: the constraints on ``hook`` form a cycle.
    """
    caller = pm.caller(hook)
    order = pm.hook_order(hook)
    calls = [*caller.wrappers, *caller.calls]
    lines = []
    for index, (name, reason, call) in enumerate(zip(order, order.reasons, calls, strict=True)):
        parts = [reason]
        if call.trigger is not None:
            parts.append(call.trigger.describe())
        wrapper = " (wrapper)" if index < order.wrappers else ""
        lines.append(f"{index + 1}. {name}{wrapper}: {'; '.join(parts)}")
    return lines


def ignored_lines(pm: PluginManager, hooks: Iterable[str]) -> list[str]:
    """The constraints on ``hooks`` that name a plugin that is not enabled (each once)."""
    seen: dict[str, None] = {}
    for hook in hooks:
        for text in pm.hook_order(hook).ignored:
            seen.setdefault(text, None)
    return list(seen)


def implemented_hooks(pm: PluginManager) -> list[str]:
    """The hooks some enabled plugin implements, in the hook reference's order."""
    from hookwise import hookspecs

    return [hook for hook in hookspecs.HOOK_NAMES if pm.hook_order(hook)]


def dry_run_lines(pm: PluginManager) -> list[str]:
    """What ``--dry-run`` prints about the order: per hook its plugins in call order, then why
    where more than the enabled order placed them, then the ignored constraints."""
    hooks = implemented_hooks(pm)
    lines = [
        "# Plugins per hook, in call order (hooks no plugin implements are left out; the "
        "enabled order unless a reason follows):"
    ]
    for hook in hooks:
        lines.append(f"#   {hook}: {', '.join(pm.hook_order(hook))}")
        details = hook_lines(pm, hook)
        if any(";" in line for line in details):
            lines += [f"#     {line}" for line in details]
    if not pm.plugin_names():
        lines.append("#   (no plugins enabled)")
    ignored = ignored_lines(pm, hooks)
    if ignored:
        lines.append("# Order constraints ignored (they name a plugin that is not enabled):")
        lines += [f"#   {text}" for text in ignored]
    return lines


def cmd_plugins_order(args: argparse.Namespace) -> int:
    """``hookwise plugins order [HOOK] [CONFIG] [-p ...]``."""
    from hookwise.cli.run_config import plugin_manager, resolve

    if args.hook is not None and args.config is None and Path(args.hook).is_file():
        args.hook, args.config = None, args.hook  # `hookwise plugins order CONFIG`
    if args.hook is not None:
        _check_hook(args.hook)
    resolved = resolve(args)
    pm = plugin_manager(resolved, dry_run=True)  # showing the order builds no {target}
    hooks = [args.hook] if args.hook is not None else implemented_hooks(pm)
    enabled = ", ".join(pm.plugin_names()) or "none"
    print(f"Plugins enabled (from {resolved.source}, the environment and -p): {enabled}")
    print(
        "Each hook calls tryfirst, then unmarked, then trylast implementations, each group in "
        "enabled order ('enabled 2nd': among the hook's plugins), moved by named constraints."
    )
    for hook in hooks:
        lines = hook_lines(pm, hook)
        print(f"{hook}, in call order:" if lines else f"{hook}: no enabled plugin implements it")
        for line in lines:
            print(f"  {line}")
    ignored = ignored_lines(pm, hooks)
    if ignored:
        print("Ignored constraints (they name a plugin that is not enabled):")
        for text in ignored:
            print(f"  {text}")
    return EXIT_OK


__all__ = [
    "COMMAND",
    "cmd_plugins_order",
    "dry_run_lines",
    "hook_lines",
    "ignored_lines",
    "implemented_hooks",
    "order_parser",
]
