"""Adapters: installed code that turns a foreign callback object into a hookwise plugin.

An object enabled through hookwise (``pm.enable(...)`` by name or import path,
``pm.enable_object(obj)``, ``Trainer(callbacks=[...])``) that carries no hookwise hook, for
instance a callback written for another trainer, is offered to the installed adapters before it
is registered. A distribution declares an adapter in the entry-point group
``hookwise.adapters``::

    [project.entry-points."hookwise.adapters"]
    lightning = "hookwise_lightning.adapter:adapt"

The target is a function ``adapt(obj) -> plugin | None``: it returns a hookwise plugin object
standing for ``obj`` (any object with hook implementations) when it knows ``obj``'s kind, else
``None``. It is called only for objects that have no hookwise hook, so it costs nothing for
hookwise's own plugins, and it is imported only then (installed is not enabled). An adapter
never adds a plugin by itself: it only wraps what the user named.

Adapters obey the same controls as plugins: ``-p no:NAME`` blocks one, and with an allow-list
set (``HOOKWISE_ALLOWED_PLUGINS``) an adapter is used only when its entry-point name is on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hookwise.callback import Callback
from hookwise.discovery import InstalledPlugin, installed_plugins, normalize_name
from hookwise.errors import (
    ConfigError,
    PluginBlockedError,
    PluginLoadError,
    PluginValidationError,
    add_note,
)

if TYPE_CHECKING:
    from hookwise.plugins import PluginManager

#: The entry-point group adapters are declared in.
ADAPTER_GROUP = "hookwise.adapters"

Adapter = Callable[[Any], Any]


def installed_adapters(group: str = ADAPTER_GROUP) -> list[InstalledPlugin]:
    """Every installed adapter, from entry-point metadata alone, sorted by name."""
    return installed_plugins(group)


def has_hooks(pm: PluginManager, obj: Any) -> bool:
    """Whether ``pm`` would register at least one hook implementation of ``obj``
    (a ``Callback`` counts as a hookwise plugin whatever it overrides)."""
    if isinstance(obj, Callback):
        return True
    for attr in dir(obj):
        try:
            if pm.parse_hookimpl_opts(obj, attr) is not None:
                return True
        except Exception:  # a property that raises is no hook (pluggy skips it too)
            continue
    return False


def _describe(obj: Any) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__} object"


def _usable(pm: PluginManager, info: InstalledPlugin) -> bool:
    if pm.is_blocked(info.name):
        return False
    return pm.allowed is None or normalize_name(info.name) in pm.allowed


def _load(pm: PluginManager, info: InstalledPlugin, cache: dict[str, Adapter]) -> Adapter:
    key = f"{info.distribution}:{info.name}"
    if key not in cache:
        try:
            loaded = info.entry_point.load()
        except Exception as exc:
            raise PluginLoadError(
                f"adapter {info.name!r} (distribution {info.distribution} {info.version}) failed "
                f"to import {info.target!r}: {type(exc).__name__}: {exc}"
            ) from exc
        if not callable(loaded):
            raise PluginLoadError(
                f"adapter {info.name!r} (distribution {info.distribution} {info.version}): "
                f"{info.target!r} is not callable; an adapter is a function adapt(obj) -> "
                f"plugin or None"
            )
        cache[key] = loaded
    return cache[key]


def adapt(
    pm: PluginManager,
    obj: Any,
    name: str,
    adapters: list[InstalledPlugin],
    cache: dict[str, Adapter],
) -> Any:
    """``obj`` itself when it has hookwise hooks, else what the first adapter that accepts it
    returns, else ``obj`` unchanged (the caller decides what a plugin without hooks means).

    :raises PluginBlockedError: no usable adapter accepted ``obj`` and some adapter was left
        out by ``-p no:NAME`` or the allow-list (the message names it).
    :raises PluginLoadError: an adapter failed to import, raised an unexpected error, or
        returned an object without hooks.
    """
    if has_hooks(pm, obj):
        return obj
    skipped: list[str] = []
    for info in adapters:
        if not _usable(pm, info):
            skipped.append(info.name)
            continue
        adapter = _load(pm, info, cache)
        where = f"adapter {info.name!r} (distribution {info.distribution} {info.version})"
        try:
            plugin = adapter(obj)
        except (ConfigError, PluginValidationError) as exc:
            add_note(exc, f"{where} refused plugin {name!r} ({_describe(obj)})")
            raise
        except Exception as exc:
            raise PluginLoadError(
                f"{where} raised while adapting plugin {name!r} ({_describe(obj)}): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if plugin is None:
            continue
        if not has_hooks(pm, plugin):
            raise PluginLoadError(
                f"{where} adapted plugin {name!r} ({_describe(obj)}) into an object with no "
                f"hookwise hook implementation; this is a bug of the adapter"
            )
        return plugin
    if skipped:
        raise PluginBlockedError(
            f"plugin {name!r} ({_describe(obj)}) has no hookwise hook, and the installed "
            f"adapter(s) {skipped} that might run it are blocked or not in the allow-list; add "
            f"them to the allow-list (or drop -p no:NAME) to use them"
        )
    return obj


__all__ = ["ADAPTER_GROUP", "Adapter", "adapt", "has_hooks", "installed_adapters"]
