"""``OrderedHookCaller``: pluggy's ``HookCaller`` with hookwise's order and fast call code.

pluggy keeps the specifications, registration and validation. Calling through pluggy's own loop
costs about 14 times a plain loop over the same callbacks (it copies the implementation list
and builds every call's arguments on each call), so each hook's caller installs a generated
function (:mod:`hookwise.plugins.codegen`) that calls the implementations directly, in order.

One order serves every path: the caller keeps pluggy's ``_hookimpls`` list itself in the order
pluggy's reversed iteration turns into hookwise's (:mod:`hookwise.plugins.plan`), so
``call_extra``, ``call_historic``, ``subset_hook_caller`` and monitoring agree with the
generated code for free. The plan is rebuilt only when this hook's implementations (or their
instrumentation, policies, or the monitoring) change, lazily on the next call, so registering
N plugins costs O(N).

Calling: ``pm.hook.<name>(**kwargs)`` keeps pluggy's semantics exactly. The first call after a
change runs pluggy's own path and installs the generated code for the next calls; a hook with
wrappers, a historic hook, a hook without a spec, and every hook while a monitor
(``add_hookcall_monitoring``, ``enable_tracing``) is installed always run pluggy's path.
:meth:`call_ordered` and :meth:`call_attributed` are the trainer's path: the same order, plus
declarative triggers and ``(plugin, result)`` attribution.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import pluggy

from hookwise import hookspecs
from hookwise.errors import OrderCycleError
from hookwise.plugins import codegen
from hookwise.plugins.codegen import ImplCall
from hookwise.plugins.ordering import HookOrder
from hookwise.plugins.plan import (
    PASSES_IMPL_DEFAULTS,
    Plan,
    PlanContext,
    build_plan,
    recording_list,
)
from hookwise.plugins.triggers import counters

_PLUGGY_CALL = pluggy.HookCaller.__call__
_HISTORIC = "Cannot directly call a historic hook - use call_historic instead."


class OrderedHookCaller(pluggy.HookCaller):
    """pluggy's ``HookCaller`` with hookwise's order and call path (see the module docstring).

    Each hook's caller is the only instance of its own subclass, so that the generated function
    can be installed as that class's ``__call__`` (Python looks special methods up on the type)
    and a hook call costs one Python call plus the implementations' calls. Create one with
    :func:`make_caller`.

    :ivar implemented: whether any implementation is registered (a cheap test for the trainer).
    :ivar partial: while a :meth:`call_attributed` runs, its ``(plugin, result)`` pairs so
        far; ``None`` when none runs or no implementation can return a value (the trainer
        saves a step's logs from it when a checkpoint is written inside ``on_train_batch_end``).
    """

    __slots__ = (
        "_constrained",
        "_count",
        "_manager",
        "_plan",
        "_records",
        "_registered",
        "implemented",
        "partial",
    )

    def __init__(
        self,
        name: str,
        hook_execute: Any,
        manager: PlanContext,
        specmodule_or_class: Any = None,
        spec_opts: Any = None,
    ) -> None:
        self._manager = manager
        self._registered: list[tuple[int, pluggy.HookImpl]] = []
        self._plan: Plan | None = None
        self._count = 0
        self._constrained = 0
        self._records: list[list[tuple[str, Any]]] = []
        self.implemented = False
        self.partial: list[tuple[str, Any]] | None = None
        super().__init__(name, hook_execute, specmodule_or_class, spec_opts)
        self.invalidate()

    # -- the implementation list pluggy iterates ------------------------------------------------

    @property  # type: ignore[misc]
    def _hookimpls(self) -> list[pluggy.HookImpl]:
        return self.plan().effective

    @_hookimpls.setter
    def _hookimpls(self, value: list[pluggy.HookImpl]) -> None:
        if value:  # pluggy assigns an empty list once, in HookCaller.__init__
            raise AttributeError("hookwise keeps a hook's implementations itself")

    def get_hookimpls(self) -> list[pluggy.HookImpl]:
        """The implementations, in the list order pluggy iterates reversed (pluggy's API).

        While the order constraints form a cycle (a call raises ``OrderCycleError``), the
        registered implementations in reverse registration order, so that a plugin can still be
        inspected and unregistered.
        """
        try:
            return self._hookimpls.copy()
        except OrderCycleError:
            return [impl for _, impl in reversed(self._registered)]

    def _add_hookimpl(self, hookimpl: pluggy.HookImpl) -> None:
        """Add an implementation; its place comes from hookwise's order (enabled order)."""
        self._count += 1
        self._registered.append((self._count, hookimpl))
        self._constrained += self._manager.is_constrained(hookimpl)
        self.implemented = True
        self.invalidate()

    def _remove_plugin(self, plugin: Any) -> None:
        remaining = [(s, impl) for s, impl in self._registered if impl.plugin != plugin]
        if len(remaining) == len(self._registered):
            raise ValueError(f"plugin {plugin!r} not found")
        self._registered[:] = remaining
        self._constrained = sum(self._manager.is_constrained(impl) for _, impl in remaining)
        self.implemented = bool(remaining)
        self.invalidate()

    def set_specification(self, specmodule_or_class: Any, spec_opts: Any) -> None:
        super().set_specification(specmodule_or_class, spec_opts)
        self.invalidate()

    def _maybe_apply_history(self, method: pluggy.HookImpl) -> None:
        if self.is_historic():
            from hookwise.plugins.plan import effective_impl, impl_call

            call = impl_call(self.name, self.spec, method, self._manager)
            super()._maybe_apply_history(effective_impl(call, method, self._manager))

    # -- the plan -------------------------------------------------------------------------------

    def plan(self) -> Plan:
        """The current call plan (built if a change made it stale)."""
        plan = self._plan
        if plan is None:
            plan = self._plan = build_plan(
                self.name, self.spec, self.is_historic(), self._registered, self._manager
            )
        return plan

    def invalidate(self) -> None:
        """Forget the plan and the generated code; the next call rebuilds them."""
        self._plan = None
        cls = type(self)
        installed = cls.__dict__
        if cls is not OrderedHookCaller and (
            installed.get("__call__") is not _first_call
            or installed.get("call_ordered") is not _first_ordered
            or installed.get("call_attributed") is not _first_attributed
            or installed.get("call_args") is not _first_args
        ):
            cls.__call__ = _first_call  # type: ignore[method-assign,assignment]
            cls.call_ordered = _first_ordered  # type: ignore[method-assign]
            cls.call_attributed = _first_attributed  # type: ignore[method-assign]
            cls.call_args = _first_args  # type: ignore[method-assign]

    def install(self, method: str) -> Callable[..., Any]:
        """Generate (or choose) the function for ``method`` under the current plan."""
        plan = self.plan()
        function = _slow_methods[method] if not plan.fast else self._generate(plan, method)
        cls = type(self)
        if cls is not OrderedHookCaller:
            setattr(cls, method, function)
        return function

    def _generate(self, plan: Plan, method: str) -> Callable[..., Any]:
        attributed = method in ("call_attributed", "call_args")
        triggered = method != "__call__"
        calls = plan.calls
        if triggered:
            calls = tuple(c for c in calls if c.trigger is None or c.trigger.on_rank(self._rank()))

        def recover(kwargs: Mapping[str, Any], at: int, exc: Exception, results: Any) -> Any:
            return self._recover(calls, kwargs, at, exc, results, attributed, triggered)

        assert self.spec is not None
        return codegen.build_call(
            self.name,
            self.args_order() if method == "call_args" else self.spec.argnames,
            calls,
            recover,
            counters,
            method=method,
            attributed=attributed,
            firstresult=self._firstresult(),
            triggered=triggered,
        )

    @property
    def constrained(self) -> bool:
        """Whether any implementation carries a named order constraint (only then can the
        order have a cycle)."""
        return self._constrained > 0

    def args_order(self) -> tuple[str, ...]:
        """:meth:`call_args`'s parameters: the arguments in hookwise's spec order, else the
        manager's spec order (a hook hookwise does not specify, or other arguments)."""
        spec_args = tuple(self.spec.argnames) if self.spec is not None else ()
        canonical = _canonical_args(self.name)
        return canonical if set(spec_args) <= set(canonical) else spec_args

    def _rank(self) -> int:
        return self._manager.process_rank()

    def _firstresult(self) -> bool:
        return bool(self.spec is not None and self.spec.opts.get("firstresult", False))

    @property
    def calls(self) -> tuple[ImplCall, ...]:
        """The plain implementations, in call order."""
        return self.plan().calls

    @property
    def wrappers(self) -> tuple[ImplCall, ...]:
        """The wrappers, outermost first."""
        return self.plan().wrappers

    @property
    def order(self) -> HookOrder:
        """The plugin names this hook calls, in order, with the reasons."""
        return self.plan().order

    # -- calling (each replaced per hook by the installed functions) ----------------------------

    def call_ordered(self, **kwargs: Any) -> Any:
        """Call the hook on the trainer's path: hookwise's order and triggers.

        The same result as ``pm.hook.<name>(**kwargs)`` (a list of the non-``None`` results),
        but implementations with a trigger run only when it fires. A method call, because
        CPython calls an instance of a Python class through a slower protocol than a method.
        """
        return _first_ordered(self, **kwargs)

    def call_attributed(self, **kwargs: Any) -> Any:
        """As :meth:`call_ordered`; returns ``(plugin_name, result)`` for every non-``None``
        result."""
        return _first_attributed(self, **kwargs)

    def call_args(self, *args: Any) -> Any:
        """The trainer's hot path: :meth:`call_attributed` with every argument, positionally
        in :meth:`args_order`; a sequence of pairs (``()`` when none can return a value)."""
        return _first_args(self, *args)

    def _slow_call(self, kwargs: dict[str, Any], attributed: bool) -> Any:
        """The trainer's path through pluggy's own loop (wrappers, monitoring, or a call
        missing an argument)."""
        assert not self.is_historic(), _HISTORIC
        plan = self.plan()
        if PASSES_IMPL_DEFAULTS:
            kwargs = dict(self._apply_defaults(kwargs))
        self._verify_all_args_are_provided(kwargs)
        impls = recording_list(plan, self._manager, self._records) if attributed else plan.effective
        if any(c.trigger is not None for c in (*plan.calls, *plan.wrappers)):
            rank = self._rank()
            impls = [i for i in impls if _fires(plan.origins.get(id(i)), kwargs, rank)]
        if not attributed:
            return self._hookexec(self.name, list(impls), kwargs, self._firstresult())
        self._records.append([])
        self.partial = self._records[-1]
        try:
            result = self._hookexec(self.name, list(impls), kwargs, self._firstresult())
        finally:
            pairs = self._records.pop()
            self.partial = None
        if not isinstance(result, list):
            return result
        return _attribute(result, pairs, plan)

    def _recover(
        self,
        calls: tuple[ImplCall, ...],
        kwargs: Mapping[str, Any],
        at: int,
        exc: Exception,
        results: Any,
        attributed: bool,
        triggered: bool,
    ) -> Any:
        """Apply the failed plugin's error policy, then call the remaining implementations."""
        manager = self._manager
        manager.handle_failure(self.name, calls[at].plugin_name, exc)
        for call in calls[at + 1 :]:
            if not manager.is_active(call.plugin_name):
                continue
            if triggered and call.trigger is not None and not call.trigger.fires(self.name, kwargs):
                continue
            try:
                result = call.call(kwargs)
            except Exception as later:
                manager.handle_failure(self.name, call.plugin_name, later)
                continue
            if result is None:
                continue
            if results is None:  # firstresult
                return result
            results.append((call.plugin_name, result) if attributed else result)
        return results


def _fires(call: ImplCall | None, kwargs: Mapping[str, Any], rank: int) -> bool:
    if call is None or call.trigger is None:
        return True
    return call.trigger.on_rank(rank) and call.trigger.fires(call.hook, kwargs)


def _attribute(result: list[Any], pairs: list[tuple[str, Any]], plan: Plan) -> list[Any]:
    """Pair pluggy's results with the plugins that returned them; a result a wrapper put in
    their place is the outermost wrapper's."""
    unused = list(pairs)
    fallback = plan.wrappers[0].plugin_name if plan.wrappers else "?"
    attributed = []
    for value in result:
        index = next((i for i, (_, v) in enumerate(unused) if v is value), None)
        if index is None:
            attributed.append((fallback, value))
        else:
            attributed.append(unused.pop(index))
    return attributed


def _first_call(self: OrderedHookCaller, **kwargs: Any) -> Any:
    # pluggy's HookCaller.__call__, in this frame (its warnings name the caller), after
    # installing the generated code for the next calls.
    assert not self.is_historic(), _HISTORIC
    self.install("__call__")
    call_kwargs: Mapping[str, Any] = (
        self._apply_defaults(kwargs) if PASSES_IMPL_DEFAULTS else kwargs
    )
    self._verify_all_args_are_provided(call_kwargs)
    return self._hookexec(self.name, self._hookimpls.copy(), call_kwargs, self._firstresult())


def _first_ordered(self: OrderedHookCaller, **kwargs: Any) -> Any:
    return self.install("call_ordered")(self, **kwargs)


def _first_attributed(self: OrderedHookCaller, **kwargs: Any) -> Any:
    return self.install("call_attributed")(self, **kwargs)


def _first_args(self: OrderedHookCaller, *args: Any) -> Any:
    return self.install("call_args")(self, *args)


def _slow_args(self: OrderedHookCaller, *args: Any) -> Any:
    names = self.args_order()
    if len(args) != len(names):
        raise TypeError(f"{self.name}.call_args() takes {list(names)}, got {len(args)} arguments")
    spec_args = self.spec.argnames if self.spec is not None else names
    return self._slow_call({n: a for n, a in zip(names, args, strict=True) if n in spec_args}, True)


@functools.cache
def _canonical_args(hook: str) -> tuple[str, ...]:
    spec = getattr(hookspecs, hook, None)
    return tuple(inspect.signature(spec).parameters) if callable(spec) else ()


def _slow_ordered(self: OrderedHookCaller, **kwargs: Any) -> Any:
    return self._slow_call(kwargs, False)


def _slow_attributed(self: OrderedHookCaller, **kwargs: Any) -> Any:
    return self._slow_call(kwargs, True)


# A call with positional arguments fails as pluggy's does: "__call__() takes 1 positional ...".
_first_call.__qualname__ = "OrderedHookCaller.__call__"

_slow_methods: dict[str, Callable[..., Any]] = {
    "__call__": _PLUGGY_CALL,
    "call_ordered": _slow_ordered,
    "call_attributed": _slow_attributed,
    "call_args": _slow_args,
}


def make_caller(
    name: str, hook_execute: Any, manager: PlanContext, *spec: Any
) -> OrderedHookCaller:
    """Create the caller of hook ``name``: the single instance of a subclass of its own."""
    cls = type(f"OrderedHookCaller[{name}]", (OrderedHookCaller,), {"__slots__": ()})
    caller: OrderedHookCaller = cls(name, hook_execute, manager, *spec)
    return caller
