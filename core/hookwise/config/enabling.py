"""Enabling a resolved :class:`~hookwise.config.PluginPlan` on a plugin manager."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hookwise.config.layers import PluginPlan
from hookwise.discovery import normalize_name
from hookwise.environment import DISABLE_AUTOLOAD_ENV
from hookwise.errors import HookwiseError, PluginNotFoundError, add_note

if TYPE_CHECKING:
    from hookwise.plugins import PluginManager

#: Parameters never built as objects: connectors are mappings whose keys may be ``target``.
_NOT_BUILT = ("train_connector", "test_connector", "on_error", "epoch_based")


def install_command(name: str) -> str:
    """The pip command that installs the bundled plugin ``name``."""
    return f"pip install hookwise-{normalize_name(name.partition('@')[0])}"


def enable_plan(pm: PluginManager, plan: PluginPlan) -> list[str]:
    """Block and enable the plan's plugins on ``pm``; return the registered names.

    Parameters written as ``{target = "..."}`` are built first, and every parameter is checked
    against the constructor's annotations (:func:`hookwise.paramcheck.check_param_types`).

    :raises PluginNotFoundError: a plugin is not installed (for a default plugin, the message
        names the pip command that installs it).
    :raises HookwiseError: any error of :meth:`PluginManager.enable`, with a note saying where
        the plugin was named.
    """
    from hookwise.paramcheck import check_param_types
    from hookwise.targets import instantiate

    for block in plan.blocked.values():
        pm.block(block.name)
    names: list[str] = []
    for spec in plan.specs:
        try:
            try:
                target, _, _ = pm.load_target(spec.name)
            except PluginNotFoundError as exc:
                if not plan.is_default(spec):
                    raise
                base = spec.name.partition("@")[0]
                raise PluginNotFoundError(
                    f"default plugin {base!r} is not installed. Install it with: "
                    f"{install_command(base)}  (or leave it out: -p no:{base}; "
                    f"{DISABLE_AUTOLOAD_ENV}=1 leaves out every default plugin)"
                ) from exc
            params = {
                key: value
                if key in _NOT_BUILT
                else instantiate(value, where=f"plugin {spec.name!r} parameter {key!r}")
                for key, value in spec.params.items()
            }
            checked = {k: v for k, v in params.items() if k != "on_error"}
            check_param_types(target, checked, spec.name)
            names += pm.enable(spec.name, **params)
        except HookwiseError as exc:
            add_note(exc, f"(plugin {spec.name!r} was named in {spec.source})")
            raise
    return names


__all__ = ["enable_plan", "install_command"]
