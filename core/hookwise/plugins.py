"""``PluginManager``: discovery, enabling by name, validation, error policy and the call path.

Installed is not enabled. The manager reads the ``hookwise.plugins`` entry points from
metadata when it first needs them and imports a plugin's code only when it is enabled::

    pm = PluginManager()
    pm.enable("early_stopping", monitor="val/loss", patience=3)
    pm.enable("evaluator@top5", evaluator={"target": "..."})   # a second instance
    pm.enable("mypkg.callbacks:MyCallback", threshold=0.5)     # code without an entry point
    pm.hook.on_train_epoch_start(trainer_state=state, model=model, loss_module=loss)

Hooks run in the order plugins were enabled; ``tryfirst``/``trylast`` move an implementation to
the front or the back. ``pm.hook.<name>`` keeps pluggy's calling convention.
"""

from __future__ import annotations

import difflib
import inspect
import logging
import traceback
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pluggy

from hookwise import environment, hookspecs
from hookwise._dispatch import ImplCall, OrderedHookCaller, make_caller
from hookwise.adapters import ADAPTER_GROUP, Adapter, adapt, installed_adapters
from hookwise.callback import Callback
from hookwise.discovery import (
    ENTRY_POINT_GROUP,
    InstalledPlugin,
    installed_plugins,
    normalize_name,
)
from hookwise.environment import ALLOWED_ENV
from hookwise.errors import (
    ConfigError,
    PluginBlockedError,
    PluginLoadError,
    PluginNotFoundError,
    PluginValidationError,
    add_note,
)
from hookwise.targets import resolve

logger = logging.getLogger("hookwise")

ErrorPolicy = Literal["raise", "warn", "disable"]
ERROR_POLICIES: tuple[str, ...] = ("raise", "warn", "disable")
#: Parameters the manager keeps for itself and never passes to a plugin.
RESERVED_PARAMS: tuple[str, ...] = ("on_error",)
#: Parameters a ``Callback`` subclass receives as in vis4d.
CALLBACK_PARAMS: tuple[str, ...] = ("epoch_based", "train_connector", "test_connector")


ImplWrapper = Callable[[ImplCall], Callable[..., Any]]


@dataclass
class HookFailure:
    """A plugin's exception in a hook, as the error policy saw it."""

    plugin: str
    hook: str
    exception: BaseException
    policy: str
    count: int = 1


def split_instance(name: str) -> tuple[str, str | None]:
    """``"evaluator@coco"`` -> ``("evaluator", "coco")``."""
    base, sep, instance = name.partition("@")
    return base, (instance if sep else None)


def _is_import_path(name: str) -> bool:
    return ":" in name


def _closest(name: str, candidates: Iterable[str]) -> list[str]:
    return difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)


def _allowed_from_env() -> frozenset[str] | None:
    names = environment.allowed_plugins()
    return None if names is None else frozenset(normalize_name(n) for n in names)


