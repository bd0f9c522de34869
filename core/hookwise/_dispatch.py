"""The fast, ordered call path behind ``pm.hook.<name>(**kwargs)``.

pluggy keeps the specifications, registration and validation. Calling a hook through pluggy's
own path costs about 14 times a plain loop over the same callbacks (it copies the
implementation list, checks the arguments and builds every call's arguments on each call). Here
each hook gets a small Python function, generated from its current implementations whenever
plugins are registered, unregistered or instrumented, that reads the hook's arguments once and
calls each implementation directly, in enabled order. Generating source is what ``dataclasses``
and ``attrs`` do for the same reason: the call runs at the speed of hand-written code.

Failures are attributed: the generated code tracks which implementation is running and hands an
exception to the manager's error policy together with the plugin name.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from hookwise.plugins import PluginManager


@dataclass(frozen=True)
class ImplCall:
    """One hook implementation as the call path sees it.

    :param hook: the hook's name.
    :param plugin_name: the name the plugin is registered under.
    :param function: what is called (the bound method or function, possibly instrumented).
    :param argnames: the hook arguments it receives, in its parameter order.
    :param by_keyword: pass them by keyword (the function takes ``*args`` or ``**kwargs``, or
        its parameters are not in hook order).
    :param wrapper: ``"new"`` for ``wrapper=True``, ``"old"`` for ``hookwrapper=True``.
    """

    hook: str
    plugin_name: str
    function: Callable[..., Any]
    argnames: tuple[str, ...]
    by_keyword: bool = False
    wrapper: str | None = None
    plugin: Any = field(default=None, compare=False, repr=False)

    def call(self, kwargs: Mapping[str, Any]) -> Any:
        """Call the implementation with its arguments taken from ``kwargs`` (the slow path)."""
        if self.by_keyword:
            return self.function(**{name: kwargs[name] for name in self.argnames})
        return self.function(*[kwargs[name] for name in self.argnames])


Runner = Callable[..., Any]

_ABSENT = object()


def compile_runner(
    hook: str,
    spec_args: Sequence[str],
    calls: Sequence[ImplCall],
    recover: Callable[..., Any],
    *,
    attributed: bool,
    firstresult: bool,
) -> Runner:
    """Generate the method that calls ``calls`` in order.

    The method takes the hook's arguments as keyword-only parameters (those an implementation
    needs are required, so a missing one is a ``TypeError`` naming it, as is an argument the
    hook does not have) and returns pluggy's result: the list of non-``None`` results
    (``(plugin_name, result)`` pairs when ``attributed``), or the first non-``None`` result for
    a ``firstresult`` hook. An exception raised by call ``i`` is passed to
    ``recover(kwargs, i, exc, results)``, whose return value is returned.
    """
    needed = {name for call in calls for name in call.argnames}
    params = [name if name in needed else f"{name}=ABSENT" for name in spec_args]
    signature = ", ".join(["self", *(["*", *params] if params else [])])
    as_mapping = "{" + ", ".join(f"{name!r}: {name}" for name in spec_args) + "}"
    namespace: dict[str, Any] = {"recover": recover, "ABSENT": _ABSENT}
    lines = [f"def {hook}({signature}):", "    results = []", "    at = 0", "    try:"]
    for index, call in enumerate(calls):
        namespace[f"f{index}"] = call.function
        namespace[f"n{index}"] = call.plugin_name
        if call.by_keyword:
            args = ", ".join(f"{name}={name}" for name in call.argnames)
        else:
            args = ", ".join(call.argnames)
        lines.append(f"        at = {index}")
        lines.append(f"        r = f{index}({args})")
        if firstresult:
            lines.append("        if r is not None: return r")
        elif attributed:
            lines.append(f"        if r is not None: results.append((n{index}, r))")
        else:
            lines.append("        if r is not None: results.append(r)")
    lines.append("        pass")
    lines.append("    except Exception as exc:")
    lines.append(f"        return recover({as_mapping}, at, exc, results)")
    lines.append("    return None" if firstresult else "    return results")
    source = "\n".join(lines)
    exec(_compiled(source, f"<hookwise call path: {hook}>"), namespace)
    runner: Runner = namespace[hook]
    return runner


@functools.lru_cache(maxsize=1024)
def _compiled(source: str, filename: str) -> types.CodeType:
    """Compile a call function's source once per process: the source depends only on the
    shape of the call plan (argument names, number of implementations), never on the plugin
    objects, which are bound through the namespace. Compiling takes about a millisecond, so
    every new manager or trainer with the same plugins would otherwise pay it again."""
    code: types.CodeType = compile(source, filename, "exec")
    return code


class OrderedHookCaller(pluggy.HookCaller):
    """pluggy's ``HookCaller`` with hookwise's call path.

    ``pm.hook.<name>(**kwargs)`` keeps pluggy's convention (keyword arguments, a list of the
    non-``None`` results) but calls implementations in enabled order and fast.
    :meth:`call_attributed` returns ``(plugin_name, result)`` pairs instead.

    Each hook's caller is the only instance of its own subclass, so that the generated call
    function can be installed as that class's ``__call__`` (Python looks special methods up on
    the type) and a hook call costs one Python call plus the implementations' calls.
    Use :func:`make_caller` to create one.
    """

    __slots__ = ("_calls", "_manager", "_wrappers")

    def __init__(self, name: str, hook_execute: Any, manager: PluginManager) -> None:
        super().__init__(name, hook_execute)
        self._manager = manager
        self._calls: tuple[ImplCall, ...] = ()
        self._wrappers: tuple[ImplCall, ...] = ()
        self._install(None, None)

    # -- building -------------------------------------------------------------------------------

    def set_calls(self, calls: Sequence[ImplCall], wrappers: Sequence[ImplCall]) -> None:
        """Install a new call plan; the call functions are generated on first use."""
        self._calls = tuple(calls)
        self._wrappers = tuple(wrappers)
        self._install(None, None)

    def _install(self, call: Runner | None, attributed: Runner | None) -> None:
        cls = type(self)
        if cls is OrderedHookCaller:
            return
        if self._wrappers:
            call, attributed = _wrapped_call, _wrapped_call_attributed
        setattr(cls, "__call__", call or _build_and_call)  # noqa: B010
        setattr(cls, "call_ordered", call or _build_and_call)  # noqa: B010
        setattr(cls, "call_attributed", attributed or _build_and_call_attributed)  # noqa: B010

    @property
    def calls(self) -> tuple[ImplCall, ...]:
        """The non-wrapper implementations, in call order."""
        return self._calls

    @property
    def wrappers(self) -> tuple[ImplCall, ...]:
        """The wrappers, outermost first."""
        return self._wrappers

    def _firstresult(self) -> bool:
        return bool(self.spec is not None and self.spec.opts.get("firstresult", False))

    def build(self, attributed: bool) -> Runner:
        """Generate (and install) the call function for the current plan."""
        calls = self._calls

        def recover(kwargs: Mapping[str, Any], at: int, exc: Exception, results: list[Any]) -> Any:
            return self._recover(calls, kwargs, at, exc, results, attributed)

        spec_args = self.spec.argnames if self.spec is not None else ()
        runner = compile_runner(
            self.name,
            spec_args,
            calls,
            recover,
            attributed=attributed,
            firstresult=self._firstresult(),
        )
        cls = type(self)
        if not self._wrappers and cls is not OrderedHookCaller:
            for method in ("call_attributed",) if attributed else ("__call__", "call_ordered"):
                setattr(cls, method, runner)
        return runner

    # -- calling (replaced per hook by the generated functions) ---------------------------------

    def __call__(self, **kwargs: object) -> Any:
        return self.build(False)(self, **kwargs)

    def call_ordered(self, **kwargs: object) -> Any:
        """The same as calling the hook, as a method call.

        CPython calls an instance of a Python class through a slower protocol than a method
        (it packs the keyword arguments into a dict first: about 0.35 µs per call here), so
        the trainer calls hooks through this method and :meth:`call_attributed`.
        """
        return self.build(False)(self, **kwargs)

    def call_attributed(self, **kwargs: object) -> list[tuple[str, Any]]:
        """Call the hook; return ``(plugin_name, result)`` for every non-``None`` result."""
        result: list[tuple[str, Any]] = self.build(True)(self, **kwargs)
        return result

    def _recover(
        self,
        calls: tuple[ImplCall, ...],
        kwargs: Mapping[str, Any],
        at: int,
        exc: Exception,
        results: list[Any],
        attributed: bool,
    ) -> Any:
        """Apply the failed plugin's error policy, then call the remaining implementations."""
        self._manager.handle_failure(self.name, calls[at].plugin_name, exc)
        firstresult = self._firstresult()
        for index in range(at + 1, len(calls)):
            call = calls[index]
            if not self._manager.is_active(call.plugin_name):
                continue
            try:
                result = call.call(kwargs)
            except Exception as later:
                self._manager.handle_failure(self.name, call.plugin_name, later)
                continue
            if result is None:
                continue
            if firstresult:
                return result
            results.append((call.plugin_name, result) if attributed else result)
        return None if firstresult else results

    def call_wrapped(self, kwargs: Mapping[str, Any], attributed: bool) -> Any:
        """Run wrappers (outermost first) around the inner call, with pluggy's semantics."""
        teardowns: list[tuple[ImplCall, Any]] = []
        result: Any = None
        error: BaseException | None = None
        inner: Any = None
        try:
            for wrapper in self._wrappers:
                generator = wrapper.call(kwargs)
                try:
                    next(generator)
                except StopIteration:
                    raise RuntimeError(
                        f"wrapper of plugin {wrapper.plugin_name!r} for hook {self.name!r} "
                        "did not yield"
                    ) from None
                teardowns.append((wrapper, generator))
            inner = self.build(attributed)(self, **kwargs)
        except BaseException as exc:
            error = exc
        plain = [r for _, r in inner] if attributed and inner is not None else inner
        result = plain
        for wrapper, generator in reversed(teardowns):
            result, error = _teardown(wrapper, generator, result, error, self.name)
        if error is not None:
            raise error
        if attributed:
            if result is plain:
                return inner
            return [(self._wrappers[0].plugin_name, r) for r in (result or [])]
        return result


