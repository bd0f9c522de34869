"""Which attributes of a plugin are hook implementations, and whether they fit their hooks.

pluggy's rules, plus hookwise's: a ``Callback``'s overridden hook methods are implementations
without a marker, and are checked against vis4d's calling convention
(:mod:`hookwise.plugins.convention`); hookwise's marker options (order constraints, triggers)
are checked when a plugin registers. What pluggy finds on a plugin's class is cached per class:
pluggy inspects every attribute of every plugin it registers.
"""

from __future__ import annotations

import inspect
import types
from typing import TYPE_CHECKING, Any

import pluggy

from hookwise.callback import Callback
from hookwise.errors import PluginValidationError
from hookwise.plugins import ordering
from hookwise.plugins.convention import callback_convention
from hookwise.plugins.loading import closest
from hookwise.plugins.triggers import trigger_from_opts

if TYPE_CHECKING:
    from hookwise.plugins.dispatch import OrderedHookCaller

# Class attributes whose hook options do not depend on the instance: plain functions and the
# builtin descriptors every object has. A property, a slot or another descriptor is re-read.
_CACHEABLE = (
    types.FunctionType,
    staticmethod,
    classmethod,
    type(None),
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.BuiltinFunctionType,
    types.ClassMethodDescriptorType,
    types.GetSetDescriptorType,
)


