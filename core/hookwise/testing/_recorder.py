"""``HookRecorder``: every hook call of a run, in order, with its arguments and who answered."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hookwise.hookspecs import hookimpl
from hookwise.plugins import PluginManager
from hookwise.testing._recorder_checks import (
    RecorderAssertions,
    check_hook_name,
    compress,
    short,
)

if TYPE_CHECKING:
    from hookwise._dispatch import ImplCall


@dataclass
class HookCall:
    """One hook call as a plugin answered it.

    :param hook: the hook's name.
    :param plugin: the name of the plugin whose implementation ran, or ``None`` when no plugin
        implements the hook (the trainer still called it; the record keeps the arguments).
    :param kwargs: every argument of the hook call, by name (not copied: ``trainer_state`` is a
        fresh dict per call, so its values are those of the call; ``model`` is the live model).
    :param result: what the implementation returned.
    :param exception: what it raised, if it raised.
    :param invocation: the number of the hook call this record belongs to; the records of the
        plugins that answered one call share it.
    """

    hook: str
    plugin: str | None
    kwargs: dict[str, Any]
    result: Any = None
    exception: BaseException | None = None
    invocation: int = 0

    def value(self, arg: str) -> Any:
        """The argument ``arg``; a dotted name reads into it: ``"trainer_state.global_step"``."""
        name, _, rest = arg.partition(".")
        if name not in self.kwargs:
            raise KeyError(
                f"hook {self.hook!r} has no argument {name!r}; its arguments are "
                f"{sorted(self.kwargs)}"
            )
        value = self.kwargs[name]
        for part in rest.split(".") if rest else []:
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif hasattr(value, part):
                value = getattr(value, part)
            else:
                keys = sorted(map(str, value)) if isinstance(value, Mapping) else None
                raise KeyError(
                    f"hook {self.hook!r}: {arg!r} has no {part!r}"
                    + (f"; there are {keys}" if keys is not None else "")
                )
        return value

    def __repr__(self) -> str:
        by = f" by {self.plugin!r}" if self.plugin else " (no plugin)"
        args = ", ".join(f"{k}={short(v)}" for k, v in self.kwargs.items() if k not in _BULKY_ARGS)
        return f"<{self.hook}{by}: {args}>"


#: Arguments left out of a record's short form (they are large and the same every call).
_BULKY_ARGS = ("trainer_state", "model", "loss_module", "outputs", "batch", "optimizer")


class _Invocation:
    __slots__ = ("answered", "hook", "kwargs", "number", "placeholder")

    def __init__(self, hook: str, kwargs: dict[str, Any], number: int, placeholder: HookCall):
        self.hook = hook
        self.kwargs = kwargs
        self.number = number
        self.placeholder = placeholder
        self.answered = False


class _RecorderSpy:
    """Registered in each recorded manager: a ``wrapper=True, tryfirst=True`` implementation of
    every hook, so that every hook call is seen with all its arguments (and the trainer calls
    hooks no plugin implements, too)."""

    def __init__(self, recorder: HookRecorder, pm: PluginManager) -> None:
        for hook in pm.hook_names:
            caller = pm.caller(hook)
            argnames = tuple(caller.spec.argnames) if caller.spec is not None else ()
            setattr(self, hook, _make_spy_impl(hook, argnames, recorder._around))

    def __repr__(self) -> str:
        return "<hookwise.testing hook recorder>"


def _make_spy_impl(
    hook: str, argnames: tuple[str, ...], around: Callable[..., Any]
) -> Callable[..., Any]:
    # pluggy reads an implementation's argument names from its code object, so the function is
    # generated with the hook's exact parameters (as dataclasses generates __init__).
    args = ", ".join(argnames)
    mapping = "{" + ", ".join(f"{name!r}: {name}" for name in argnames) + "}"
    source = f"def {hook}({args}):\n    return (yield from around({hook!r}, {mapping}))\n"
    namespace: dict[str, Any] = {"around": around}
    exec(compile(source, f"<hookwise.testing recorder: {hook}>", "exec"), namespace)
    function: Callable[..., Any] = hookimpl(wrapper=True, tryfirst=True)(namespace[hook])
    return function


class HookRecorder(RecorderAssertions):
    """Records every hook call of the plugin managers it is attached to.

    Each :class:`HookCall` in :attr:`calls` is one plugin answering one hook call, with every
    argument of the call and what the plugin returned or raised; a hook call that no plugin
    implements is recorded once with ``plugin=None``. When several plugins answer one call,
    their records share :attr:`HookCall.invocation`.

    The query and assertion helpers count *hook calls* (one per invocation) unless ``plugin``
    is given, in which case they count that plugin's answers::

        result = run_fit(["my_plugin"], epochs=2, batches=3)
        calls = result.calls
        calls.assert_called("on_train_batch_end", times=6, batch_idx=[0, 1, 2, 0, 1, 2])
        calls.assert_called("on_validation_end", times=2, plugin="my_plugin")
        calls.assert_order("on_test_epoch_end", "on_validation_end")
        assert calls.values("on_train_epoch_end", "trainer_state.current_epoch") == [0, 1]

    Attach it yourself with :meth:`attach` (``HookRecorder().attach(pm)``), or use the
    ``hook_recorder`` fixture (which records every manager created during the test) or
    :attr:`FitResult.calls`. ``on_exception`` is recorded when a plugin implements it (the
    trainer calls its implementations one by one). Recording forces every hook to be called
    (the trainer skips hooks nobody implements), so recorded runs are slower; timings belong
    in unrecorded runs.
    """

    def __init__(self) -> None:
        #: Every record, in call order.
        self.calls: list[HookCall] = []
        self._stack: list[_Invocation] = []
        self._count = 0
        self._attached: list[
            tuple[PluginManager, str, Callable[[ImplCall], Callable[..., Any]]]
        ] = []

    # -- attaching --------------------------------------------------------------------------------

    def attach(self, pm: PluginManager) -> HookRecorder:
        """Start recording ``pm``'s hook calls (plugins registered later included); returns self."""
        if any(attached is pm for attached, _, _ in self._attached):
            return self
        spy = _RecorderSpy(self, pm)
        name = "hookwise.testing.recorder"
        index = 1
        while pm.get_plugin(name) is not None or pm.is_blocked(name):
            index += 1
            name = f"hookwise.testing.recorder#{index}"
        pm.register(spy, name)
        wrapper = self._impl_wrapper
        pm.add_impl_wrapper(wrapper)
        self._attached.append((pm, name, wrapper))
        return self

    def detach(self, pm: PluginManager | None = None) -> None:
        """Stop recording ``pm`` (every attached manager when ``None``); the records stay."""
        keep = []
        for attached, name, wrapper in self._attached:
            if pm is None or attached is pm:
                if attached.get_plugin(name) is not None:
                    attached.unregister(name=name)
                with contextlib.suppress(ValueError):
                    attached.remove_impl_wrapper(wrapper)
            else:
                keep.append((attached, name, wrapper))
        self._attached = keep

    @property
    def managers(self) -> list[PluginManager]:
        """The plugin managers being recorded."""
        return [pm for pm, _, _ in self._attached]

    # -- recording --------------------------------------------------------------------------------

    def _open(self, hook: str, kwargs: dict[str, Any]) -> _Invocation:
        self._count += 1
        placeholder = HookCall(hook, None, kwargs, invocation=self._count)
        self.calls.append(placeholder)
        invocation = _Invocation(hook, kwargs, self._count, placeholder)
        self._stack.append(invocation)
        return invocation

    def _close(self, invocation: _Invocation) -> None:
        if self._stack and self._stack[-1] is invocation:
            self._stack.pop()
        elif invocation in self._stack:
            self._stack.remove(invocation)

    def _around(self, hook: str, kwargs: dict[str, Any]) -> Any:
        invocation = self._open(hook, kwargs)
        try:
            result = yield
        finally:
            self._close(invocation)
        return result

    def _answer(self, hook: str, plugin: str, kwargs: dict[str, Any]) -> HookCall:
        invocation = self._stack[-1] if self._stack and self._stack[-1].hook == hook else None
        if invocation is None:
            # Called outside the manager's hook call (the trainer runs on_exception's
            # implementations one by one): the record is its own invocation.
            self._count += 1
            record = HookCall(hook, plugin, kwargs, invocation=self._count)
            self.calls.append(record)
            return record
        if not invocation.answered:
            invocation.answered = True
            invocation.placeholder.plugin = plugin
            return invocation.placeholder
        record = HookCall(hook, plugin, invocation.kwargs, invocation=invocation.number)
        self.calls.append(record)
        return record

    def _impl_wrapper(self, call: ImplCall) -> Callable[..., Any]:
        function = call.function
        hook, plugin, argnames = call.hook, call.plugin_name, call.argnames
        answer = self._answer

        def recorded(*args: Any, **kwargs: Any) -> Any:
            arguments = dict(zip(argnames, args, strict=False))
            arguments.update(kwargs)
            record = answer(hook, plugin, arguments)
            try:
                result = function(*args, **kwargs)
            except BaseException as exc:
                record.exception = exc
                raise
            record.result = result
            return result

        return recorded

    # -- queries ----------------------------------------------------------------------------------

    def clear(self) -> None:
        """Forget the records (recording goes on)."""
        self.calls.clear()

    def __len__(self) -> int:
        return len(self.calls)

    def __iter__(self) -> Iterator[HookCall]:
        return iter(self.calls)

    def _select(self, hook: str | None, plugin: str | None) -> list[HookCall]:
        if hook is not None:
            check_hook_name(hook)
        if plugin is not None:
            return [
                c for c in self.calls if c.plugin == plugin and (hook is None or c.hook == hook)
            ]
        seen: set[int] = set()
        selected = []
        for record in self.calls:
            if record.invocation in seen:
                continue
            seen.add(record.invocation)
            if hook is None or record.hook == hook:
                selected.append(record)
        return selected

    def hooks(self, plugin: str | None = None) -> list[str]:
        """Hook names in call order, one per call (or per answer of ``plugin``)."""
        return [c.hook for c in self._select(None, plugin)]

    def of(self, hook: str, plugin: str | None = None) -> list[HookCall]:
        """The calls of ``hook``: one record per call, or ``plugin``'s answers."""
        return self._select(hook, plugin)

    def values(self, hook: str, arg: str, plugin: str | None = None) -> list[Any]:
        """The value of argument ``arg`` in each call of ``hook`` (dotted names read into it)."""
        return [record.value(arg) for record in self._select(hook, plugin)]

    def results(self, hook: str, plugin: str | None = None) -> list[Any]:
        """What the plugins returned from ``hook`` (``plugin``'s results only, if given)."""
        check_hook_name(hook)
        return [
            c.result
            for c in self.calls
            if c.hook == hook and c.plugin is not None and (plugin is None or c.plugin == plugin)
        ]

    def plugins(self, hook: str | None = None) -> list[str]:
        """The plugins that answered ``hook`` (any hook when ``None``), in first-answer order."""
        names: list[str] = []
        for record in self.calls:
            plugin = record.plugin
            if plugin is not None and (hook is None or record.hook == hook) and plugin not in names:
                names.append(plugin)
        return names

    def __repr__(self) -> str:
        return f"<HookRecorder: {len(self.calls)} records: {compress(self.hooks())}>"