class PluginManager(pluggy.PluginManager):
    """hookwise's plugin manager (a ``pluggy.PluginManager`` with the ``hookwise`` specs).

    :param group: the entry-point group plugins are discovered in.
    :param allowed: names that may be enabled (``None``: any). Defaults to the comma-separated
        ``HOOKWISE_ALLOWED_PLUGINS`` environment variable, a security control that binds the
        Python API too.
    """

    def __init__(
        self, group: str = ENTRY_POINT_GROUP, *, allowed: Iterable[str] | None = None
    ) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.group = group
        self.allowed: frozenset[str] | None = (
            frozenset(normalize_name(a) for a in allowed)
            if allowed is not None
            else _allowed_from_env()
        )
        self._installed: list[InstalledPlugin] | None = None
        self._adapters: list[InstalledPlugin] | None = None
        self._adapter_cache: dict[str, Adapter] = {}
        self._sequence: dict[str, int] = {}
        self._counter = 0
        self._blocked: set[str] = set()
        self._policies: dict[str, str] = {}
        self._impl_wrappers: list[ImplWrapper] = []
        self._callers: dict[str, OrderedHookCaller] = {}
        #: Failures the error policy tolerated, by plugin name.
        self.failures: dict[str, HookFailure] = {}
        #: The last failure the error policy saw (tolerated or not).
        self.last_failure: HookFailure | None = None
        #: Called with every tolerated failure (the trainer runs ``on_exception(fatal=False)``).
        self.on_tolerated_failure: Callable[[HookFailure], None] | None = None
        #: Returns where the run is ("epoch 1, step 40"), for error messages.
        self.describe_position: Callable[[], str] = lambda: ""
        self.add_hookspecs(hookspecs)

    # -- specs and the call path ------------------------------------------------------------------

    def add_hookspecs(self, module_or_class: types.ModuleType | type) -> None:
        """Add hook specifications; every hook gets hookwise's ordered, fast caller."""
        for name in dir(module_or_class):
            is_spec = self.parse_hookspec_opts(module_or_class, name) is not None
            if is_spec and getattr(self.hook, name, None) is None:
                caller = make_caller(name, self._hookexec, self)
                setattr(self.hook, name, caller)
                self._callers[name] = caller
        super().add_hookspecs(module_or_class)

    @property
    def hook_names(self) -> tuple[str, ...]:
        """The names of every specified hook."""
        return tuple(self._callers)

    def caller(self, hook: str) -> OrderedHookCaller:
        """The caller of ``hook`` (``pm.hook.<hook>``)."""
        return self._callers[hook]

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> pluggy.HookimplOpts | None:
        """A ``Callback``'s overridden hook methods are hook implementations, marked or not."""
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and isinstance(plugin, Callback) and name in self._callers:
            overrides = getattr(type(plugin), name, None) is not getattr(Callback, name, None)
            if overrides:
                return pluggy.HookimplOpts(  # pluggy fills in the defaults
                    wrapper=False,
                    hookwrapper=False,
                    optionalhook=False,
                    tryfirst=False,
                    trylast=False,
                    specname=None,
                )
        return opts

    def add_impl_wrapper(self, wrapper: ImplWrapper) -> None:
        """Wrap every implementation's function (profiling, recording); rebuilds the calls.

        ``wrapper(call)`` gets an :class:`~hookwise._dispatch.ImplCall` and returns the function
        to call in its place, with the same calling convention.
        """
        self._impl_wrappers.append(wrapper)
        self._rebuild()

    def remove_impl_wrapper(self, wrapper: ImplWrapper) -> None:
        """Undo :meth:`add_impl_wrapper`; the call path is as fast as before."""
        self._impl_wrappers.remove(wrapper)
        self._rebuild()

    def _impl_call(self, hook: str, impl: pluggy.HookImpl) -> ImplCall:
        function = impl.function
        argnames = tuple(impl.argnames)
        by_keyword = False
        caller = self._callers[hook]
        spec_args = caller.spec.argnames if caller.spec is not None else ()
        if isinstance(impl.plugin, Callback):
            # A Callback method receives every argument of its hook, defaults included.
            params = list(inspect.signature(function).parameters.values())
            variadic = any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)
            named = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
            if variadic:
                argnames, by_keyword = tuple(spec_args), True
            else:
                argnames = tuple(n for n in named if n in spec_args)
                positional = [p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
                by_keyword = positional[: len(argnames)] != list(argnames)
        wrapper = "new" if impl.wrapper else ("old" if impl.hookwrapper else None)
        call = ImplCall(
            hook, impl.plugin_name, function, argnames, by_keyword, wrapper, impl.plugin
        )
        for wrap in self._impl_wrappers:
            if wrapper is None:
                call = ImplCall(
                    hook, call.plugin_name, wrap(call), argnames, by_keyword, None, impl.plugin
                )
        return call

    def _order_key(self, impl: pluggy.HookImpl) -> tuple[int, int]:
        group = 0 if impl.tryfirst else (2 if impl.trylast else 1)
        return group, self._sequence.get(impl.plugin_name, 0)

    def _rebuild(self) -> None:
        for hook, caller in self._callers.items():
            impls = sorted(caller.get_hookimpls(), key=self._order_key)
            calls = [self._impl_call(hook, i) for i in impls if not (i.wrapper or i.hookwrapper)]
            wrappers = [self._impl_call(hook, i) for i in impls if i.wrapper or i.hookwrapper]
            caller.set_calls(calls, wrappers)

    def hook_order(self, hook: str) -> list[str]:
        """The plugin names ``hook`` calls, in call order (wrappers first, outermost first)."""
        caller = self._callers[hook]
        return [c.plugin_name for c in caller.wrappers] + [c.plugin_name for c in caller.calls]

    # -- registration -----------------------------------------------------------------------------

    def register(
        self, plugin: Any, name: str | None = None, *, on_error: str = "raise"
    ) -> str | None:
        """Register a plugin object after validating it against the hookspecs.

        :param plugin: a ``Callback``, a module or any object with ``@hookimpl`` functions.
        :param name: its unique name (default: pluggy's canonical name).
        :param on_error: the error policy, ``"raise"`` (default), ``"warn"`` or ``"disable"``.
        :raises PluginValidationError: a misspelled hook, or an argument the hook lacks.
        """
        if on_error not in ERROR_POLICIES:
            raise ConfigError(
                f"plugin {name or plugin!r}: on_error must be one of {list(ERROR_POLICIES)}, "
                f"got {on_error!r}"
            )
        plugin_name = name or self.get_canonical_name(plugin)
        self._validate(plugin, plugin_name)
        registered = super().register(plugin, plugin_name)
        if registered is None:
            return None
        self._counter += 1
        self._sequence[registered] = self._counter
        self._policies[registered] = on_error
        self._rebuild()
        return registered

    def unregister(self, plugin: Any | None = None, name: str | None = None) -> Any | None:
        """Unregister a plugin (by object or name); the call path is rebuilt."""
        if name is None and plugin is not None:
            name = self.get_name(plugin)
        removed = super().unregister(plugin=plugin, name=name)
        if name is not None:
            self._sequence.pop(name, None)
        self._rebuild()
        return removed

    def plugin_names(self) -> list[str]:
        """Registered plugin names, in the order they were enabled."""
        return sorted(self._sequence, key=self._sequence.__getitem__)

    def is_active(self, name: str) -> bool:
        """Whether a plugin of that name is registered."""
        return name in self._sequence

    def _validate(self, plugin: Any, plugin_name: str) -> None:
        """Raise a clear error for a misspelled hook or an argument its hook does not have."""
        for attr in dir(plugin):
            opts = self.parse_hookimpl_opts(plugin, attr)
            if opts is None:
                if (
                    isinstance(plugin, Callback)
                    and attr.startswith("on_")
                    and attr not in self._callers
                ):
                    close = _closest(attr, self._callers)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    warnings.warn(
                        f"plugin {plugin_name!r}: method {attr!r} is not a hookwise hook and is "
                        f"never called by the trainer{hint}",
                        stacklevel=3,
                    )
                continue
            hook = opts.get("specname") or attr
            if hook not in self._callers:
                close = _closest(hook, self._callers)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise PluginValidationError(
                    f"plugin {plugin_name!r}: {attr!r} is marked @hookimpl but there is no hook "
                    f"named {hook!r}.{hint} Run `hookwise hooks` to list them."
                )
            function = getattr(plugin, attr)
            argnames = _required_args(function)
            caller = self._callers[hook]
            spec_args = caller.spec.argnames if caller.spec is not None else ()
            unknown = [a for a in argnames if a not in spec_args]
            if unknown:
                raise PluginValidationError(
                    f"plugin {plugin_name!r}, hook {hook!r}: argument(s) {unknown} are not "
                    f"arguments of the hook. It takes: {list(spec_args)}."
                )

    # -- error policy -----------------------------------------------------------------------------

    def error_policy(self, name: str) -> str:
        """The error policy of plugin ``name`` (``"raise"`` unless enabled otherwise)."""
        return self._policies.get(name, "raise")

    def set_error_policy(self, name: str, policy: str) -> None:
        """Change a registered plugin's error policy."""
        if policy not in ERROR_POLICIES:
            raise ConfigError(f"plugin {name!r}: on_error must be one of {list(ERROR_POLICIES)}")
        self._policies[name] = policy

    def handle_failure(self, hook: str, plugin: str, exc: Exception) -> None:
        """Apply ``plugin``'s error policy to ``exc`` raised in ``hook``.

        ``raise`` re-raises ``exc`` with a note naming the plugin, the hook and the position;
        ``warn`` logs the first failure with its traceback and counts the rest; ``disable``
        logs it and unregisters the plugin. Tolerated failures go to
        :attr:`on_tolerated_failure`.
        """
        policy = self.error_policy(plugin)
        position = self.describe_position()
        where = f"plugin {plugin!r} failed in hook {hook!r}" + (
            f" at {position}" if position else ""
        )
        add_note(exc, where)
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
                else ("training goes on; later failures of this plugin are counted")
            )
            logger.warning("%s (on_error=%s): %s\n%s", where, policy, action, trace)
        if policy == "disable" and self.is_active(plugin):
            self.unregister(name=plugin)
        if self.on_tolerated_failure is not None:
            self.on_tolerated_failure(failure)

    # -- discovery and enabling -------------------------------------------------------------------

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
            close = _closest(name, names) or _closest(key, [normalize_name(n) for n in names])
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            listing = ", ".join(names) if names else "none"
            raise PluginNotFoundError(
                f"no installed hookwise plugin is named {name!r}.{hint} Installed: {listing}. "
                f"Install the plugin's distribution with pip, or give an import path "
                f"'package.module:Object'."
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
        return adapt(self, obj, label, self.installed_adapters(), self._adapter_cache)

    def enable_object(self, obj: Any, name: str | None = None, *, on_error: str = "raise") -> str:
        """Enable an already-built plugin object (vis4d's ``callbacks=[...]``); return its name.

        An object without hookwise hooks is first offered to the installed adapters
        (:meth:`adapt`). ``name`` defaults to the object's class name (``Name#2`` for a second
        one).
        """
        plugin_name = name or self._free_name(type(obj).__name__)
        plugin = self.adapt(obj, plugin_name)
        registered = self.register(plugin, plugin_name, on_error=on_error)
        if registered is None:  # pluggy: a blocked name
            raise PluginBlockedError(f"plugin {plugin_name!r} is blocked; it cannot be enabled")
        return registered

    def _free_name(self, base: str) -> str:
        name, count = base, 1
        while self.get_plugin(name) is not None:
            count += 1
            name = f"{base}#{count}"
        return name

    def block(self, name: str) -> None:
        """Stop plugin ``name`` (and all its instances) from ever loading; unregister it now."""
        base, _ = split_instance(name)
        self._blocked.add(normalize_name(base))
        for registered in self.plugin_names():
            if normalize_name(split_instance(registered)[0]) == normalize_name(base):
                self.unregister(name=registered)

    def is_blocked(self, name: str) -> bool:
        """Whether ``name`` (or its base name) is blocked by :meth:`block`."""
        base, _ = split_instance(name)
        return normalize_name(base) in self._blocked or super().is_blocked(name)

    def _check_allowed(self, base: str) -> None:
        if self.is_blocked(base):
            raise PluginBlockedError(
                f"plugin {base!r} is blocked (-p no:{base}); it cannot be enabled"
            )
        if self.allowed is not None and normalize_name(base) not in self.allowed:
            raise PluginBlockedError(
                f"plugin {base!r} is not in the allow-list {sorted(self.allowed)} "
                f"({ALLOWED_ENV} or the config's allowed_plugins); add it there to enable it"
            )

    def load_target(self, name: str) -> tuple[Any, str, InstalledPlugin | None]:
        """Import what plugin ``name`` points at; return ``(object, canonical_name, info)``."""
        base, _ = split_instance(name)
        self._check_allowed(base)
        if _is_import_path(base):
            return _import_object(base), base, None
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
        ``@hookimpl`` functions (no params). A built object without hookwise hooks (a callback
        written for another trainer) is offered to the installed adapters (:meth:`adapt`).
        ``on_error`` is the error policy and is never passed on.

        :raises PluginNotFoundError, PluginLoadError, PluginBlockedError, ConfigError,
            PluginValidationError: with the plugin, the distribution and the fix named.
        """
        on_error = str(params.pop("on_error", "raise"))
        _, instance = split_instance(name)
        target, canonical, info = self.load_target(name)
        registered_name = f"{canonical}@{instance}" if instance else canonical
        if self.get_plugin(registered_name) is not None:
            raise ConfigError(
                f"plugin {registered_name!r} is already enabled; enable a second instance as "
                f"'{canonical}@NAME'"
            )
        built = _build(target, params, registered_name, info)
        objects = [self.adapt(obj, registered_name) for obj in built]
        names: list[str] = []
        try:
            for index, obj in enumerate(objects):
                plugin_name = registered_name if index == 0 else f"{registered_name}#{index}"
                registered = self.register(obj, plugin_name, on_error=on_error)
                if registered is not None:
                    names.append(registered)
        except Exception:
            for registered in names:
                self.unregister(name=registered)
            raise
        return names

    # -- state ------------------------------------------------------------------------------------

    def plugins_with_state(self) -> Iterator[tuple[str, Any]]:
        """``(name, plugin)`` for every registered plugin that has ``state_dict``."""
        for name in self.plugin_names():
            plugin = self.get_plugin(name)
            if callable(getattr(plugin, "state_dict", None)) and not isinstance(
                plugin, types.ModuleType
            ):
                yield name, plugin

    def state_dict(self) -> dict[str, Any]:
        """Every plugin's ``state_dict()``, under its name."""
        return {name: plugin.state_dict() for name, plugin in self.plugins_with_state()}

    def load_state_dict(self, states: Mapping[str, Any]) -> list[str]:
        """Give each registered plugin its saved state; return the names that had none saved."""
        missing = []
        for name, plugin in self.plugins_with_state():
            if name in states:
                if callable(getattr(plugin, "load_state_dict", None)):
                    plugin.load_state_dict(states[name])
            else:
                missing.append(name)
        return missing


def _required_args(function: Any) -> list[str]:
    """The positional parameters of ``function`` that have no default (``self`` excluded)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]


def _import_object(path: str) -> Any:
    try:
        return resolve(path, where=f"plugin {path!r}")
    except ConfigError as exc:
        raise PluginLoadError(str(exc)) from exc


def accepted_params(target: Any) -> tuple[list[str], bool]:
    """The keyword parameters ``target`` accepts, and whether it accepts any (``**kwargs``).

    For a ``Callback`` subclass whose constructor forwards ``**kwargs`` (vis4d style), the
    base class's ``epoch_based``, ``train_connector`` and ``test_connector`` count as accepted.
    A class that checks its ``**kwargs`` itself (they are not forwarded) says so with the class
    attribute ``accepts_extra_params = True``.
    """
    function = target.__init__ if inspect.isclass(target) else target
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return [], True
    names = [
        p.name
        for p in parameters
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in ("self", "cls")
    ]
    var_keyword = any(p.kind == p.VAR_KEYWORD for p in parameters)
    if inspect.isclass(target) and getattr(target, "accepts_extra_params", False) is True:
        return names, var_keyword
    if inspect.isclass(target) and issubclass(target, Callback) and var_keyword:
        for base in target.__mro__[1:]:
            if base is object:
                break
            base_names, base_var = (
                accepted_params(base) if base is not Callback else (list(CALLBACK_PARAMS), False)
            )
            names += [n for n in base_names if n not in names]
            if not base_var:
                return names, False
    return names, var_keyword


def _build(
    target: Any, params: dict[str, Any], name: str, info: InstalledPlugin | None
) -> list[Any]:
    """Turn a loaded entry-point target into plugin objects."""
    origin = f" (distribution {info.distribution} {info.version})" if info else ""
    if isinstance(target, types.ModuleType) or not callable(target) or _has_hookimpls(target):
        if params:
            raise ConfigError(
                f"plugin {name!r}{origin} takes no parameters (it is a module or object of "
                f"@hookimpl functions), got {sorted(params)}"
            )
        return [target]
    accepted, any_keyword = accepted_params(target)
    unknown = [p for p in params if p not in accepted] if not any_keyword else []
    if unknown:
        raise ConfigError(
            f"plugin {name!r}{origin} has no parameter(s) {unknown}. "
            f"It accepts: {accepted or 'no parameters'}."
        )
    try:
        built = target(**params)
    except (TypeError, ValueError, AssertionError, ConfigError) as exc:
        raise ConfigError(
            f"plugin {name!r}{origin} could not be built with {params!r}: "
            f"{type(exc).__name__}: {exc}. It accepts: {accepted or 'no parameters'}."
        ) from exc
    except Exception as exc:
        raise PluginLoadError(
            f"plugin {name!r}{origin} raised while being built: {type(exc).__name__}: {exc}"
        ) from exc
    if isinstance(built, (list, tuple)):
        return list(built)
    if built is None:
        raise PluginLoadError(f"plugin factory {name!r}{origin} returned None, not a plugin object")
    return [built]


def _has_hookimpls(obj: Any) -> bool:
    """Whether ``obj`` (not a class) is an object carrying hook methods itself."""
    if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismethod(obj):
        return False
    if isinstance(obj, Callback):
        return True
    marker = f"{hookspecs.PROJECT_NAME}_impl"
    return any(hasattr(getattr(obj, n, None), marker) for n in dir(obj) if not n.startswith("__"))
