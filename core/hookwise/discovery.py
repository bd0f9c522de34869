"""Old import path of :mod:`hookwise.plugins.discovery` (kept working; import from there)."""

from hookwise.plugins.discovery import (
    ENTRY_POINT_GROUP,
    InstalledPlugin,
    installed_plugins,
    normalize_name,
)

__all__ = ["ENTRY_POINT_GROUP", "InstalledPlugin", "installed_plugins", "normalize_name"]
