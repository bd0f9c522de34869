"""Enabling a resolved :class:`~hookwise.config.PluginPlan` on a plugin manager."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hookwise.bundled import install_command
from hookwise.config.layers import PluginPlan
from hookwise.environment import DISABLE_AUTOLOAD_ENV
from hookwise.errors import HookwiseError, PluginNotFoundError, add_note

if TYPE_CHECKING:
    from hookwise.plugins import PluginManager


def enable_plan(pm: PluginManager, plan: PluginPlan) -> list[str]:
    """Block and enable the plan's plugins on ``pm`` through its one loader
    (:meth:`PluginManager.enable`: each plugin loaded once, ``{target}`` values built, parameter
    types checked, the allow-list applied); return the registered names.

    :raises PluginNotFoundError: a plugin is not installed (for a default plugin, the message
        names the pip command that installs it).
    :raises HookwiseError: any error of :meth:`PluginManager.enable`, with a note saying where
        the plugin was named.
    """
    for block in plan.blocked.values():
        pm.block(block.name)
    names: list[str] = []
    for spec in plan.specs:
        try:
            try:
                names += pm.enable(spec.name, **spec.params)
            except PluginNotFoundError as exc:
                if not plan.is_default(spec):
                    raise
                base = spec.name.partition("@")[0]
                raise PluginNotFoundError(
                    f"default plugin {base!r} is not installed. Install it with: "
                    f"{install_command(base)}  (or leave it out: -p no:{base}; "
                    f"{DISABLE_AUTOLOAD_ENV}=1 leaves out every default plugin)"
                ) from exc
        except HookwiseError as exc:
            add_note(exc, f"(plugin {spec.name!r} was named in {spec.source})")
            raise
    return names


__all__ = ["enable_plan", "install_command"]
