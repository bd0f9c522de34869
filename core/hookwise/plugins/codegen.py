"""Source generation for the call path: one small function per hook, and trampolines.

A hook's fast call function reads the hook's arguments once and calls each implementation
directly, in order, so a hook call runs at the speed of hand-written code (``dataclasses`` and
``attrs`` generate ``__init__`` for the same reason). Sources depend only on the shape of a call
plan (argument names, number of implementations, triggers), never on the plugin objects, which
are bound through the namespace, so each shape is compiled once per process.

Trampolines adapt one implementation to pluggy's own call loop (``pluggy._callers._multicall``),
which passes an implementation the arguments its parameters name, positionally: a trampoline has
exactly the parameters the implementation is to receive and calls it the way hookwise does
(positionally or by keyword, instrumented, under its error policy).
"""

from __future__ import annotations

import dis
import functools
import inspect
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pluggy

from hookwise.plugins.triggers import INSIDE_WINDOW, MISSING, Trigger

#: The default of a hook argument the caller did not pass.
ABSENT: Any = object()


@dataclass(frozen=True)
class ImplCall:
    """One hook implementation as the call path sees it.

    :param hook: the hook's name.
    :param plugin_name: the name the plugin is registered under.
    :param function: what is called (the bound method or function, possibly instrumented).
    :param argnames: the hook arguments it receives, in its parameter order.
    :param by_keyword: pass them by keyword (a ``Callback`` batch hook whose parameters are not
        in hook order, or that takes ``**kwargs``).
    :param wrapper: ``"new"`` for ``wrapper=True``, ``"old"`` for ``hookwrapper=True``.
    :param plugin: the plugin object.
    :param trigger: when it runs on the trainer's path (``None``: always).
    :param kwargnames: defaulted parameters pluggy passes by keyword when the call has them
        (pluggy 1.7's rule, ``@hookimpl`` functions only).
    :param origin: the plugin's own function (``function`` may be instrumented).
    """

    hook: str
    plugin_name: str
    function: Callable[..., Any]
    argnames: tuple[str, ...]
    by_keyword: bool = False
    wrapper: str | None = None
    plugin: Any = field(default=None, compare=False, repr=False)
    trigger: Trigger | None = field(default=None, compare=False)
    kwargnames: tuple[str, ...] = field(default=(), compare=False)
    origin: Callable[..., Any] | None = field(default=None, compare=False, repr=False)

    def call(self, kwargs: Any) -> Any:
        """Call the implementation with its arguments taken from ``kwargs`` (the slow path)."""
        extra = {k: kwargs[k] for k in self.kwargnames if k in kwargs}
        if self.by_keyword:
            return self.function(**{name: kwargs[name] for name in self.argnames}, **extra)
        return self.function(*[kwargs[name] for name in self.argnames], **extra)


#: Generated sources by the shape of their plan (without triggers): a plan rebuilt for the same
#: shape (another manager, a new trainer) does not build its source again.
_SOURCES: dict[tuple[Any, ...], str] = {}


@functools.lru_cache(maxsize=4096)
def compiled(source: str, filename: str) -> types.CodeType:
    """Compile a generated source once per process (compiling costs about a millisecond)."""
    code: types.CodeType = compile(source, filename, "exec")
    return code


def _arguments(call: ImplCall) -> str:
    if call.by_keyword:
        return ", ".join(f"{name}={name}" for name in call.argnames)
    return ", ".join(call.argnames)


_GENERATOR_FLAGS = (
    inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
) | inspect.CO_ITERABLE_COROUTINE


