"""The trainer's positional call path (``caller.call_args``) and implementations whose result
the generated code does not test (they can only return ``None``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hookwise import Callback, PluginManager, hookimpl
from hookwise.plugins.codegen import returns_none


def _pass() -> None:
    pass


def _none() -> None:
    return None


def _value() -> int:
    return 1


def _maybe(flag: bool) -> Any:
    if flag:
        return None
    return flag


def _early(flag: bool) -> None:
    if flag:
        return
    print("late")


def _generator() -> Iterator[None]:
    yield None


def _handled() -> None:
    try:
        _value()
    except ValueError:
        return None
    finally:
        pass


class _Owner:
    def method(self) -> None:
        pass

    def returns(self) -> Any:
        return self


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        (_pass, True),
        (_none, True),
        (_early, True),
        (_handled, True),
        (lambda: None, True),
        (_Owner().method, True),
        (_value, False),
        (_maybe, False),
        (_generator, False),
        (_Owner().returns, False),
        (len, False),
        (_Owner, False),
    ],
)
def test_returns_none_only_when_every_return_is_the_constant_none(
    function: Any, expected: bool
) -> None:
    assert returns_none(function) is expected


class _Quiet(Callback):
    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.calls, self.fail = 0, fail

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.calls += 1
        if self.fail:
            raise RuntimeError("boom")


class _Logs(Callback):
    def __init__(self, seen: list[Any] | None = None) -> None:
        super().__init__()
        self.seen = seen

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> Any:
        if self.seen is not None:
            self.seen.append(list(trainer_state["caller"].partial))
        return {"step": batch_idx}


def _call(pm: PluginManager, state: Any = None) -> Any:
    return pm.caller("on_train_batch_end").call_args(state or {}, "model", "loss", {}, {}, 7)


def test_call_args_takes_the_arguments_in_spec_order_and_attributes_results() -> None:
    pm = PluginManager()
    quiet = _Quiet()
    pm.register(quiet, "quiet")
    caller = pm.caller("on_train_batch_end")
    assert caller.args_order() == tuple(caller.spec.argnames)
    for _ in range(2):  # the first call installs the generated code, the second runs it
        assert _call(pm) == ()
    pm.register(_Logs(), "logs")
    for _ in range(2):
        assert _call(pm) == [("logs", {"step": 7})]
    keyword = caller.call_attributed(
        trainer_state={}, model=None, loss_module=None, outputs=None, batch=None, batch_idx=7
    )
    assert keyword == [("logs", {"step": 7})]
    pm.unregister(name="logs")
    assert _call(pm) == ()
    assert quiet.calls == 6
    with pytest.raises(TypeError):
        caller.call_args({}, None)


def test_call_args_shows_the_results_so_far_while_it_runs() -> None:
    pm = PluginManager()
    seen: list[Any] = []
    pm.register(_Logs(), "first")
    pm.register(_Logs(seen), "second")
    caller = pm.caller("on_train_batch_end")
    for _ in range(2):
        _call(pm, {"caller": caller})
    assert seen == [[("first", {"step": 7})]] * 2
    assert caller.partial is None


@pytest.mark.parametrize("failing", [0, 1, 2])
def test_a_failure_on_call_args_is_blamed_on_its_plugin(
    failing: int, caplog: pytest.LogCaptureFixture
) -> None:
    pm = PluginManager()
    plugins = [_Quiet(fail=i == failing) for i in range(3)]
    for index, plugin in enumerate(plugins):
        pm.register(plugin, f"p{index}", on_error="warn")
    for _ in range(2):
        assert _call(pm) == []
    assert [p.calls for p in plugins] == [2, 2, 2]
    assert f"'p{failing}'" in caplog.text and "boom" in caplog.text
    for other in {0, 1, 2} - {failing}:
        assert f"plugin 'p{other}'" not in caplog.text
    assert pm.caller("on_train_batch_end").partial is None


def test_a_failure_on_call_args_raises_under_the_raise_policy() -> None:
    pm = PluginManager()
    pm.register(_Quiet(fail=True), "bad")
    with pytest.raises(RuntimeError, match="boom"):
        _call(pm)
    with pytest.raises(RuntimeError, match="boom"):
        _call(pm)


class _Wrapper:
    def __init__(self) -> None:
        self.wrapped = 0

    @hookimpl(wrapper=True)
    def on_train_batch_end(self, batch_idx: int) -> Any:
        self.wrapped += 1
        return (yield)


def test_call_args_goes_pluggy_s_way_with_a_wrapper_or_a_monitor() -> None:
    pm = PluginManager()
    wrapper = _Wrapper()
    pm.register(_Logs(), "logs")
    pm.register(wrapper, "wrapper")
    assert _call(pm) == [("logs", {"step": 7})]
    assert wrapper.wrapped == 1
    pm.unregister(name="wrapper")
    seen: list[str] = []
    undo = pm.add_hookcall_monitoring(lambda name, *_: seen.append(name), lambda *_: None)
    assert _call(pm) == [("logs", {"step": 7})]
    assert seen == ["on_train_batch_end"]
    undo()
    assert _call(pm) == [("logs", {"step": 7})]
    assert seen == ["on_train_batch_end"]
