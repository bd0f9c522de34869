"""``PluginManager``: a ``pluggy.PluginManager`` with hookwise's specs, order and call path.

Installed is not enabled. The manager reads the ``hookwise.plugins`` entry points from
metadata when it first needs them and imports a plugin's code only when it is enabled::

    pm = PluginManager()
    pm.enable("early_stopping", monitor="val/loss", patience=3)
    pm.enable("evaluator@top5", evaluator={"target": "..."})   # a second instance
    pm.enable("mypkg.callbacks:MyCallback", threshold=0.5)     # code without an entry point
    pm.hook.on_train_epoch_start(trainer_state=state, model=model, loss_module=loss)

pluggy's documented behaviour holds (pluggy's own test suite runs against this class), with one
difference: implementations run in hookwise's order (enabled order, ``tryfirst``/``trylast``,
named ``before``/``after`` constraints; wrappers as pluggy, the first enabled outermost) on
every call path. ``register`` follows pluggy's rules; :meth:`enable` and :meth:`enable_object`
are the one way hookwise enables plugins, with its stricter checks
(:mod:`hookwise.plugins.loading`).
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pluggy
from pluggy._callers import _multicall

from hookwise import hookspecs as _hookspecs
from hookwise.errors import PluginValidationError
from hookwise.plugins import ordering, policy
from hookwise.plugins.codegen import ImplCall
from hookwise.plugins.discovery import ENTRY_POINT_GROUP
from hookwise.plugins.dispatch import OrderedHookCaller, make_caller
from hookwise.plugins.finding import Finding, static_attribute
from hookwise.plugins.loading import Loading, closest
from hookwise.plugins.plan import ImplWrapper
from hookwise.plugins.policy import ErrorPolicies
from hookwise.plugins.state import PluginState

_DEFAULT: Any = object()


class PluginManager(Finding, PluginState, Loading, ErrorPolicies, pluggy.PluginManager):
    """hookwise's plugin manager (see the module docstring).

    :param group: the entry-point group plugins are discovered in.
    :param allowed: the allow-list (plugin names and import paths; ``None``: any). Defaults to
        ``HOOKWISE_ALLOWED_PLUGINS``, a security control that binds the Python API too.
    :param project_name: the pluggy project name (markers ``<project>_impl``).
    :param hookspecs: the module or class of hook specifications (default: hookwise's;
        ``None``: none, add them with :meth:`add_hookspecs`).
    """

    def __init__(
        self,
        group: str = ENTRY_POINT_GROUP,
        *,
        allowed: Iterable[str] | None = None,
        project_name: str = _hookspecs.PROJECT_NAME,
        hookspecs: Any = _DEFAULT,
    ) -> None:
        self._callers: dict[str, OrderedHookCaller] = {}
        super().__init__(project_name)
        self.group = group
        self.allow_list = policy.AllowList.of(
            allowed if allowed is not None else policy.allowed_from_env()
        )
        self._installed = None
        self._blocked = set()
        self._adapters = None
        self._adapter_cache = {}
        self._origins = {}
        self._init_policies()
        self._impl_wrappers: list[ImplWrapper] = []
        self._opts_cache: dict[type, dict[str, Any]] = {}
        self._order_rules: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        # plugin_constraints per (name, plugin id), shared by the plans built between two
        # changes (the plans of a fit's hooks read the same plugins' constraints)
        self._constraint_memo: dict[tuple[str, int], tuple[Any, Any]] = {}
        if hookspecs is _DEFAULT:
            self.add_hookspecs(_hookspecs)
        elif hookspecs is not None:
            self.add_hookspecs(hookspecs)

    # -- pluggy's machinery, hookwise's callers -------------------------------------------------

    @property
    def _inner_hookexec(self) -> Any:
        return self.__dict__["_hookwise_inner_hookexec"]

    @_inner_hookexec.setter
    def _inner_hookexec(self, value: Any) -> None:
        # A monitor (add_hookcall_monitoring, enable_tracing) must see every call: the callers
        # leave their generated code and run pluggy's path until it is removed.
        self.__dict__["_hookwise_inner_hookexec"] = value
        self._invalidate_all()

    def monitored(self) -> bool:
        """Whether a hook-call monitor is installed."""
        return self._inner_hookexec is not _multicall

    def _hookexec(
        self,
        hook_name: str,
        methods: Sequence[pluggy.HookImpl],
        kwargs: Mapping[str, object],
        firstresult: bool,
    ) -> Any:
        try:
            return self._inner_hookexec(hook_name, methods, kwargs, firstresult)
        except Exception as exc:
            blamed = self._blame(hook_name, methods, exc)
            if blamed is not None and self.error_policy(blamed) == "raise":
                self.handle_failure(hook_name, blamed, exc)
            raise

    def _blame(
        self, hook_name: str, methods: Sequence[pluggy.HookImpl], exc: BaseException
    ) -> str | None:
        """The plugin whose implementation raised ``exc``: the innermost frame of the
        traceback that runs one of ``methods`` (no bookkeeping on the success path)."""
        caller = self._callers.get(hook_name)
        origins = caller.plan().origins if caller is not None and caller._plan else {}
        codes: dict[Any, list[pluggy.HookImpl]] = {}
        for method in methods:
            call = origins.get(id(method))
            function = call.origin if call is not None else method.function
            code = getattr(getattr(function, "__func__", function), "__code__", None)
            codes.setdefault(code, []).append(method)
        blamed = None
        tb = exc.__traceback__
        while tb is not None:
            for method in codes.get(tb.tb_frame.f_code, ()):
                owner = tb.tb_frame.f_locals.get("self", method.plugin)
                if owner is method.plugin or len(codes[tb.tb_frame.f_code]) == 1:
                    blamed = method.plugin_name
            tb = tb.tb_next
        return blamed

    def _new_caller(self, name: str) -> OrderedHookCaller:
        caller = make_caller(name, self._hookexec, self)
        setattr(self.hook, name, caller)
        self._callers[name] = caller
        return caller

    def _invalidate_all(self) -> None:
        self.__dict__.get("_constraint_memo", {}).clear()
        for caller in self.__dict__.get("_callers", {}).values():
            caller.invalidate()

    def add_hookspecs(self, module_or_class: types.ModuleType | type) -> None:
        """Add hook specifications (pluggy's); every hook gets hookwise's caller."""
        for name in dir(module_or_class):
            spec = self.parse_hookspec_opts(module_or_class, name)
            if spec is not None and getattr(self.hook, name, None) is None:
                self._new_caller(name)
        self._opts_cache.clear()  # a Callback's methods are implementations of known hooks
        super().add_hookspecs(module_or_class)

    @property
    def hook_names(self) -> tuple[str, ...]:
        """The names of every specified hook."""
        return tuple(name for name, caller in self._callers.items() if caller.spec is not None)

    def caller(self, hook: str) -> OrderedHookCaller:
        """The caller of ``hook`` (``pm.hook.<hook>``), with the trainer's path:
        ``call_ordered(**kwargs)``, ``call_attributed(**kwargs)`` and ``implemented``."""
        return self._callers[hook]

    def hook_order(self, hook: str) -> ordering.HookOrder:
        """The plugin names ``hook`` calls, in call order (wrappers first, outermost first),
        with the reason for each position (:class:`~hookwise.plugins.ordering.HookOrder`)."""
        return self._callers[hook].order

    # -- registration ---------------------------------------------------------------------------

    def register(
        self, plugin: Any, name: str | None = None, *, on_error: str = "raise"
    ) -> str | None:
        """Register a plugin object, as pluggy does (an unknown hook is pending until its spec
        is added; :meth:`check_pending` reports it).

        :param plugin: a ``Callback``, a module or any object with ``@hookimpl`` functions.
        :param name: its unique name (default: pluggy's canonical name).
        :param on_error: the error policy, ``"raise"`` (default), ``"warn"`` or ``"disable"``.
        """
        if plugin is None:
            return super().register(plugin, name)
        self._constraint_memo.clear()
        plugin_name = name or self.get_canonical_name(plugin)
        policy.check_policy(on_error, plugin_name)
        for option in ("run_before", "run_after"):
            ordering.names_of(
                static_attribute(plugin, option), f"plugin {plugin_name!r}: {option}", plugin
            )
        for method, close in self.misspelled_methods(plugin):
            warnings.warn(
                f"plugin {plugin_name!r}: method {method!r} is not a hookwise hook and is never "
                f"called by the trainer; did you mean {close[0]!r}?",
                stacklevel=2,
            )
        created = [
            self._new_caller(hook)
            for hook in {
                opts.get("specname") or attr for attr, opts in self.hook_attributes(plugin)
            }
            if getattr(self.hook, hook, None) is None
        ]
        had_policy = plugin_name in self._policies
        self._policies.setdefault(plugin_name, on_error)
        try:
            registered = super().register(plugin, name)
        except BaseException:
            for caller in created:
                delattr(self.hook, caller.name)
                del self._callers[caller.name]
            if not had_policy:
                self._policies.pop(plugin_name, None)
            raise
        if registered is not None:
            self._policies[registered] = on_error
        return registered

    def unregister(self, plugin: Any | None = None, name: str | None = None) -> Any | None:
        """Unregister a plugin (by object or name), as pluggy does."""
        if name is None and plugin is not None:
            name = self.get_name(plugin)
        self._constraint_memo.clear()
        removed = super().unregister(plugin=plugin, name=name)
        if name is not None and self.get_plugin(name) is None:
            self._policies.pop(name, None)
        return removed

    def check_pending(self) -> None:
        """pluggy's ``check_pending``; the error also names the closest hook."""
        for name, hook in list(self.hook.__dict__.items()):
            if name[0] == "_" or hook.has_spec():
                continue
            for impl in hook.get_hookimpls():
                if not impl.optionalhook:
                    close = closest(name, self.hook_names)
                    hint = f" Did you mean {close[0]!r}?" if close else ""
                    raise PluginValidationError(
                        impl.plugin, f"unknown hook {name!r} in plugin {impl.plugin!r}.{hint}"
                    )

    def plugin_names(self) -> list[str]:
        """Registered plugin names, in the order they were enabled."""
        return [name for name, plugin in self.list_name_plugin() if plugin is not None]

    def is_active(self, name: str) -> bool:
        """Whether a plugin of that name is registered."""
        return self.get_plugin(name) is not None

    def _disable(self, name: str) -> None:
        if self.is_active(name):
            self.unregister(name=name)

    def _policy_changed(self, name: str) -> None:
        self._invalidate_all()

    # -- order ----------------------------------------------------------------------------------

    def set_order(self, name: str, *, before: Any = None, after: Any = None) -> None:
        """Constrain every hook of plugin ``name`` to run before/after the named plugins (the
        config keys ``run_before``/``run_after``); empty lists remove the constraints."""
        rule = (
            ordering.names_of(before, f"plugin {name!r}: run_before", None),
            ordering.names_of(after, f"plugin {name!r}: run_after", None),
        )
        if any(rule):
            self._order_rules[name] = rule
        else:
            self._order_rules.pop(name, None)
        self._invalidate_all()

    def plugin_constraints(
        self, name: str, plugin: Any
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The constraints on every hook of ``plugin``: its ``run_before``/``run_after``
        attributes and those given when it was enabled (new lists: the caller may extend them)."""
        key = (name, id(plugin))
        found = self._constraint_memo.get(key)
        if found is None:
            rules = self._order_rules.get(name, ((), ()))
            found = ([], [])
            for index, option in enumerate(("run_before", "run_after")):
                for value in ordering.names_of(static_attribute(plugin, option), option, plugin):
                    found[index].append((value, f"its {option}"))
                found[index].extend((value, f"{option} when enabled") for value in rules[index])
            self._constraint_memo[key] = found
        return list(found[0]), list(found[1])

    def matches_enabled(self, name: str) -> bool:
        """Whether ``name`` names an enabled plugin (as order constraints compare names)."""
        return any(ordering.matches(name, registered) for registered in self.plugin_names())

    def is_constrained(self, impl: pluggy.HookImpl) -> bool:
        """Whether ``impl`` carries a named order constraint of its own or its plugin's."""
        opts: Mapping[str, Any] = impl.opts
        return bool(
            opts.get("before")
            or opts.get("after")
            or static_attribute(impl.plugin, "run_before")
            or static_attribute(impl.plugin, "run_after")
        )

    def check_order(self, plugin: Any) -> None:
        """Resolve the order of every constrained hook ``plugin`` implements (without named
        constraints there can be no cycle, and the order costs nothing until the next call).

        :raises OrderCycleError: its constraints form a cycle.
        """
        for caller in self._callers.values():
            if (caller.constrained or self._order_rules) and any(
                impl.plugin is plugin for _, impl in caller._registered
            ):
                caller.plan()

    def process_rank(self) -> int:
        """This process's rank, for ``on_ranks`` triggers (torchrun's ``RANK`` before the
        process group exists)."""
        from hookwise.distributed import get_rank

        return get_rank()

    # -- instrumentation ------------------------------------------------------------------------

    def impl_wrappers(self) -> Sequence[ImplWrapper]:
        """The installed instrumentation (:meth:`add_impl_wrapper`)."""
        return tuple(self._impl_wrappers)

    def add_impl_wrapper(self, wrapper: ImplWrapper) -> None:
        """Wrap every plain implementation's function (profiling, recording) on every path.

        ``wrapper(call)`` gets an :class:`~hookwise.plugins.codegen.ImplCall` and returns the
        function to call in its place, with the same calling convention.
        """
        self._impl_wrappers.append(wrapper)
        self._invalidate_all()

    def remove_impl_wrapper(self, wrapper: ImplWrapper) -> None:
        """Undo :meth:`add_impl_wrapper`; the call path is as fast as before."""
        self._impl_wrappers.remove(wrapper)
        self._invalidate_all()


__all__ = ["ImplCall", "PluginManager"]
