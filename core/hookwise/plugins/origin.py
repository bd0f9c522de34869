"""How an enabled plugin was enabled: what a run manifest (:mod:`hookwise.manifest`) records
of it. Kept apart from :mod:`hookwise.plugins.discovery`, which the plugin listing imports and
which must not import ``dataclasses``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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


__all__ = ["PluginOrigin"]
