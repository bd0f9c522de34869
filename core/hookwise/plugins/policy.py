"""What may run, and what happens when a plugin fails: the allow-list and the error policies.

**Allow-list** (DESIGN decision 17). With an allow-list set (``HOOKWISE_ALLOWED_PLUGINS``, a
config's ``allowed_plugins``, ``PluginManager(allowed=...)``), everything imported or called
because of configuration must be on it: plugin names (entry-point names, folded as pip folds
project names) and import paths (``{target = "..."}`` values, ``package.module:Object`` plugins),
compared exactly, where a module prefix matches only at a dot (``torch.optim`` allows
``torch.optim:SGD``, not ``torch_x``). :func:`hookwise.environment.allowed_plugins` is the
one reader of the variable. While the loader builds a plugin, :func:`enforcing` makes the list
active, so :func:`hookwise.targets.resolve` checks every import path a plugin's parameters make
it import.

**Error policies.** ``raise`` (the default) re-raises a plugin's exception with a note naming
the plugin, the hook and the position; ``warn`` logs the first failure with its traceback and
counts the rest; ``disable`` logs it and unregisters the plugin.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hookwise import environment
from hookwise.environment import ALLOWED_ENV
from hookwise.errors import ConfigError, PluginBlockedError, StateWriteError, add_note
from hookwise.plugins.discovery import normalize_name

logger = logging.getLogger("hookwise")

ErrorPolicy = Literal["raise", "warn", "disable"]
ERROR_POLICIES: tuple[str, ...] = ("raise", "warn", "disable")


def allowed_from_env(environ: Mapping[str, str] | None = None) -> list[str] | None:
    """The entries of ``HOOKWISE_ALLOWED_PLUGINS``, or ``None`` (read by
    :func:`hookwise.environment.allowed_plugins`, the one reader of the variable)."""
    return environment.allowed_plugins(environ)


def is_import_path(name: str) -> bool:
    """Whether a plugin name is an import path or a file (``:``, ``/`` or ``.py``), compared
    exactly, rather than an entry-point name (DESIGN decision 26)."""
    return ":" in name or "/" in name or name.endswith(".py")


def _dotted(path: str) -> str:
    return path.replace(":", ".")


@dataclass(frozen=True)
class AllowList:
    """An allow-list (see the module docstring).

    :param entries: plugin names and import paths or module prefixes, as written.
    :param implicit: import paths allowed without being written (the embedded default job's
        own targets); left out of messages.
    """

    entries: tuple[str, ...]
    implicit: tuple[str, ...] = ()

    @classmethod
    def of(cls, entries: Iterable[str] | None) -> AllowList | None:
        """The allow-list of ``entries`` (``None``: no allow-list)."""
        return None if entries is None else cls(tuple(entries))

    def allows_plugin(self, name: str) -> bool:
        """Whether plugin ``name`` (or its base name, before ``@``) may be enabled. A file
        plugin is allowed by an entry naming its file (every plugin of it) or the file and its
        object, compared by resolved path."""
        from hookwise.plugins import files

        base = name.partition("@")[0]
        if files.is_file_spec(base):
            return any(files.covers(entry, base) for entry in self.entries)
        if is_import_path(base):
            return self.allows_import(base)
        return normalize_name(base) in {normalize_name(e) for e in self.entries}

    def allows_import(self, path: str) -> bool:
        """Whether import path ``path`` may be imported: an entry equal to it, or a module
        prefix of it ending at a dot (``:`` counts as a dot)."""
        wanted = _dotted(path)
        return any(
            wanted == _dotted(entry) or wanted.startswith(_dotted(entry) + ".")
            for entry in (*self.entries, *self.implicit)
        )

    def check_plugin(self, name: str) -> None:
        """:raises PluginBlockedError: ``name`` is not allowed (the message says what to add)."""
        if not self.allows_plugin(name):
            base = name.partition("@")[0]
            raise PluginBlockedError(
                f"plugin {base!r} is not in the allow-list {sorted(self.entries)} ({ALLOWED_ENV} "
                f"or the config's allowed_plugins); add {base!r} there to enable it"
            )

    def check_import(self, path: str, where: str) -> None:
        """:raises PluginBlockedError: ``path`` is not allowed (the message says what to add)."""
        if not self.allows_import(path):
            module = path.partition(":")[0]
            raise PluginBlockedError(
                f"{where}: import path {path!r} is not in the allow-list {sorted(self.entries)} "
                f"({ALLOWED_ENV} or the config's allowed_plugins); add {path!r} (or its module "
                f"{module!r}) there to allow it"
            )


_ACTIVE: contextvars.ContextVar[AllowList | None] = contextvars.ContextVar(
    "hookwise_allow_list", default=None
)


@contextlib.contextmanager
def enforcing(allow: AllowList | None) -> Iterator[None]:
    """Within the block, :func:`check_import` checks import paths against ``allow``."""
    token = _ACTIVE.set(allow)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def check_import(path: str, where: str) -> None:
    """Check ``path`` against the allow-list made active by :func:`enforcing` (if any).

    :raises PluginBlockedError: it is not allowed.
    """
    allow = _ACTIVE.get()
    if allow is not None:
        allow.check_import(path, where)


# -- error policies ---------------------------------------------------------------------------


@dataclass
class HookFailure:
    """A plugin's exception in a hook, as the error policy saw it."""

    plugin: str
    hook: str
    exception: BaseException
    policy: str
    count: int = 1


