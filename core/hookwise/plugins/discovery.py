"""Installed plugins, read from entry-point metadata alone (no plugin code is imported)."""

from __future__ import annotations

import re
from typing import NamedTuple

import importlib_metadata

#: The entry-point group that plugins declare:
#: ``[project.entry-points."hookwise.plugins"] name = "package.module:Object"``.
ENTRY_POINT_GROUP = "hookwise.plugins"


def normalize_name(name: str) -> str:
    """Fold a plugin name as pip folds project names (PEP 503): ``-``, ``_``, ``.`` and case."""
    return re.sub(r"[-_.]+", "-", name).lower()


class InstalledPlugin(NamedTuple):
    """One ``hookwise.plugins`` entry point of an installed distribution (immutable).

    A named tuple, not a dataclass: listing plugins must not import ``dataclasses`` (which
    imports ``inspect``), so that ``hookwise plugins`` costs little more than the scan.

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


def _name_and_version(
    dist: importlib_metadata.Distribution | None,
) -> tuple[str | None, str | None]:
    """The distribution's ``Name`` and ``Version``, read from its metadata file's headers.

    ``dist.name`` and ``dist.version`` would each parse the whole file with the ``email``
    package, whose import alone costs more than listing the plugins; the two headers are
    single lines before the first blank line (core metadata). Anything unusual (no such
    file, a field missing or folded over two lines) goes to ``dist.metadata`` as before.
    """
    if dist is None:
        return None, None
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    found = _header_fields(text or "", ("name", "version"))
    if found is None:
        metadata = dist.metadata
        return metadata["Name"], metadata["Version"]
    return found["name"], found["version"]


def _header_fields(text: str, wanted: tuple[str, ...]) -> dict[str, str] | None:
    """The first value of each ``wanted`` field (lower-case names) in the header block of a
    core metadata file, or ``None`` when one is missing or folded."""
    found: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            break  # the headers end at the first blank line; the description follows
        if line[0] in " \t":  # a folded line continues the previous field
            if last in wanted:
                return None
            continue
        name, colon, value = line.partition(":")
        if not colon:
            break  # not a header: the email parser ends the headers here too
        last = name.lower()
        if last in wanted and last not in found:
            found[last] = value.lstrip(" \t")
    return found if len(found) == len(wanted) else None


def installed_plugins(group: str = ENTRY_POINT_GROUP) -> list[InstalledPlugin]:
    """Every entry point in ``group``, sorted by name, one per (name, distribution)."""
    seen: set[tuple[str, str | None, str]] = set()
    found: list[InstalledPlugin] = []
    for entry_point in importlib_metadata.entry_points(group=group):
        dist_name, version = _name_and_version(entry_point.dist)
        identity = (normalize_name(entry_point.name), dist_name, entry_point.value)
        if identity in seen:  # the same distribution found twice on sys.path
            continue
        seen.add(identity)
        found.append(
            InstalledPlugin(entry_point.name, entry_point.value, dist_name, version, entry_point)
        )
    found.sort(key=lambda plugin: (plugin.key, plugin.distribution or ""))
    return found
