"""Exceptions hookwise raises, each naming what is wrong, where, and how to fix it."""

from __future__ import annotations

import contextlib
from typing import Any

import pluggy


class HookwiseError(Exception):
    """Base class of hookwise's own errors."""


class PluginNotFoundError(HookwiseError, LookupError):
    """A plugin name matches no installed entry point (the message lists the closest ones)."""


class PluginLoadError(HookwiseError):
    """A plugin failed to import or to build (plugin, distribution and cause are named)."""


class PluginValidationError(HookwiseError, pluggy.PluginValidationError):
    """A plugin's hook implementations do not match the hook specifications.

    A ``pluggy.PluginValidationError``: :attr:`plugin` is the plugin object at fault. Raise it
    as pluggy does, ``PluginValidationError(plugin, message)``, or with the message alone and
    ``plugin=`` as a keyword.
    """

    def __init__(self, *args: Any, plugin: Any = None) -> None:
        if len(args) == 2:  # pluggy's signature: (plugin, message)
            plugin, message = args
        elif len(args) == 1:
            (message,) = args
        else:
            raise TypeError("PluginValidationError(plugin, message) or (message, plugin=...)")
        pluggy.PluginValidationError.__init__(self, plugin, message)


class OrderCycleError(PluginValidationError):
    """The ``before``/``after`` constraints of a hook's implementations form a cycle."""


class PluginBlockedError(HookwiseError):
    """A plugin is blocked (``-p no:NAME``) or not in ``HOOKWISE_ALLOWED_PLUGINS``."""


class ConfigError(HookwiseError, ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


class CheckpointError(HookwiseError):
    """A checkpoint file is missing, truncated, corrupt, foreign or of another format version."""


class ManifestChangedWarning(UserWarning):
    """A resumed run differs from the run that wrote its checkpoint (plugins added, removed,
    upgraded or reordered, a parameter, a setting or a version changed): the message names
    each change. Where the change means the saved state cannot be loaded, the resume is an
    error instead, which lists the changes."""


class StateWriteError(HookwiseError, TypeError):
    """A plugin wrote to the read-only trainer state (or its ``metrics``) a hook gave it.

    The state is one view shared by every implementation of the hook call (DESIGN decision
    25), so a write would change what the plugins after it see. :attr:`plugin` and
    :attr:`hook` are set (and the message names them) when the error reaches the plugin's error
    policy; until then the message says "a plugin".
    """

    def __init__(self, write: str) -> None:
        #: What was attempted, as code: ``"set trainer_state['current_epoch']"``.
        self.write = write
        self.plugin: str | None = None
        self.hook: str | None = None
        super().__init__(self._message())

    def blame(self, plugin: str, hook: str) -> None:
        """Name the plugin that wrote and the hook it wrote in (the first blame stays)."""
        if self.plugin is None:
            self.plugin, self.hook = plugin, hook
            self.args = (self._message(),)

    def _message(self) -> str:
        who = f"plugin {self.plugin!r}" if self.plugin is not None else "a plugin"
        where = f" in hook {self.hook!r}" if self.hook is not None else ""
        return (
            f"{who} tried to {self.write}{where}: the trainer state is read-only, one view "
            "shared by every plugin of the hook call (a write would change what the plugins "
            "after it see). Keep the plugin's own values on the plugin (self.<name>); take a "
            "copy to change (dict(trainer_state)); act on the run through the trainer API: "
            "trainer_state['trainer'].request_stop(reason), .log(name, value) or "
            ".log_dict(values) (or return the values from the hook), .save_checkpoint(path)"
        )


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
