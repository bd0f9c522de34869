"""Checkpointable plugin state: each plugin's ``state_dict()`` under its registered name."""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any


class PluginState:
    """The plugin-state part of :class:`~hookwise.PluginManager` (a mixin)."""

    if TYPE_CHECKING:

        def plugin_names(self) -> list[str]: ...
        def get_plugin(self, name: str) -> Any: ...

    def plugins_with_state(self) -> Iterator[tuple[str, Any]]:
        """``(name, plugin)`` for every registered plugin that has ``state_dict``."""
        for name in self.plugin_names():
            plugin = self.get_plugin(name)
            if callable(getattr(plugin, "state_dict", None)) and not isinstance(
                plugin, types.ModuleType
            ):
                yield name, plugin

    def state_dict(self) -> dict[str, Any]:
        """Every plugin's ``state_dict()``, under its name."""
        return {name: plugin.state_dict() for name, plugin in self.plugins_with_state()}

    def load_state_dict(self, states: Mapping[str, Any]) -> list[str]:
        """Give each registered plugin its saved state; return the names that had none saved."""
        missing = []
        for name, plugin in self.plugins_with_state():
            if name in states:
                if callable(getattr(plugin, "load_state_dict", None)):
                    plugin.load_state_dict(states[name])
            else:
                missing.append(name)
        return missing
