"""``IsolatedPluginManager``: a plugin manager that sees nothing of the environment unless asked."""

from __future__ import annotations

from collections.abc import Iterable

import importlib_metadata

from hookwise.adapters import ADAPTER_GROUP
from hookwise.discovery import ENTRY_POINT_GROUP, InstalledPlugin
from hookwise.errors import PluginNotFoundError
from hookwise.plugins import PluginManager, _allowed_from_env


class IsolatedPluginManager(PluginManager):
    """A :class:`~hookwise.PluginManager` that sees nothing of the environment unless asked.

    By default it lists no installed plugin (entry points are not read) and ignores
    ``HOOKWISE_ALLOWED_PLUGINS``, so a test's result never depends on what happens to be
    installed or set in the shell. Plugins are enabled by import path
    (``pm.enable("mypkg.plugin:MyCallback", threshold=1)``), registered as objects
    (``pm.register(MyCallback())``), or given a fake entry point with :meth:`add_entry_point`.

    :param entry_points: read the installed ``hookwise.plugins`` entry points (as a normal
        manager does); :meth:`use_installed_plugins` switches it on later.
    :param environment: honour ``HOOKWISE_ALLOWED_PLUGINS`` (:meth:`use_environment`).
    :param allowed: an explicit allow-list (``None``: everything may load).
    """

    def __init__(
        self,
        *,
        entry_points: bool = False,
        environment: bool = False,
        allowed: Iterable[str] | None = None,
        group: str = ENTRY_POINT_GROUP,
    ) -> None:
        # An empty allow-list keeps the base class from reading the environment.
        super().__init__(group, allowed=allowed if allowed is not None else ())
        if allowed is None:
            self.allowed = _allowed_from_env() if environment else None
        self.reads_entry_points = entry_points
        self._fake_entry_points: list[InstalledPlugin] = []
        self._fake_adapters: list[InstalledPlugin] = []

    def use_installed_plugins(self, enabled: bool = True) -> IsolatedPluginManager:
        """Read the installed entry points from now on (or stop reading them); returns self."""
        self.reads_entry_points = enabled
        self._installed = None
        self._adapters = None
        return self

    def use_environment(self) -> IsolatedPluginManager:
        """Honour ``HOOKWISE_ALLOWED_PLUGINS`` as a normal manager does; returns self."""
        self.allowed = _allowed_from_env()
        return self

    def add_entry_point(
        self,
        name: str,
        target: str,
        *,
        distribution: str = "hookwise-test-plugins",
        version: str = "0",
    ) -> InstalledPlugin:
        """Pretend an entry point ``name = "package.module:Object"`` is installed.

        ``pm.enable(name)`` then loads ``target`` exactly as it would load an installed
        plugin's entry point, with no ``pip install``::

            hookwise_pm.add_entry_point("my_plugin", "my_package.plugin:MyCallback")
            hookwise_pm.enable("my_plugin", threshold=2)
        """
        entry_point = importlib_metadata.EntryPoint(name=name, value=target, group=self.group)
        plugin = InstalledPlugin(name, target, distribution, version, entry_point)
        self._fake_entry_points.append(plugin)
        return plugin

    def add_adapter(
        self,
        name: str,
        target: str,
        *,
        distribution: str = "hookwise-test-plugins",
        version: str = "0",
    ) -> InstalledPlugin:
        """Pretend an adapter ``name = "package.module:adapt"`` is installed (entry-point group
        ``hookwise.adapters``, see :mod:`hookwise.adapters`)."""
        entry_point = importlib_metadata.EntryPoint(name=name, value=target, group=ADAPTER_GROUP)
        adapter = InstalledPlugin(name, target, distribution, version, entry_point)
        self._fake_adapters.append(adapter)
        self._adapters = None
        return adapter

    def installed_adapters(self, *, refresh: bool = False) -> list[InstalledPlugin]:
        """The fake adapters, plus the installed ones when :attr:`reads_entry_points`."""
        found = super().installed_adapters(refresh=refresh) if self.reads_entry_points else []
        found = found + self._fake_adapters
        found.sort(key=lambda adapter: (adapter.key, adapter.distribution or ""))
        return found

    def installed(self, *, refresh: bool = False) -> list[InstalledPlugin]:
        """The fake entry points, plus the installed ones when :attr:`reads_entry_points`."""
        found = super().installed(refresh=refresh) if self.reads_entry_points else []
        found = found + self._fake_entry_points
        found.sort(key=lambda plugin: (plugin.key, plugin.distribution or ""))
        return found

    def find(self, name: str) -> InstalledPlugin:
        """As :meth:`hookwise.PluginManager.find`; the error says how to see installed plugins."""
        try:
            return super().find(name)
        except PluginNotFoundError as exc:
            if self.reads_entry_points:
                raise
            raise PluginNotFoundError(
                f"{exc} (This is an isolated plugin manager, hookwise_pm: it reads no installed "
                f"entry points. Call hookwise_pm.use_installed_plugins() to see them, "
                f"hookwise_pm.add_entry_point({name!r}, 'package.module:Object') to fake one, "
                f"or enable the plugin by import path.)"
            ) from None
