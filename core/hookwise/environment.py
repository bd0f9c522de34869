"""hookwise's environment variables: the one place each of them is read.

``HOOKWISE_DISABLE_PLUGIN_AUTOLOAD``
    Set (to anything but ``""``, ``0``, ``false`` or ``no``): the default plugins of
    ``hookwise fit`` are left out, so only plugins named explicitly load. A security control.
``HOOKWISE_ALLOWED_PLUGINS``
    An allow-list, names separated by ``,`` or ``;``. A security control that binds the Python
    API too: a :class:`~hookwise.PluginManager` made while it is set enables nothing else.
``HOOKWISE_PLUGINS``
    Plugins to add, as ``-p`` specs separated by ``;`` (parsed by
    :func:`hookwise.config.plugin_specs_from_env`). Read by the command line, and by the Python
    API only when asked.

Each reader takes an optional mapping instead of ``os.environ`` (tests, and callers that
resolve a saved environment). The readers return what the user wrote, stripped; comparing
names (folding them like pip project names) is the job of whoever matches them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

PLUGINS_ENV = "HOOKWISE_PLUGINS"
DISABLE_AUTOLOAD_ENV = "HOOKWISE_DISABLE_PLUGIN_AUTOLOAD"
ALLOWED_ENV = "HOOKWISE_ALLOWED_PLUGINS"

_OFF = ("", "0", "false", "no")


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def plugins_text(environ: Mapping[str, str] | None = None) -> str | None:
    """The text of ``HOOKWISE_PLUGINS`` as written, or ``None`` when it is unset or blank."""
    raw = _env(environ).get(PLUGINS_ENV)
    return raw if raw is not None and raw.strip() else None


def autoload_disabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``HOOKWISE_DISABLE_PLUGIN_AUTOLOAD`` is set (to anything but ``""``, ``0``,
    ``false`` or ``no``, in any case)."""
    return _env(environ).get(DISABLE_AUTOLOAD_ENV, "").strip().lower() not in _OFF


def allowed_plugins(environ: Mapping[str, str] | None = None) -> list[str] | None:
    """The names in ``HOOKWISE_ALLOWED_PLUGINS`` (``,`` or ``;`` separated, blanks dropped), as
    written; ``None`` when the variable is unset (set but empty: nothing is allowed)."""
    raw = _env(environ).get(ALLOWED_ENV)
    if raw is None:
        return None
    return [name.strip() for name in raw.replace(";", ",").split(",") if name.strip()]


__all__ = [
    "ALLOWED_ENV",
    "DISABLE_AUTOLOAD_ENV",
    "PLUGINS_ENV",
    "allowed_plugins",
    "autoload_disabled",
    "plugins_text",
]
