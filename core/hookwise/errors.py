"""Exceptions hookwise raises, each naming what is wrong, where, and how to fix it."""

from __future__ import annotations

import contextlib


class HookwiseError(Exception):
    """Base class of hookwise's own errors."""


class PluginNotFoundError(HookwiseError, LookupError):
    """A plugin name matches no installed entry point (the message lists the closest ones)."""


class PluginLoadError(HookwiseError):
    """A plugin failed to import or to build (plugin, distribution and cause are named)."""


class PluginValidationError(HookwiseError):
    """A plugin's hook implementations do not match the hook specifications."""


class PluginBlockedError(HookwiseError):
    """A plugin is blocked (``-p no:NAME``) or not in ``HOOKWISE_ALLOWED_PLUGINS``."""


class ConfigError(HookwiseError, ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


class CheckpointError(HookwiseError):
    """A checkpoint file is missing, truncated, corrupt, foreign or of another format version."""


def add_note(exc: BaseException, note: str) -> None:
    """Attach ``note`` to ``exc`` (``BaseException.add_note`` on Python 3.11+)."""
    notes = getattr(exc, "__notes__", None)
    if notes is not None and note in notes:
        return
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:  # Python 3.10
        with contextlib.suppress(AttributeError):
            exc.__notes__ = [*(notes or []), note]  # type: ignore[attr-defined]