def returns_none(function: Callable[..., Any]) -> bool:
    """Whether ``function`` (a plain function or a method of one) can only return ``None``:
    every ``return`` of its code returns the constant ``None`` (most callbacks). The call path
    then neither tests nor collects its result. Anything else (instrumented, a callable object,
    a generator) counts as possibly returning a value."""
    code = getattr(getattr(function, "__func__", function), "__code__", None)
    if type(function) not in (types.FunctionType, types.MethodType) or code is None:
        return False
    known = _VOID.get(id(code))  # by identity: hashing a code object hashes its contents
    if known is None or known[0] is not code:
        known = _VOID[id(code)] = (code, _returns_none(code))
        if len(_VOID) > 4096:
            _VOID.clear()
    return known[1]


_VOID: dict[int, tuple[types.CodeType, bool]] = {}


def _returns_none(code: types.CodeType) -> bool:
    if code.co_flags & _GENERATOR_FLAGS:
        return False
    previous = None
    for instruction in dis.get_instructions(code):
        if instruction.opname == "RETURN_CONST" and instruction.argval is not None:
            return False
        if instruction.opname == "RETURN_VALUE" and (
            instruction.is_jump_target
            or previous is None
            or previous.opname != "LOAD_CONST"
            or previous.argval is not None
        ):
            return False
        previous = instruction
    return True


def call_source(
    hook: str,
    spec_args: Sequence[str],
    calls: Sequence[ImplCall],
    *,
    method: str,
    attributed: bool,
    firstresult: bool,
    triggered: bool,
    void: Sequence[bool] = (),
) -> str:
    """The source of a fast call function (see :func:`build_call`). The implementations are
    its globals ``_f0``, ``_f1``, ... (measured: cheaper to load than closure cells or default
    arguments, and called bound, cheaper than function and plugin passed apart)."""
    void = tuple(void) or (False,) * len(calls)
    lines = [_signature(method, spec_args)]
    if spec_args and method != "call_args":
        _missing_check(lines, hook, spec_args, method, attributed, firstresult)
    needs_counters = triggered and any(c.trigger and c.trigger.filters_calls() for c in calls)
    if needs_counters:
        _counter_lines(lines, hook, [c.trigger for c in calls if c.trigger is not None])
    # an attributed call's results are seen while it runs (``partial``); without a result
    # there is nothing to see
    collects = not firstresult and not all(void)
    if collects:
        lines.append("    _results = self.partial = []" if attributed else "    _results = []")
    lines.append("    try:")
    at_line = _call_lines(lines, calls, needs_counters, firstresult, attributed, void)
    lines += ["        pass", "    except Exception as _exc:"]
    mapping = "{" + ", ".join(f"{name!r}: {name}" for name in spec_args) + "}"
    at = f"{at_line!r}[_exc.__traceback__.tb_lineno]"
    results = "None" if firstresult else ("_results" if collects else "[]")
    recovery = f"_recover({mapping}, {at}, _exc, {results})"
    if attributed and collects:  # the call is over: nothing is partial any more
        lines += [f"        _results = {recovery}", "    self.partial = None"]
    else:
        lines.append(f"        return {recovery}")
    if firstresult:
        lines.append("    return None")
    else:
        empty = "()" if method == "call_args" else "[]"
        lines.append("    return _results" if collects else f"    return {empty}")
    return "\n".join(lines)


def _counter_lines(lines: list[str], hook: str, triggers: Sequence[Trigger]) -> None:
    """The counters the triggers compare (``_step``, ``_epoch``, ``_stage``). From a ``dict``
    state (the trainer's read-only view) the step and the epoch are read inline, only those
    some trigger needs (about 2,000 instructions less per call than :func:`counters`, a
    Python call that reads all three); a trigger on stages, or another kind of state, goes
    through ``counters``."""
    counters_call = f"_step, _epoch, _stage = _counters({hook!r}, trainer_state)"
    if any(t.stages is not None for t in triggers):
        lines.append(f"    {counters_call}")
        return
    lines.append("    if isinstance(trainer_state, dict):")
    if any(t.every_n_steps is not None or t.steps_from is not None for t in triggers):
        lines.append(
            '        _step = _INSIDE if trainer_state.get("accumulating") '
            'else trainer_state.get("global_step", _MISSING)'
        )
    if any(t.every_n_epochs is not None or t.epochs_from is not None for t in triggers):
        lines.append('        _epoch = trainer_state.get("current_epoch", _MISSING)')
    lines += ["    else:", f"        {counters_call}"]