def _build_and_call(self: OrderedHookCaller, **kwargs: Any) -> Any:
    return self.build(False)(self, **kwargs)


def _build_and_call_attributed(self: OrderedHookCaller, **kwargs: Any) -> Any:
    return self.build(True)(self, **kwargs)


def _wrapped_call(self: OrderedHookCaller, **kwargs: Any) -> Any:
    return self.call_wrapped(kwargs, attributed=False)


def _wrapped_call_attributed(self: OrderedHookCaller, **kwargs: Any) -> Any:
    return self.call_wrapped(kwargs, attributed=True)


def make_caller(name: str, hook_execute: Any, manager: PluginManager) -> OrderedHookCaller:
    """Create the caller of hook ``name``: the single instance of a subclass of its own."""
    cls = type(f"OrderedHookCaller[{name}]", (OrderedHookCaller,), {"__slots__": ()})
    caller: OrderedHookCaller = cls(name, hook_execute, manager)
    return caller


def _teardown(
    wrapper: ImplCall, generator: Any, result: Any, error: BaseException | None, hook: str
) -> tuple[Any, BaseException | None]:
    """Finish one wrapper: send the result (or throw the error) into its generator."""
    if wrapper.wrapper == "old":
        outcome: pluggy.Result[Any] = pluggy.Result(result, error)
        try:
            generator.send(outcome)
        except StopIteration:
            pass
        else:
            return result, RuntimeError(
                f"hookwrapper of plugin {wrapper.plugin_name!r} for hook {hook!r} yielded twice"
            )
        if outcome.exception is not None:
            return None, outcome.exception
        return outcome.get_result(), None
    try:
        if error is not None:
            generator.throw(error)
        else:
            generator.send(result)
    except StopIteration as stop:
        return stop.value, None
    except BaseException as exc:
        return None, exc
    return result, RuntimeError(
        f"wrapper of plugin {wrapper.plugin_name!r} for hook {hook!r} yielded twice"
    )