class Finding(pluggy.PluginManager):
    """The part of :class:`~hookwise.PluginManager` that finds and checks implementations (a
    mixin)."""

    _callers: dict[str, OrderedHookCaller]
    _opts_cache: dict[type, dict[str, Any]]

    if TYPE_CHECKING:

        @property
        def hook_names(self) -> tuple[str, ...]: ...

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> pluggy.HookimplOpts | None:
        """pluggy's rule, plus: a ``Callback``'s overridden hook methods are implementations,
        marked or not. Cached per class (pluggy inspects every attribute of every plugin)."""
        if isinstance(plugin, (types.ModuleType, type)) or name in _instance_dict(plugin):
            return self._parse(plugin, name)
        table = self._opts_cache.setdefault(type(plugin), {})
        try:
            opts: pluggy.HookimplOpts | None = table[name]
        except KeyError:
            opts = self._parse(plugin, name)
            static = inspect.getattr_static(type(plugin), name, None)
            if isinstance(static, _CACHEABLE) or not hasattr(type(static), "__get__"):
                table[name] = opts
        return opts

    def _parse(self, plugin: Any, name: str) -> pluggy.HookimplOpts | None:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and self._is_callback_hook(plugin, name):
            opts = pluggy.HookimplOpts(  # pluggy fills in the defaults
                wrapper=False,
                hookwrapper=False,
                optionalhook=False,
                tryfirst=False,
                trylast=False,
                specname=None,
            )
        return opts

    def _is_callback_hook(self, plugin: Any, name: str) -> bool:
        caller = self._callers.get(name)
        return (
            isinstance(plugin, Callback)
            and caller is not None
            and caller.spec is not None
            and getattr(type(plugin), name, None) is not getattr(Callback, name, None)
        )

    def hook_attributes(self, plugin: Any) -> list[tuple[str, Any]]:
        """``(attribute, options)`` of every hook implementation ``plugin`` offers."""
        found = [(a, self.parse_hookimpl_opts(plugin, a)) for a in dir(plugin)]
        return [(attr, opts) for attr, opts in found if opts is not None]

    def hook_implementations(self, plugin: Any) -> list[tuple[str, pluggy.HookImpl, bool]]:
        """``(hook, impl, hook_has_spec)`` for every implementation of a registered plugin."""
        return [
            (caller.name, impl, caller.spec is not None)
            for caller in self._callers.values()
            for _, impl in caller._registered
            if impl.plugin is plugin
        ]

    def pending_implementations(self, plugin: Any) -> list[tuple[str, pluggy.HookImpl]]:
        """``(hook, impl)`` for every implementation of ``plugin`` whose hook has no spec."""
        return [
            (caller.name, impl)
            for caller in self._callers.values()
            if caller.spec is None
            for _, impl in caller._registered
            if impl.plugin is plugin
        ]

    def misspelled_methods(self, plugin: Any) -> list[tuple[str, list[str]]]:
        """A ``Callback``'s ``on_*`` methods that are not hooks but look like one, each with
        the hooks it looks like."""
        if not isinstance(plugin, Callback):
            return []
        found = []
        for attr in dir(type(plugin)):
            if attr.startswith("on_") and attr not in self._callers and not hasattr(Callback, attr):
                close = closest(attr, self.hook_names)
                if close and callable(getattr(type(plugin), attr, None)):
                    found.append((attr, close))
        return found

    def uses_callback_convention(self, impl: pluggy.HookImpl) -> bool:
        """Whether ``impl`` is called as vis4d calls a callback: an unmarked hook method of a
        ``Callback``. A method marked ``@hookimpl`` follows pluggy's rules (by name), as every
        ``@hookimpl`` function does."""
        return isinstance(impl.plugin, Callback) and not self._is_marked(impl.function)

    def _is_marked(self, function: Any) -> bool:
        return getattr(function, f"{self.project_name}_impl", None) is not None

    def _verify_hook(self, hook: pluggy.HookCaller, hookimpl: pluggy.HookImpl) -> None:
        where = f"plugin {hookimpl.plugin_name!r}, hook {hook.name!r}"
        if hook.spec is not None and self.uses_callback_convention(hookimpl):
            self._verify_callback(hook, hookimpl, where)
        else:
            try:
                super()._verify_hook(hook, hookimpl)
            except pluggy.PluginValidationError as exc:
                if isinstance(exc, PluginValidationError) or hook.spec is None:
                    raise
                known = (*hook.spec.argnames, *hook.spec.kwargnames)
                unknown = [a for a in hookimpl.argnames if a not in known]
                problem = (
                    f"argument(s) {unknown} are not arguments of the hook. " if unknown else ""
                )
                raise PluginValidationError(
                    exc.plugin, f"{exc}\n({where}: {problem}It takes: {list(hook.spec.argnames)}.)"
                ) from None
        trigger_from_opts(hookimpl.opts, where, hookimpl.plugin)
        for option in ("before", "after"):
            ordering.names_of(hookimpl.opts.get(option), f"{where}: {option}", hookimpl.plugin)

    def _verify_callback(self, hook: pluggy.HookCaller, impl: pluggy.HookImpl, where: str) -> None:
        wrapper = impl.wrapper or impl.hookwrapper
        problem = None
        if hook.is_historic() and wrapper:
            problem = "historic incompatible with yield/wrapper/hookwrapper"
        elif wrapper and not inspect.isgeneratorfunction(impl.function):
            problem = "declared as wrapper=True or hookwrapper=True but not a generator function"
        elif impl.wrapper and impl.hookwrapper:
            problem = "the wrapper=True and hookwrapper=True options are mutually exclusive"
        if problem is not None:
            raise PluginValidationError(f"{where}: {problem}", plugin=impl.plugin)
        assert hook.spec is not None
        callback_convention(
            hook.name, impl.function, hook.spec.argnames, impl.plugin, impl.plugin_name
        )


def static_attribute(plugin: Any, name: str) -> Any:
    """A plain attribute of ``plugin`` (its class's, or its own), read without running code:
    a property or ``__getattr__`` never decides a plugin's order.

    As ``inspect.getattr_static``; an attribute that is not in the instance's ``__dict__`` is
    read from the classes of its MRO directly (``getattr_static`` costs about 100 times
    that, and call plans read two attributes per implementation)."""
    if isinstance(plugin, type) or name in _instance_dict(plugin):
        value = inspect.getattr_static(plugin, name, None)
    else:
        for klass in type(plugin).__mro__:
            namespace = klass.__dict__
            if name in namespace:
                value = namespace[name]
                break
        else:
            value = None
    return value if isinstance(value, (str, list, tuple, frozenset, set)) else None


def _instance_dict(obj: Any) -> dict[str, Any]:
    try:
        found = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        return {}
    return found if isinstance(found, dict) else {}