def _signature(method: str, spec_args: Sequence[str]) -> str:
    if method == "call_args":  # the trainer's: every argument, positionally, no defaults
        return f"def {method}({', '.join(['self', *spec_args])}):"
    params = [f"{name}=_ABSENT" for name in spec_args]
    tolerant = method == "__call__"  # pluggy ignores keywords the hook does not have
    signature = ", ".join(["self", *(["*", *params] if params else []), *(["**_extra"] * tolerant)])
    return f"def {method}({signature}):"


def _missing_check(
    lines: list[str],
    hook: str,
    spec_args: Sequence[str],
    method: str,
    attributed: bool,
    firstresult: bool,
) -> None:
    """A call missing an argument goes pluggy's way."""
    missing = " or ".join(f"{name} is _ABSENT" for name in spec_args)
    present = "".join(f"({name!r}, {name}), " for name in spec_args)
    lines += [
        f"    if {missing}:",
        f"        _kwargs = {{k: v for k, v in ({present}) if v is not _ABSENT}}",
    ]
    if method == "__call__":  # pluggy's own path, from this frame (its warning names the caller)
        lines += [
            "        _kwargs.update(_extra)",
            "        self._verify_all_args_are_provided(_kwargs)",
            f"        return self._hookexec({hook!r}, self._hookimpls.copy(), _kwargs, "
            f"{firstresult})",
        ]
    else:
        lines.append(f"        return self._slow_call(_kwargs, {attributed})")


def _call_lines(
    lines: list[str],
    calls: Sequence[ImplCall],
    needs_counters: bool,
    firstresult: bool,
    attributed: bool,
    void: Sequence[bool],
) -> dict[int, int]:
    """Append the calls of the implementations (inside the ``try``) to ``lines``; return which
    call each line belongs to. No bookkeeping per call: a failure is attributed from the line
    of the generated function its traceback points to (lines counted from 1). The result of
    an implementation that can only return ``None`` is not tested."""
    at_line: dict[int, int] = {}
    for index, call in enumerate(calls):
        indent = "        "
        if needs_counters and call.trigger is not None and call.trigger.filters_calls():
            condition = call.trigger.condition(f"_stages{index}", f"_owner{index}")
            lines.append(f"{indent}if {condition}:")
            at_line[len(lines)] = index
            indent += "    "
        if void[index]:
            lines.append(f"{indent}_f{index}({_arguments(call)})")
            at_line[len(lines)] = index
            continue
        lines.append(f"{indent}_r = _f{index}({_arguments(call)})")
        at_line[len(lines)] = index
        if firstresult:
            lines.append(f"{indent}if _r is not None: return _r")
        elif attributed:
            lines.append(f"{indent}if _r is not None: _results.append((_n{index}, _r))")
        else:
            lines.append(f"{indent}if _r is not None: _results.append(_r)")
        at_line[len(lines)] = index
    return at_line


