"""The one way to enable a plugin: :meth:`PluginManager.enable` and ``enable_object``.

Every way of enabling a plugin (the command line, a config file, the environment,
``Trainer(plugins=...)``, ``Trainer(callbacks=[...])``, ``pm.enable``) goes through here
(DESIGN decision 16). Enabling by name:

1. checks blocks and the allow-list (:mod:`hookwise.plugins.policy`);
2. finds the entry point from metadata and imports it, once; checks the distribution's
   ``hookwise`` requirement;
3. builds ``{target = ...}`` parameter values and checks every parameter against the
   constructor's annotations (:mod:`hookwise.plugins.building`), under the allow-list;
4. builds the plugin object(s) and registers them with their error policy and order
   constraints;
5. checks what pluggy leaves to ``check_pending`` (as tox does after loading): a hook
   implementation whose hook does not exist is an error naming the closest hook, and so is a
   ``Callback`` method that looks like a misspelled hook; an object that would implement no
   hook at all is an error that says what a plugin looks like; the order constraints must not
   form a cycle. A failed enable leaves nothing registered.

``pm.register`` itself keeps pluggy's rules (an unknown hook is pending).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

from hookwise.adapters import ADAPTER_GROUP, Adapter, adapt, installed_adapters
from hookwise.errors import (
    ConfigError,
    PluginBlockedError,
    PluginLoadError,
    PluginNotFoundError,
    PluginValidationError,
)
from hookwise.hookspecs import PROJECT_NAME
from hookwise.plugins import building, files, policy
from hookwise.plugins.discovery import InstalledPlugin, installed_plugins, normalize_name
from hookwise.plugins.origin import PluginOrigin

#: What a plugin looks like, for error messages.
PLUGIN_SHAPE = (
    "A hookwise plugin is a hookwise.Callback subclass that overrides hook methods "
    "(on_train_batch_end, on_validation_end, ...), or a module or object whose functions are "
    "marked @hookwise.hookimpl (a vis4d callback needs only its imports changed: "
    "from hookwise import Callback). Run `hookwise hooks` to list the hooks."
)


def split_instance(name: str) -> tuple[str, str | None]:
    """``"evaluator@coco"`` -> ``("evaluator", "coco")``."""
    base, sep, instance = name.partition("@")
    return base, (instance if sep else None)


def closest(name: str, candidates: Iterable[str]) -> list[str]:
    """Up to three of ``candidates`` that look like ``name``."""
    return difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)


class Loading:
    """The discovery and enabling part of :class:`~hookwise.PluginManager` (a mixin)."""

    group: str
    allow_list: policy.AllowList | None
    _installed: list[InstalledPlugin] | None
    _blocked: set[str]
    _adapters: list[InstalledPlugin] | None
    _adapter_cache: dict[str, Adapter]
    _origins: dict[str, PluginOrigin]

    if TYPE_CHECKING:  # provided by the manager

        def register(
            self, plugin: Any, name: str | None = None, *, on_error: str = ...
        ) -> str | None: ...
        def unregister(self, plugin: Any = None, name: str | None = None) -> Any: ...
        def get_plugin(self, name: str) -> Any: ...
        def get_canonical_name(self, plugin: Any) -> str: ...
        def plugin_names(self) -> list[str]: ...
        def set_order(self, name: str, *, before: Any = None, after: Any = None) -> None: ...
        def hook_implementations(self, plugin: Any) -> list[tuple[str, pluggy.HookImpl, bool]]: ...
        def hook_attributes(self, plugin: Any) -> list[tuple[str, Any]]: ...
        def pending_implementations(self, plugin: Any) -> list[tuple[str, pluggy.HookImpl]]: ...
        @property
        def hook_names(self) -> tuple[str, ...]: ...
        def misspelled_methods(self, plugin: Any) -> list[tuple[str, list[str]]]: ...
        def check_order(self, plugin: Any) -> None: ...

    @property
    def allowed(self) -> frozenset[str] | None:
        """The allow-list's entries, folded (``None``: no allow-list)."""
        if self.allow_list is None:
            return None
        return frozenset(normalize_name(e) for e in self.allow_list.entries)

    @allowed.setter
    def allowed(self, entries: Iterable[str] | None) -> None:
        self.allow_list = policy.AllowList.of(entries)

    def plugin_origin(self, name: str) -> PluginOrigin | None:
        """How the registered plugin ``name`` was enabled (``None``: registered with pluggy's
        ``register``, not through the loader)."""
        return self._origins.get(name) if self.get_plugin(name) is not None else None

    def installed(self, *, refresh: bool = False) -> list[InstalledPlugin]:
        """Installed plugins, from entry-point metadata alone (cached; ``refresh`` re-reads)."""
        if self._installed is None or refresh:
            self._installed = installed_plugins(self.group)
        return list(self._installed)

    def find(self, name: str) -> InstalledPlugin:
        """The installed plugin called ``name`` (compared as pip compares project names).

        :raises PluginNotFoundError: no such plugin; the message suggests the closest names.
        :raises PluginLoadError: two distributions declare that name.
        """
        key = normalize_name(name)
        matches = [p for p in self.installed() if p.key == key]
        if not matches:
            names = sorted({p.name for p in self.installed()})
            close = closest(name, names) or closest(key, [normalize_name(n) for n in names])
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise PluginNotFoundError(
                f"no installed hookwise plugin is named {name!r}.{hint} Installed: "
                f"{', '.join(names) if names else 'none'}. Install the plugin's distribution "
                f"with pip, or give an import path 'package.module:Object'."
            )
        if len({(m.distribution, m.target) for m in matches}) > 1:
            owners = "; ".join(f"{m.distribution} {m.version} ({m.target})" for m in matches)
            raise PluginLoadError(
                f"plugin name {name!r} is declared by more than one distribution: {owners}. "
                f"Uninstall one of them, or enable the one you want by import path."
            )
        return matches[0]

    def installed_adapters(self, *, refresh: bool = False) -> list[InstalledPlugin]:
        """Installed adapters (entry-point group ``hookwise.adapters``), from metadata alone."""
        if self._adapters is None or refresh:
            self._adapters = installed_adapters(ADAPTER_GROUP)
        return list(self._adapters)

    def adapt(self, obj: Any, name: str | None = None) -> Any:
        """``obj`` when it has hookwise hooks, else the plugin an installed adapter makes of it
        (see :mod:`hookwise.adapters`), else ``obj`` unchanged."""
        label = name or type(obj).__name__
        return adapt(self, obj, label, self.installed_adapters(), self._adapter_cache)  # type: ignore[arg-type]

    def _free_name(self, base: str) -> str:
        name, count = base, 1
        while self.get_plugin(name) is not None:
            count += 1
            name = f"{base}#{count}"
        return name

    def block(self, name: str) -> None:
        """Stop plugin ``name`` (and all its instances) from ever loading; unregister it now.

        A file (``./callbacks.py``) blocks every plugin of that file; ``./callbacks.py:Obj``
        one of them (see :mod:`hookwise.plugins.files`).
        """
        base = split_instance(name)[0]
        self._blocked.add(base if files.is_file_spec(base) else normalize_name(base))
        for registered in self.plugin_names():
            if self.is_blocked(registered):
                self.unregister(name=registered)

    def is_blocked(self, name: str) -> bool:
        """Whether ``name`` (or its base name) is blocked by :meth:`block` (or pluggy's
        ``set_blocked``)."""
        blocked: bool = super().is_blocked(name)  # type: ignore[misc]
        base = split_instance(name)[0]
        if files.is_file_spec(base):
            return blocked or any(files.covers(entry, base) for entry in self._blocked)
        return blocked or normalize_name(base) in self._blocked

    def check_allowed(self, name: str) -> None:
        """:raises PluginBlockedError: ``name`` is blocked, or not on the allow-list."""
        base = split_instance(name)[0]
        if self.is_blocked(base):
            raise PluginBlockedError(
                f"plugin {base!r} is blocked (-p no:{base}); it cannot be enabled"
            )
        if self.allow_list is not None:
            self.allow_list.check_plugin(base)

    def load_target(self, name: str) -> tuple[Any, str, InstalledPlugin | None]:
        """Import what plugin ``name`` points at; return ``(object, canonical_name, info)``."""
        from hookwise.targets import resolve

        base = split_instance(name)[0]
        self.check_allowed(base)
        found = files.split_file_spec(base)
        if found is not None:
            module = files.load_module(found[0])
            if found[1] is None:
                return module, files.canonical(base), None
            return files.load_object(module, found[0], found[1]), files.canonical(base), None
        if policy.is_import_path(base):
            try:
                return resolve(base, where=f"plugin {base!r}", trusted=True), base, None
            except ConfigError as exc:
                raise PluginLoadError(str(exc)) from exc
        if "." in base and not any(p.key == normalize_name(base) for p in self.installed()):
            return files.import_module_plugin(base), base, None  # DESIGN decision 26
        info = self.find(base)
        try:
            loaded = info.entry_point.load()
        except Exception as exc:
            raise PluginLoadError(
                f"plugin {info.name!r} (distribution {info.distribution} {info.version}) failed "
                f"to import {info.target!r}: {type(exc).__name__}: {exc}"
            ) from exc
        return loaded, info.name, info

    def enable(self, name: str, /, **params: Any) -> list[str]:
        """Enable a plugin by name and return the names it was registered under.

        ``name`` is an entry-point name (``"early_stopping"``), an instance of one
        (``"evaluator@coco"``) or an import path (``"package.module:Object"``). The target may be
        a ``Callback`` subclass or another class (built with ``params``), a factory (called with
        ``params``; it returns one plugin object or several), or a module or object of
        ``@hookimpl`` functions (no params). Reserved parameters, never passed on: ``on_error``
        (the error policy) and ``run_before``/``run_after`` (plugin names this plugin's hooks run
        before/after). ``{target = "package.module:Object", ...}`` values are built first.

        :raises PluginNotFoundError, PluginLoadError, PluginBlockedError, ConfigError,
            PluginValidationError: with the plugin, the distribution and the fix named.
        """
        given = dict(params)
        on_error = policy.check_policy(params.pop("on_error", "raise"), name)
        order = {"before": params.pop("run_before", None), "after": params.pop("run_after", None)}
        target, canonical, info = self.load_target(name)
        instance = split_instance(name)[1]
        registered_name = f"{canonical}@{instance}" if instance else canonical
        origin = PluginOrigin(
            name,
            info.target if info is not None else canonical,
            info.distribution if info is not None else None,
            info.version if info is not None else None,
            given,
        )
        if (files.split_file_spec(canonical) or ("", "whole"))[1] is None:  # a plugins file
            return self._record(
                origin, self._enable_file(registered_name, target, params, on_error, order)
            )
        if self.get_plugin(registered_name) is not None:
            raise ConfigError(
                f"plugin {registered_name!r} is already enabled; enable a second instance as "
                f"'{canonical}@NAME'"
            )
        if info is not None:
            building.check_requirement(info)
        where = f"plugin {registered_name!r}"
        # Unknown parameters are refused before any {target} value among them is built.
        building.check_known_params(target, params, registered_name, info)
        with policy.enforcing(self.allow_list):
            built = building.build(
                target, building.build_params(params, where), registered_name, info
            )
        # A built object without hookwise hooks (a callback written for another trainer) is
        # offered to the installed adapters.
        objects = [self.adapt(obj, registered_name) for obj in built]
        names = [
            registered_name if i == 0 else f"{registered_name}#{i}" for i in range(len(objects))
        ]
        return self._record(
            origin, self._enable_all(list(zip(names, objects, strict=True)), on_error, order)
        )

    def _record(self, origin: PluginOrigin, names: list[str]) -> list[str]:
        for name in names:
            self._origins[name] = origin
        return names

    def _enable_file(
        self, name: str, module: Any, params: dict[str, Any], on_error: str, order: dict[str, Any]
    ) -> list[str]:
        """Enable every plugin of a project plugins file (see :mod:`hookwise.plugins.files`)."""
        if params:
            raise ConfigError(
                f"plugins file {name!r} takes no parameters ({sorted(params)}); give them to "
                f"one of its objects: {name}:Object:key=value"
            )
        named = files.project_plugins(module, name, f"{PROJECT_NAME}_impl")
        named = [(n, obj) for n, obj in named if not self.is_blocked(n)]
        for plugin_name, _ in named:
            self.check_allowed(plugin_name)
            if self.get_plugin(plugin_name) is not None:
                raise ConfigError(f"plugin {plugin_name!r} is already enabled")
        return self._enable_all([(n, self.adapt(obj, n)) for n, obj in named], on_error, order)

    def enable_object(self, obj: Any, name: str | None = None, *, on_error: str = "raise") -> str:
        """Enable an already-built plugin object (vis4d's ``callbacks=[...]``) through the
        loader's checks; return its registered name.

        An object without hookwise hooks is first offered to the installed adapters
        (:meth:`adapt`). ``name`` defaults to the object's class name (``Name#2`` for a second
        one).

        :raises PluginBlockedError, ConfigError, PluginValidationError: see :meth:`enable`.
        """
        plugin_name = name or self._free_name(type(obj).__name__)
        if self.is_blocked(plugin_name):
            raise PluginBlockedError(f"plugin {plugin_name!r} is blocked; it cannot be enabled")
        if self.get_plugin(plugin_name) is not None:
            raise ConfigError(f"plugin {plugin_name!r} is already enabled")
        policy.check_policy(on_error, plugin_name)
        plugin = self.adapt(obj, plugin_name)
        kind = type(obj)
        origin = PluginOrigin(None, f"{kind.__module__}:{kind.__qualname__}")
        return self._record(origin, self._enable_all([(plugin_name, plugin)], on_error, {}))[0]

    def _enable_all(
        self, named: list[tuple[str, Any]], on_error: str, order: dict[str, Any]
    ) -> list[str]:
        for name, obj in named:
            self._check_shape(name, obj)
        registered: list[str] = []
        try:
            for name, obj in named:
                if order.get("before") is not None or order.get("after") is not None:
                    self.set_order(name, **order)
                if self.register(obj, name, on_error=on_error) is not None:
                    registered.append(name)
            for name in registered:
                self._check_pending(name, self.get_plugin(name))
                self.check_order(self.get_plugin(name))
        except BaseException:
            for name in registered:
                self.unregister(name=name)
            for name, _ in named:
                self.set_order(name, before=(), after=())
            raise
        return registered

    def _check_shape(self, name: str, obj: Any) -> None:
        """An object with no hook, or a ``Callback`` with a misspelled hook method, is an
        error (before anything is registered)."""
        for method, close in self.misspelled_methods(obj):
            hint = f"; did you mean {close[0]!r}?" if close else "."
            alone = (
                "" if self.hook_attributes(obj) else " Without it the plugin implements no hook."
            )
            raise PluginValidationError(
                f"plugin {name!r}: method {method!r} is not a hookwise hook and would never be "
                f"called{hint}{alone} Run `hookwise hooks` to list the hooks.",
                plugin=obj,
            )
        if not self.hook_attributes(obj):
            kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
            adapters = [a.name for a in self.installed_adapters()]
            tried = f" No installed adapter ({', '.join(adapters)}) took it." if adapters else ""
            raise PluginValidationError(
                f"plugin {name!r} ({obj!r}, a {kind}) implements no hook, so it would never be "
                f"called.{tried} {PLUGIN_SHAPE}",
                plugin=obj,
            )

    def _check_pending(self, name: str, plugin: Any) -> None:
        """pluggy's ``check_pending`` for one plugin, with the closest hook named."""
        for hook, impl in self.pending_implementations(plugin):
            if impl.optionalhook:
                continue
            from hookwise.hookspecs import HOOK_NAMES

            close = closest(hook, [*HOOK_NAMES, *self.hook_names])
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise PluginValidationError(
                f"plugin {name!r}: {getattr(impl.function, '__name__', hook)!r} is marked "
                f"@hookimpl but there is no hook named {hook!r}.{hint} Run `hookwise hooks` to "
                f"list them (optionalhook=True accepts a hook that may not exist).",
                plugin=plugin,
            )
