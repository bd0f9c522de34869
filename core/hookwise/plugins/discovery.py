"""Installed plugins, read from entry-point metadata alone (no plugin code is imported)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import importlib_metadata

#: The entry-point group that plugins declare:
#: ``[project.entry-points."hookwise.plugins"] name = "package.module:Object"``.
ENTRY_POINT_GROUP = "hookwise.plugins"


def normalize_name(name: str) -> str:
    """Fold a plugin name as pip folds project names (PEP 503): ``-``, ``_``, ``.`` and case."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class InstalledPlugin:
    """One ``hookwise.plugins`` entry point of an installed distribution.

    :param name: the entry point's name, as the distribution declares it.
    :param target: what it points at, ``package.module:Object``.
    :param distribution: the distribution's name (``None`` when unknown).
    :param version: the distribution's version (``None`` when unknown).
    """

    name: str
    target: str
    distribution: str | None
    version: str | None
    entry_point: importlib_metadata.EntryPoint

    @property
    def key(self) -> str:
        """The name as compared: :func:`normalize_name` of :attr:`name`."""
        return normalize_name(self.name)


def installed_plugins(group: str = ENTRY_POINT_GROUP) -> list[InstalledPlugin]:
    """Every entry point in ``group``, sorted by name, one per (name, distribution)."""
    seen: set[tuple[str, str | None, str]] = set()
    found: list[InstalledPlugin] = []
    for entry_point in importlib_metadata.entry_points(group=group):
        dist = entry_point.dist
        dist_name = dist.name if dist is not None else None
        version = dist.version if dist is not None else None
        identity = (normalize_name(entry_point.name), dist_name, entry_point.value)
        if identity in seen:  # the same distribution found twice on sys.path
            continue
        seen.add(identity)
        found.append(
            InstalledPlugin(entry_point.name, entry_point.value, dist_name, version, entry_point)
        )
    found.sort(key=lambda plugin: (plugin.key, plugin.distribution or ""))
    return found


@dataclass(frozen=True)
class PluginOrigin:
    """How an enabled plugin was enabled (what a run manifest records of it).

    :param spec: the name it was enabled by (``"evaluator@top5"``, ``"pkg.mod:Object"``,
        ``"./callbacks.py:Object"``); ``None`` for a ready object (``callbacks=[...]``).
    :param target: what it is: an entry point's ``package.module:Object``, an import path or
        a file.
    :param distribution: the installed distribution it came from (``None``: unknown).
    :param version: that distribution's version (``None``: unknown).
    :param params: the parameters as given, reserved ones included, before any
        ``{target}`` value among them was built.
    """

    spec: str | None
    target: str
    distribution: str | None = None
    version: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