def build_call(
    hook: str,
    spec_args: Sequence[str],
    calls: Sequence[ImplCall],
    recover: Callable[..., Any],
    counters: Callable[..., Any],
    *,
    method: str,
    attributed: bool = False,
    firstresult: bool = False,
    triggered: bool = False,
) -> Callable[..., Any]:
    """Generate the function installed as ``method`` of a hook's caller.

    It takes the hook's arguments by keyword (``__call__`` tolerates others, as pluggy does;
    ``call_args`` takes every one of ``spec_args`` positionally), calls ``calls`` in order and
    returns pluggy's result: the non-``None`` results (``(plugin_name, result)`` pairs when
    ``attributed``; ``call_args`` returns an empty tuple when no implementation can return a
    value), or the first non-``None`` one for a ``firstresult`` hook. A call missing an
    argument goes pluggy's way (its warning, and ``HookCallError`` when an implementation
    needs the argument). With ``triggered``, each call's trigger is checked inline, from
    ``counters(hook, trainer_state)``. An exception of call ``i`` goes to
    ``recover(kwargs, i, exc, results)``, whose return value is returned.
    """
    void = tuple(returns_none(call.function) for call in calls)
    shape = (hook, tuple(spec_args), method, attributed, firstresult, triggered, void)
    key = (*shape, tuple((c.argnames, c.by_keyword, c.trigger) for c in calls))
    cacheable = not any(c.trigger for c in calls)  # a trigger's options are in its source
    source = _SOURCES.get(key) if cacheable else None
    if source is None:
        source = call_source(
            hook,
            spec_args,
            calls,
            method=method,
            attributed=attributed,
            firstresult=firstresult,
            triggered=triggered,
            void=void,
        )
        if cacheable and len(_SOURCES) < 4096:
            _SOURCES[key] = source
    namespace: dict[str, Any] = {"_recover": recover, "_ABSENT": ABSENT, "_counters": counters}
    namespace["_MISSING"], namespace["_INSIDE"] = MISSING, INSIDE_WINDOW
    for index, call in enumerate(calls):
        namespace[f"_f{index}"] = call.function
        namespace[f"_n{index}"] = call.plugin_name
        namespace[f"_stages{index}"] = call.trigger.stages if call.trigger else None
        namespace[f"_owner{index}"] = call.plugin
    exec(compiled(source, f"<hookwise call path: {hook}>"), namespace)
    function: Callable[..., Any] = namespace[method]
    return function


def _trampoline_source(
    hook: str, call: ImplCall, guarded: bool, recording: bool
) -> tuple[str, str]:
    params = [*call.argnames, *(f"{k}=_ABSENT" for k in call.kwargnames)]
    lines = ["def make(_f, _fail, _record, _name):", f"    def {hook}({', '.join(params)}):"]
    extra = ""
    if call.kwargnames:
        lines.append("        _kw = {}")
        lines += [f"        if {k} is not _ABSENT: _kw[{k!r}] = {k}" for k in call.kwargnames]
        extra = ", **_kw" if call.argnames else "**_kw"
    body = f"_f({_arguments(call)}{extra})"
    if guarded:
        lines += [
            "        try:",
            f"            _r = {body}",
            "        except Exception as _exc:",
            "            return _fail(_exc)",
        ]
    else:
        lines.append(f"        _r = {body}")
    if recording:
        lines.append("        if _r is not None and _record: _record[-1].append((_name, _r))")
    lines += ["        return _r", f"    return {hook}"]
    return "\n".join(lines), f"<hookwise trampoline: {hook}>"


def trampoline(
    call: ImplCall,
    fail: Callable[[Exception], Any] | None,
    record: list[list[tuple[str, Any]]] | None,
) -> Callable[..., Any]:
    """A function with exactly ``call``'s arguments as parameters that calls ``call.function``
    the way hookwise does; ``fail`` handles its exceptions (an error policy), ``record``'s last
    list collects ``(plugin_name, result)`` pairs."""
    source, filename = _trampoline_source(call.hook, call, fail is not None, record is not None)
    namespace: dict[str, Any] = {"_ABSENT": ABSENT}
    exec(compiled(source, filename), namespace)
    made: Callable[..., Any] = namespace["make"](call.function, fail, record, call.plugin_name)
    return made


def hook_impl(call: ImplCall, function: Callable[..., Any], opts: Any) -> pluggy.HookImpl:
    """A ``pluggy.HookImpl`` of ``call``'s plugin that calls ``function``."""
    return pluggy.HookImpl(call.plugin, call.plugin_name, function, opts)
