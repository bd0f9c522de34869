"""Checkpointable plugin state: each plugin's ``state_dict()`` under its registered name, with
the version of its layout.

A plugin whose state layout changes declares ``state_version`` (an int, 1 when absent) and,
to read checkpoints of an older layout, ``migrate_state(state, from_version)`` returning the
state in its current layout. Checkpoints record each plugin's version
(``plugin_state_versions``); on resume an older state is migrated before ``load_state_dict``
sees it, and a state the plugin cannot read (a newer version, or an older one without
``migrate_state``) is an error that names the plugin, both versions and the fix.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from hookwise.errors import CheckpointError, PluginValidationError

#: The version of a state whose plugin declares none, or whose checkpoint recorded none.
DEFAULT_STATE_VERSION = 1


def state_version(name: str, plugin: Any) -> int:
    """``plugin.state_version`` (:data:`DEFAULT_STATE_VERSION` when it has none).

    :raises PluginValidationError: it is not a positive integer.
    """
    version = getattr(plugin, "state_version", DEFAULT_STATE_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PluginValidationError(
            f"plugin {name!r}: state_version must be a positive integer, got {version!r}",
            plugin=plugin,
        )
    return version


def migrated_state(name: str, plugin: Any, state: Any, saved: int) -> Any:
    """``state``, saved by version ``saved`` of ``plugin``'s layout, in its current layout.

    :raises CheckpointError: the saved version is newer than the plugin's, or older and the
        plugin has no ``migrate_state``.
    """
    current = state_version(name, plugin)
    if saved == current:
        return state
    if saved > current:
        raise CheckpointError(
            f"plugin {name!r}: the checkpoint holds its state version {saved}, newer than the "
            f"version {current} this installed plugin reads; install the plugin release that "
            f"wrote the checkpoint (or a newer one)"
        )
    migrate = getattr(plugin, "migrate_state", None)
    if not callable(migrate):
        raise CheckpointError(
            f"plugin {name!r}: the checkpoint holds its state version {saved}; the plugin "
            f"keeps version {current} and has no migrate_state(state, from_version) to convert "
            f"it. Resume with the plugin release that wrote it, or add migrate_state"
        )
    return migrate(state, saved)


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
        """Every plugin's ``state_dict()``, under its name, checked (and converted where it
        can be) so that a safe load reads it back (:func:`hookwise.statecheck.checked_state`).
        """
        from hookwise.statecheck import checked_state

        return {
            name: checked_state(name, plugin.state_dict())
            for name, plugin in self.plugins_with_state()
        }

    def state_versions(self) -> dict[str, int]:
        """The state version of every plugin with state (see :func:`state_version`)."""
        return {name: state_version(name, plugin) for name, plugin in self.plugins_with_state()}

    def load_state_dict(
        self, states: Mapping[str, Any], versions: Mapping[str, int] | None = None
    ) -> list[str]:
        """Give each registered plugin its saved state, migrated from the version in
        ``versions`` (:data:`DEFAULT_STATE_VERSION` when absent); return the names that had
        none saved."""
        missing = []
        saved_versions = versions or {}
        for name, plugin in self.plugins_with_state():
            if name in states:
                if callable(getattr(plugin, "load_state_dict", None)):
                    saved = int(saved_versions.get(name, DEFAULT_STATE_VERSION))
                    plugin.load_state_dict(migrated_state(name, plugin, states[name], saved))
            else:
                missing.append(name)
        return missing