def check_policy(policy: Any, plugin: Any) -> str:
    """:raises ConfigError: ``policy`` is not one of :data:`ERROR_POLICIES`."""
    if policy not in ERROR_POLICIES:
        raise ConfigError(
            f"plugin {plugin!r}: on_error must be one of {list(ERROR_POLICIES)}, got {policy!r}"
        )
    return str(policy)


class ErrorPolicies:
    """The error-policy part of :class:`~hookwise.PluginManager` (a mixin)."""

    #: Failures the error policy tolerated, by plugin name.
    failures: dict[str, HookFailure]
    #: The last failure the error policy saw (tolerated or not).
    last_failure: HookFailure | None
    #: Called with every tolerated failure (the trainer runs ``on_exception(fatal=False)``).
    on_tolerated_failure: Callable[[HookFailure], None] | None
    #: Returns where the run is ("epoch 1, step 40"), for error messages.
    describe_position: Callable[[], str]
    _policies: dict[str, str]

    def _init_policies(self) -> None:
        self.failures = {}
        self.last_failure = None
        self.on_tolerated_failure = None
        self.describe_position = lambda: ""
        self._policies = {}

    def _policy_changed(self, name: str) -> None:
        """Hook for the manager: a plugin's policy changed (its trampolines must follow)."""

    def _disable(self, name: str) -> None:
        """Hook for the manager: unregister ``name`` (the ``disable`` policy)."""

    def error_policy(self, name: str) -> str:
        """The error policy of plugin ``name`` (``"raise"`` unless enabled otherwise)."""
        return self._policies.get(name, "raise")

    def set_error_policy(self, name: str, policy: str) -> None:
        """Change a registered plugin's error policy."""
        self._policies[name] = check_policy(policy, name)
        self._policy_changed(name)

    def handle_failure(self, hook: str, plugin: str, exc: Exception) -> None:
        """Apply ``plugin``'s error policy to ``exc`` raised in ``hook`` (see the module
        docstring); tolerated failures go to :attr:`on_tolerated_failure`."""
        policy = self.error_policy(plugin)
        position = self.describe_position()
        where = f"plugin {plugin!r} failed in hook {hook!r}" + (
            f" at {position}" if position else ""
        )
        add_note(exc, where)
        if isinstance(exc, StateWriteError):  # its message names the plugin that wrote
            exc.blame(plugin, hook)
        failure = self.failures.get(plugin)
        if policy == "raise" or failure is None:
            failure = HookFailure(plugin, hook, exc, policy)
        else:
            failure.count += 1
            failure.exception, failure.hook = exc, hook
        self.last_failure = failure
        if policy == "raise":
            raise exc
        self.failures[plugin] = failure
        if failure.count == 1:
            trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            action = (
                "it is disabled for the rest of the run"
                if policy == "disable"
                else "training goes on; later failures of this plugin are counted"
            )
            logger.warning("%s (on_error=%s): %s\n%s", where, policy, action, trace)
        if policy == "disable":
            self._disable(plugin)
        if self.on_tolerated_failure is not None:
            self.on_tolerated_failure(failure)
