"""A hook's call plan: its implementations in hookwise's order, and how each is called.

The plan is derived from the implementations pluggy registered, whenever they (or their
instrumentation, error policies or the monitoring) change, lazily on the next call:

- the order (:mod:`hookwise.plugins.ordering`);
- one :class:`~hookwise.plugins.codegen.ImplCall` per implementation, for the generated code;
- ``effective``: the list pluggy's own machinery iterates (``HookCaller._hookimpls``: plain
  implementations then wrappers, each part in reverse call order, as pluggy iterates it
  reversed). Where hookwise calls an implementation differently from pluggy (a ``Callback``
  method, an instrumented function, an error policy other than ``raise``), its entry is a
  ``HookImpl`` of a trampoline that does so. ``pm.hook.x(...)``, ``call_extra``,
  ``call_historic``, ``subset_hook_caller`` and monitoring all read this list, so every path
  agrees with the generated code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pluggy

from hookwise.plugins import codegen
from hookwise.plugins.codegen import ImplCall
from hookwise.plugins.convention import Convention, callback_convention
from hookwise.plugins.ordering import HookOrder, Node, resolve
from hookwise.plugins.triggers import trigger_from_opts

#: pluggy 1.7 passes a defaulted implementation parameter the call's value (and fills missing
#: arguments from the spec's defaults); 1.5 and 1.6 leave defaults alone.
PASSES_IMPL_DEFAULTS = hasattr(pluggy.HookCaller, "_apply_defaults")

ImplWrapper = Callable[[ImplCall], Callable[..., Any]]


class PlanContext(Protocol):
    """What a plan needs to know from the plugin manager."""

    def impl_wrappers(self) -> Sequence[ImplWrapper]: ...

    def error_policy(self, name: str) -> str: ...

    def handle_failure(self, hook: str, plugin: str, exc: Exception) -> None: ...

    def plugin_constraints(
        self, name: str, plugin: Any
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]: ...

    def matches_enabled(self, name: str) -> bool: ...

    def uses_callback_convention(self, impl: pluggy.HookImpl) -> bool: ...

    def monitored(self) -> bool: ...

    def process_rank(self) -> int: ...

    def is_active(self, name: str) -> bool: ...

    def is_constrained(self, impl: pluggy.HookImpl) -> bool: ...


@dataclass
class Plan:
    """See the module docstring."""

    calls: tuple[ImplCall, ...]
    wrappers: tuple[ImplCall, ...]
    effective: list[pluggy.HookImpl]
    order: HookOrder
    fast: bool
    origins: dict[int, ImplCall] = field(default_factory=dict)
    recording: list[pluggy.HookImpl] | None = None


def _group(impl: pluggy.HookImpl) -> int:
    return 0 if impl.tryfirst else (2 if impl.trylast else 1)


def _constraints(
    impl: pluggy.HookImpl, context: PlanContext
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    before, after = context.plugin_constraints(impl.plugin_name, impl.plugin)
    opts: Mapping[str, Any] = impl.opts
    for name in _names(opts.get("before")):
        before.append((name, "@hookimpl(before=...)"))
    for name in _names(opts.get("after")):
        after.append((name, "@hookimpl(after=...)"))
    return before, after


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def impl_call(hook: str, spec: Any, impl: pluggy.HookImpl, context: PlanContext) -> ImplCall:
    """How the call path calls ``impl`` (convention, trigger, instrumentation)."""
    spec_args = tuple(spec.argnames) if spec is not None else ()
    if spec is not None and context.uses_callback_convention(impl):
        convention = callback_convention(
            hook, impl.function, spec_args, impl.plugin, impl.plugin_name
        )
        kwargnames: tuple[str, ...] = ()
    else:
        convention = Convention(tuple(impl.argnames))
        kwargnames = tuple(impl.kwargnames) if PASSES_IMPL_DEFAULTS else ()
    wrapper = "new" if impl.wrapper else ("old" if impl.hookwrapper else None)
    opts: Mapping[str, Any] = impl.opts
    get = opts.get
    triggered = not (
        get("every_n_steps") is get("every_n_epochs") is get("on_ranks") is get("stages") is None
    )
    where = f"plugin {impl.plugin_name!r}, hook {hook!r}" if triggered else ""
    call = ImplCall(
        hook,
        impl.plugin_name,
        impl.function,
        convention.argnames,
        convention.by_keyword,
        wrapper,
        impl.plugin,
        trigger_from_opts(opts, where, impl.plugin) if triggered else None,
        kwargnames,
        impl.function,
    )
    if wrapper is None:
        for wrap in context.impl_wrappers():
            call = dataclasses.replace(call, function=wrap(call))
    return call


def _as_pluggy_calls(call: ImplCall, impl: pluggy.HookImpl) -> bool:
    return (
        call.function is impl.function
        and call.argnames == tuple(impl.argnames)
        and not call.by_keyword
        and (call.kwargnames == tuple(impl.kwargnames) or not impl.kwargnames)
    )


def effective_impl(
    call: ImplCall,
    impl: pluggy.HookImpl,
    context: PlanContext,
    record: list[list[tuple[str, Any]]] | None = None,
) -> pluggy.HookImpl:
    """The ``HookImpl`` pluggy's loop calls for ``call``: ``impl`` itself when pluggy would
    call it as hookwise does, else one of a trampoline."""
    guarded = call.wrapper is None and context.error_policy(call.plugin_name) != "raise"
    if not guarded and record is None and _as_pluggy_calls(call, impl):
        return impl

    def fail(exc: Exception) -> None:
        context.handle_failure(call.hook, call.plugin_name, exc)

    function = codegen.trampoline(call, fail if guarded else None, record)
    return pluggy.HookImpl(impl.plugin, impl.plugin_name, function, impl.opts)


def build_plan(
    hook: str,
    spec: Any,
    historic: bool,
    registered: Sequence[tuple[int, pluggy.HookImpl]],
    context: PlanContext,
) -> Plan:
    """Order ``registered`` (``(sequence, impl)`` pairs) and derive the plan."""
    kinds: dict[bool, list[Node]] = {False: [], True: []}
    for seq, impl in registered:
        before, after = _constraints(impl, context)
        node = Node(impl.plugin_name, _group(impl), seq, before, after, impl, impl.plugin)
        kinds[bool(impl.wrapper or impl.hookwrapper)].append(node)
    plain = resolve(kinds[False], hook, context.matches_enabled)
    wrapping = resolve(kinds[True], hook, context.matches_enabled)
    calls = tuple(impl_call(hook, spec, n.item, context) for n in plain.order)
    wrappers = tuple(impl_call(hook, spec, n.item, context) for n in wrapping.order)
    plan = Plan(
        calls,
        wrappers,
        [],
        HookOrder(
            [n.plugin for n in (*wrapping.order, *plain.order)],
            lambda: [*wrapping.reasons(), *plain.reasons()],
            len(wrappers),
            [*wrapping.ignored, *plain.ignored],
        ),
        fast=False,
    )
    pairs = [*zip(calls, (n.item for n in plain.order), strict=True)]
    wrap_pairs = [*zip(wrappers, (n.item for n in wrapping.order), strict=True)]
    for call, impl in [*reversed(pairs), *reversed(wrap_pairs)]:
        effective = effective_impl(call, impl, context)
        plan.effective.append(effective)
        plan.origins[id(effective)] = call
    spec_args = tuple(spec.argnames) if spec is not None else ()
    plan.fast = (
        spec is not None
        and not historic
        and not wrappers
        and not spec.kwargnames
        and not context.monitored()
        and not any(c.kwargnames for c in calls)
        and not any(name.startswith("_") for name in spec_args)
    )
    return plan


def recording_list(plan: Plan, context: PlanContext, record: list[Any]) -> list[pluggy.HookImpl]:
    """``plan.effective`` whose plain implementations also append ``(plugin, result)`` to
    ``record[-1]`` (the slow path of ``call_attributed``); built once per plan."""
    if plan.recording is None:
        plain = {id(c) for c in plan.calls}
        recording = []
        for effective in plan.effective:
            call = plan.origins[id(effective)]
            if id(call) in plain:
                effective = effective_impl(call, effective, context, record)
                plan.origins[id(effective)] = call
            recording.append(effective)
        plan.recording = recording
    return plan.recording
