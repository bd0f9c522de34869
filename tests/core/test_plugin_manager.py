"""PluginManager: discovery from metadata, enabling by name, ordering, validation, errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pluggy
import pytest
from hookwise import (
    Callback,
    ConfigError,
    PluginBlockedError,
    PluginLoadError,
    PluginManager,
    PluginNotFoundError,
    PluginValidationError,
    hookimpl,
    normalize_name,
)

PLUGIN_MODULE = """
from hookwise import Callback, hookimpl

IMPORTED = True

class Recorder(Callback):
    '''Records calls.

    :param tag: a tag.
    '''
    def __init__(self, tag="x", **kwargs):
        super().__init__(**kwargs)
        self.tag = tag
        self.seen = []

    def on_train_epoch_start(self, trainer_state, model, loss_module):
        self.seen.append(("epoch_start", self.tag))

def factory(count=2):
    return [Recorder(tag=f"f{i}") for i in range(count)]

@hookimpl
def on_fit_start(trainer_state):
    trainer_state.setdefault("seen", []).append("module")
"""


def call_epoch_start(pm: PluginManager) -> list[Any]:
    return pm.hook.on_train_epoch_start(trainer_state={}, model=None, loss_module=None)  # type: ignore[no-any-return]


class Named(Callback):
    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__()
        self.name, self.log = name, log

    def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> str:
        self.log.append(self.name)
        return self.name


def test_names_compare_like_pip_project_names() -> None:
    assert normalize_name("Early_Stopping") == normalize_name("early-stopping") == "early-stopping"
    assert normalize_name("a.b__c") == "a-b-c"


def test_discovery_reads_metadata_without_importing(fake_dist: Callable[..., Path]) -> None:
    fake_dist(
        "demo-dist", {"demo": "hw_demo_noimport:Recorder"}, {"hw_demo_noimport": PLUGIN_MODULE}
    )
    pm = PluginManager()
    listed = {p.name: p for p in pm.installed()}
    assert listed["demo"].distribution == "demo-dist"
    assert listed["demo"].version == "1.0"
    assert listed["demo"].target == "hw_demo_noimport:Recorder"
    assert "hw_demo_noimport" not in sys.modules


def test_enable_by_name_builds_callback_with_params(fake_dist: Callable[..., Path]) -> None:
    fake_dist(
        "demo-dist", {"demo_plugin": "hw_demo_enable:Recorder"}, {"hw_demo_enable": PLUGIN_MODULE}
    )
    pm = PluginManager()
    names = pm.enable(
        "Demo-Plugin", tag="t1", epoch_based=False, train_connector={"x": {"data": "x"}}
    )
    assert names == ["demo_plugin"]
    plugin = pm.get_plugin("demo_plugin")
    assert plugin.tag == "t1" and plugin.epoch_based is False
    assert plugin.train_connector({}, {"x": 5}) == {"x": 5}
    call_epoch_start(pm)
    assert plugin.seen == [("epoch_start", "t1")]


def test_second_instance_has_its_own_name_and_params(fake_dist: Callable[..., Path]) -> None:
    fake_dist("demo-dist", {"demo": "hw_demo_inst:Recorder"}, {"hw_demo_inst": PLUGIN_MODULE})
    pm = PluginManager()
    pm.enable("demo", tag="a")
    pm.enable("demo@second", tag="b")
    assert pm.plugin_names() == ["demo", "demo@second"]
    assert pm.get_plugin("demo@second").tag == "b"
    with pytest.raises(ConfigError, match="already enabled"):
        pm.enable("demo")


def test_factory_returning_several_plugins(fake_dist: Callable[..., Path]) -> None:
    fake_dist("demo-dist", {"demo": "hw_demo_factory:factory"}, {"hw_demo_factory": PLUGIN_MODULE})
    pm = PluginManager()
    assert pm.enable("demo", count=3) == ["demo", "demo#1", "demo#2"]


def test_module_of_hookimpl_functions(fake_dist: Callable[..., Path]) -> None:
    fake_dist("demo-dist", {"demo": "hw_demo_module"}, {"hw_demo_module": PLUGIN_MODULE})
    pm = PluginManager()
    pm.enable("demo")
    state: dict[str, Any] = {}
    pm.hook.on_fit_start(trainer_state=state, model=None)
    assert state["seen"] == ["module"]
    with pytest.raises(ConfigError, match="takes no parameters"):
        PluginManager().enable("demo", tag=1)


def test_import_path_without_entry_point(fake_dist: Callable[..., Path]) -> None:
    fake_dist("other", {}, {"hw_demo_path": PLUGIN_MODULE})
    pm = PluginManager()
    assert pm.enable("hw_demo_path:Recorder", tag="p") == ["hw_demo_path:Recorder"]
    with pytest.raises(PluginLoadError, match=r"has no attribute 'Recordr'.*'Recorder'"):
        pm.enable("hw_demo_path:Recordr")
    with pytest.raises(PluginLoadError, match="cannot import module 'no_such_module_xyz'"):
        pm.enable("no_such_module_xyz:Thing")


def test_unknown_name_suggests_closest(fake_dist: Callable[..., Path]) -> None:
    fake_dist(
        "demo-dist",
        {"early_stopping": "hw_demo_unknown:Recorder"},
        {"hw_demo_unknown": PLUGIN_MODULE},
    )
    with pytest.raises(PluginNotFoundError, match="Did you mean 'early_stopping'"):
        PluginManager().enable("early_stoping")


def test_one_name_from_two_distributions_names_both(fake_dist: Callable[..., Path]) -> None:
    modules = {"hw_demo_dup": PLUGIN_MODULE}
    fake_dist("first-dist", {"dup": "hw_demo_dup:Recorder"}, modules)
    fake_dist("second-dist", {"dup": "hw_demo_dup:factory"})
    with pytest.raises(PluginLoadError, match=r"first-dist.*second-dist"):
        PluginManager().enable("dup")


def test_plugin_failing_to_import_names_plugin_distribution_cause(
    fake_dist: Callable[..., Path],
) -> None:
    fake_dist(
        "broken-dist",
        {"broken": "hw_demo_broken:X"},
        {"hw_demo_broken": "raise RuntimeError('boom')"},
    )
    pm = PluginManager()
    assert "broken" in [p.name for p in pm.installed()]  # listing still works
    with pytest.raises(PluginLoadError, match=r"'broken' \(distribution broken-dist 1.0\).*boom"):
        pm.enable("broken")


def test_plugin_raising_in_constructor(fake_dist: Callable[..., Path]) -> None:
    source = "class Bad:\n    def __init__(self):\n        raise OSError('no disk')\n"
    fake_dist("bad-dist", {"bad": "hw_demo_ctor:Bad"}, {"hw_demo_ctor": source})
    with pytest.raises(PluginLoadError, match="raised while being built: OSError: no disk"):
        PluginManager().enable("bad")


def test_unknown_parameter_lists_accepted(fake_dist: Callable[..., Path]) -> None:
    fake_dist("demo-dist", {"demo": "hw_demo_params:Recorder"}, {"hw_demo_params": PLUGIN_MODULE})
    with pytest.raises(ConfigError, match=r"no parameter\(s\) \['tga'\].*'tag'.*'epoch_based'"):
        PluginManager().enable("demo", tga=1)


def test_on_error_is_reserved_and_validated(fake_dist: Callable[..., Path]) -> None:
    fake_dist("demo-dist", {"demo": "hw_demo_policy:Recorder"}, {"hw_demo_policy": PLUGIN_MODULE})
    pm = PluginManager()
    pm.enable("demo", on_error="warn")
    assert pm.error_policy("demo") == "warn"
    with pytest.raises(ConfigError, match="on_error must be one of"):
        pm.enable("demo@x", on_error="explode")


def test_block_and_allow_list(
    fake_dist: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dist("demo-dist", {"demo": "hw_demo_block:Recorder"}, {"hw_demo_block": PLUGIN_MODULE})
    pm = PluginManager()
    pm.enable("demo")
    pm.block("demo")
    assert pm.plugin_names() == []
    with pytest.raises(PluginBlockedError, match="blocked"):
        pm.enable("demo@again")
    monkeypatch.setenv("HOOKWISE_ALLOWED_PLUGINS", "other, something")
    with pytest.raises(PluginBlockedError, match="HOOKWISE_ALLOWED_PLUGINS"):
        PluginManager().enable("demo")
    assert "hw_demo_block" in sys.modules  # imported by the first enable only
    monkeypatch.setenv("HOOKWISE_ALLOWED_PLUGINS", "Demo")
    assert PluginManager().enable("demo") == ["demo"]


def test_hooks_run_in_enabled_order_with_tryfirst_and_trylast() -> None:
    log: list[str] = []

    class First(Named):
        @hookimpl(tryfirst=True)
        def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> str:
            return super().on_train_epoch_start(trainer_state, model, loss_module)

    class Last(Named):
        @hookimpl(trylast=True)
        def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> str:
            return super().on_train_epoch_start(trainer_state, model, loss_module)

    pm = PluginManager()
    for plugin in (Last("last", log), Named("a", log), First("first", log), Named("b", log)):
        pm.register(plugin, plugin.name)
    assert call_epoch_start(pm) == ["first", "a", "b", "last"]
    assert log == ["first", "a", "b", "last"]
    assert pm.hook_order("on_train_epoch_start") == ["first", "a", "b", "last"]
    pm.unregister(name="a")
    assert call_epoch_start(pm) == ["first", "b", "last"]
    assert pm.caller("on_train_epoch_start").call_attributed(
        trainer_state={}, model=None, loss_module=None
    ) == [("first", "first"), ("b", "b"), ("last", "last")]


def test_one_order_on_every_call_path() -> None:
    """pm.hook, call_extra, call_historic, subset_hook_caller, pluggy's own loop over
    get_hookimpls(), the trainer's path and a monitored call all run enabled order (before the
    plugin-core change, every path but pm.hook ran pluggy's last-registered-first order)."""
    log: list[str] = []
    pm = PluginManager()
    for name in ("a", "b", "c"):
        pm.register(Named(name, log), name)
    kwargs = {"trainer_state": {}, "model": None, "loss_module": None}
    caller = pm.caller("on_train_epoch_start")
    impls = caller.get_hookimpls()
    assert pm._hookexec("on_train_epoch_start", impls, kwargs, False) == ["a", "b", "c"]
    assert call_epoch_start(pm) == ["a", "b", "c"]
    assert caller.call_ordered(**kwargs) == ["a", "b", "c"]
    assert caller.call_extra([], kwargs) == ["a", "b", "c"]
    subset = pm.subset_hook_caller("on_train_epoch_start", [pm.get_plugin("b")])
    assert subset(**kwargs) == ["a", "c"]
    seen: list[list[str]] = []
    undo = pm.add_hookcall_monitoring(
        lambda hook, methods, kw: seen.append([m.plugin_name for m in methods]),
        lambda outcome, hook, methods, kw: None,
    )
    assert call_epoch_start(pm) == ["a", "b", "c"]
    assert caller.call_ordered(**kwargs) == ["a", "b", "c"]
    undo()
    assert seen == [["c", "b", "a"], ["c", "b", "a"]]  # pluggy's list, iterated reversed
    assert call_epoch_start(pm) == ["a", "b", "c"]


def test_historic_calls_run_in_enabled_order() -> None:
    class Spec:
        @pluggy.HookspecMarker("hookwise")(historic=True)
        def announce(self, value: int) -> None: ...

    pm = PluginManager()
    pm.add_hookspecs(Spec)
    out: list[str] = []

    class Listener:
        def __init__(self, name: str) -> None:
            self.name = name

        @hookimpl
        def announce(self, value: int) -> None:
            out.append(f"{self.name}{value}")

    pm.register(Listener("a"), "a")
    pm.register(Listener("b"), "b")
    pm.hook.announce.call_historic(kwargs={"value": 1})
    pm.register(Listener("c"), "c")  # replayed on registration
    assert out == ["a1", "b1", "c1"]


def test_new_style_and_old_style_wrappers() -> None:
    log: list[str] = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def on_train_epoch_start(self, trainer_state: Any) -> Any:
            log.append("before")
            result = yield
            log.append(f"after {result}")
            return [*result, "wrapped"]

    class OldWrapper:
        @hookimpl(hookwrapper=True)
        def on_train_epoch_start(self) -> Any:
            log.append("old before")
            outcome = yield
            log.append(f"old after {outcome.get_result()}")

    pm = PluginManager()
    pm.register(OldWrapper(), "old")
    pm.register(Named("a", log), "a")
    pm.register(Wrapper(), "wrapper")
    assert call_epoch_start(pm) == ["a", "wrapped"]
    assert log == ["old before", "before", "a", "after ['a']", "old after ['a', 'wrapped']"]


def test_wrapper_sees_and_can_suppress_exceptions() -> None:
    class Boom(Callback):
        def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
            raise ValueError("boom")

    class Guard:
        @hookimpl(wrapper=True)
        def on_train_epoch_start(self) -> Any:
            try:
                yield
            except ValueError as exc:
                return [f"caught {exc}"]

    pm = PluginManager()
    pm.register(Boom(), "boom")
    pm.register(Guard(), "guard")
    assert call_epoch_start(pm) == ["caught boom"]


def test_callback_receives_dataloader_idx_despite_default() -> None:
    seen: list[int] = []

    class Test(Callback):
        def on_test_batch_end(
            self,
            trainer_state: Any,
            model: Any,
            outputs: Any,
            batch: Any,
            batch_idx: int,
            dataloader_idx: int = 0,
        ) -> None:
            seen.append(dataloader_idx)

    pm = PluginManager()
    pm.register(Test(), "t")
    pm.hook.on_test_batch_end(
        trainer_state={}, model=None, outputs={}, batch={}, batch_idx=0, dataloader_idx=7
    )
    assert seen == [7]


def test_callback_with_variadic_signature_gets_keywords() -> None:
    got: dict[str, Any] = {}

    class Variadic(Callback):
        def on_train_batch_start(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
            got.update(kwargs)

    pm = PluginManager()
    pm.register(Variadic(), "v")
    pm.hook.on_train_batch_start(trainer_state={}, model=1, loss_module=2, batch=3, batch_idx=4)
    assert got == {"trainer_state": {}, "model": 1, "loss_module": 2, "batch": 3, "batch_idx": 4}


def test_not_overridden_hooks_are_not_called() -> None:
    class Only(Callback):
        def on_fit_end(self, trainer_state: Any, model: Any) -> None:
            pass

    pm = PluginManager()
    pm.register(Only(), "only")
    assert [h for h in pm.hook_names if pm.hook_order(h)] == ["on_fit_end"]


def test_misspelled_hookimpl_is_pending_for_register_and_an_error_when_enabled() -> None:
    class Typo:
        @hookimpl
        def on_train_batch_ends(self, batch_idx: int) -> None:
            pass

    pm = PluginManager()
    pm.register(Typo(), "typo")  # pluggy's rule: an unknown hook is pending
    with pytest.raises(
        PluginValidationError, match=r"unknown hook 'on_train_batch_ends'.*'on_train_batch_end'"
    ) as pending:
        pm.check_pending()
    assert isinstance(pending.value, pluggy.PluginValidationError)
    assert isinstance(pending.value.plugin, Typo)
    pm.unregister(name="typo")
    with pytest.raises(
        PluginValidationError,
        match=r"'typo'.*no hook named 'on_train_batch_ends'.*'on_train_batch_end'",
    ):
        pm.enable_object(Typo(), "typo")
    assert pm.plugin_names() == []


def test_optional_and_early_hookimpls_follow_pluggy() -> None:
    class Later:
        @hookimpl(optionalhook=True)
        def on_something_optional(self) -> None:
            pass

        @hookimpl
        def on_custom(self, value: int) -> int:
            return value * 2

    pm = PluginManager()
    pm.register(Later(), "later")
    with pytest.raises(PluginValidationError, match="on_custom"):
        pm.check_pending()

    class Spec:
        @pluggy.HookspecMarker("hookwise")
        def on_custom(self, value: int) -> int: ...

    pm.add_hookspecs(Spec)  # registered before its spec: verified now, as pluggy does
    pm.check_pending()
    assert pm.hook.on_custom(value=3) == [6]


def test_unmarked_misspelled_callback_method_warns() -> None:
    class Typo(Callback):
        def on_train_epoch_ended(self, trainer_state: Any) -> None:
            pass

    with pytest.warns(
        UserWarning, match="'on_train_epoch_ended' is not a hookwise hook.*'on_train_epoch_end'"
    ):
        PluginManager().register(Typo(), "typo")
    with pytest.raises(
        PluginValidationError, match=r"'on_train_epoch_ended'.*'on_train_epoch_end'"
    ):
        PluginManager().enable_object(Typo(), "typo")


def test_object_without_hooks_is_an_error_when_enabled() -> None:
    class NotAPlugin:
        def on_train_batch_end(self, trainer_state: Any) -> None:  # no marker, no Callback
            pass

    pm = PluginManager()
    with pytest.raises(
        PluginValidationError, match=r"'yolox'.*NotAPlugin.*implements no hook.*hookwise.Callback"
    ):
        pm.enable_object(NotAPlugin(), "yolox")
    assert pm.plugin_names() == []
    pm.register(NotAPlugin(), "plain")  # pluggy registers anything


def test_argument_the_hook_lacks_is_an_error() -> None:
    class Wrong:
        @hookimpl
        def on_train_epoch_start(self, trainer_state: Any, optimizer: Any) -> None:
            pass

    with pytest.raises(
        PluginValidationError,
        match=r"(?s)'wrong' for hook 'on_train_epoch_start'.*\{'optimizer'\}.*'loss_module'",
    ) as info:
        PluginManager().register(Wrong(), "wrong")
    assert isinstance(info.value, pluggy.PluginValidationError)


def test_missing_hook_argument_follows_pluggy() -> None:
    pm = PluginManager()
    pm.register(Named("a", []), "a")
    for call in (pm.hook.on_train_epoch_start, pm.caller("on_train_epoch_start").call_ordered):
        with (
            pytest.warns(UserWarning, match="'loss_module'.*cannot be found"),
            pytest.raises(pluggy.HookCallError, match="loss_module"),
        ):
            call(trainer_state={}, model=None)


def test_extra_keyword_is_tolerated_and_spec_defaults_fill_in() -> None:
    seen: list[Any] = []

    class Spec:
        @pluggy.HookspecMarker("hookwise")
        def on_custom(self, value: int, scale: int = 10) -> None: ...

    class Impl:
        @hookimpl
        def on_custom(self, value: int, scale: int) -> None:
            seen.append(value * scale)

    pm = PluginManager()
    pm.add_hookspecs(Spec)
    pm.register(Impl(), "impl")
    pm.hook.on_custom(value=2, unknown="ignored")
    pm.hook.on_custom(value=2, scale=3)
    assert seen == [20, 6]
    pm.register(Named("a", seen), "a")
    assert pm.hook.on_train_epoch_start(
        trainer_state={}, model=None, loss_module=None, extra=1
    ) == ["a"]


def test_callback_methods_are_called_as_vis4d_calls_them_on_every_path() -> None:
    got: list[tuple[str, Any]] = []

    class Vis4dStyle(Callback):
        def on_test_epoch_end(self, state: Any, net: Any) -> None:  # type: ignore[override]
            got.append(("epoch", (state, net)))

        def on_train_epoch_end(self, *args: Any) -> None:  # type: ignore[override]
            got.append(("args", args))

        def on_train_batch_end(self, **kwargs: Any) -> None:  # type: ignore[override]
            got.append(("batch", sorted(kwargs)))

    pm = PluginManager()
    pm.register(Vis4dStyle(), "v")
    state: dict[str, Any] = {}
    batch = dict(trainer_state=state, model=1, loss_module=2, outputs=3, batch=4, batch_idx=5)
    for _ in range(2):  # the first call after a change runs pluggy's loop, then generated code
        pm.hook.on_test_epoch_end(trainer_state=state, model=1)
        pm.caller("on_test_epoch_end").call_ordered(trainer_state=state, model=1)
        pm.hook.on_test_epoch_end.call_extra([], {"trainer_state": state, "model": 1})
        pm.hook.on_train_epoch_end(trainer_state=state, model=1, loss_module=2)
        pm.hook.on_train_batch_end(**batch)
    assert got[:5] == [
        ("epoch", (state, 1)),
        ("epoch", (state, 1)),
        ("epoch", (state, 1)),
        ("args", (state, 1, 2)),
        ("batch", sorted(batch)),
    ]
    assert got[5:] == got[:5]


def test_error_policies_raise_warn_disable(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    class Failing(Callback):
        def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
            calls.append("failing")
            raise RuntimeError("plugin bug")

    class After(Callback):
        def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> str:
            calls.append("after")
            return "ok"

    pm = PluginManager()
    pm.register(Failing(), "failing")
    pm.register(After(), "after")
    with pytest.raises(RuntimeError, match="plugin bug") as info:
        call_epoch_start(pm)
    assert "plugin 'failing' failed in hook 'on_train_epoch_start'" in info.value.__notes__[0]
    assert calls == ["failing"]

    pm.set_error_policy("failing", "warn")
    tolerated: list[str] = []
    pm.on_tolerated_failure = lambda failure: tolerated.append(failure.plugin)
    assert call_epoch_start(pm) == ["ok"]
    assert call_epoch_start(pm) == ["ok"]
    assert pm.failures["failing"].count == 2
    assert sum("plugin 'failing' failed" in r.message for r in caplog.records) == 1
    assert tolerated == ["failing", "failing"]

    pm.set_error_policy("failing", "disable")
    pm.failures.clear()
    assert call_epoch_start(pm) == ["ok"]
    assert not pm.is_active("failing")
    calls.clear()
    assert call_epoch_start(pm) == ["ok"] and calls == ["after"]


def test_instrumentation_wraps_and_unwraps() -> None:
    seen: list[tuple[str, str]] = []

    def spy(call: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            seen.append((call.hook, call.plugin_name))
            return call.function(*args, **kwargs)

        return wrapped

    pm = PluginManager()
    pm.register(Named("a", []), "a")
    pm.add_impl_wrapper(spy)
    call_epoch_start(pm)
    pm.remove_impl_wrapper(spy)
    call_epoch_start(pm)
    assert seen == [("on_train_epoch_start", "a")]


def test_state_dict_of_plugins() -> None:
    class Stateful(Callback):
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def state_dict(self) -> dict[str, Any]:
            return {"count": self.count}

        def load_state_dict(self, state_dict: Any) -> None:
            self.count = state_dict["count"]

    pm = PluginManager()
    first = Stateful()
    first.count = 5
    pm.register(first, "s")
    pm.register(Stateful(), "fresh")
    saved = pm.state_dict()
    assert saved == {"s": {"count": 5}, "fresh": {"count": 0}}
    other = PluginManager()
    target = Stateful()
    other.register(target, "s")
    other.register(Stateful(), "new")
    assert other.load_state_dict({"s": {"count": 5}}) == ["new"]
    assert target.count == 5


def test_is_a_pluggy_plugin_manager() -> None:
    pm = PluginManager()
    assert isinstance(pm, pluggy.PluginManager)
    assert pm.project_name == "hookwise"
    assert set(pm.hook_names) >= {"setup", "on_validation_end", "on_exception"}


class _Step(Callback):
    def __init__(self, value: Any, stored: Exception | None = None) -> None:
        super().__init__()
        self.value, self.stored, self.calls = value, stored, 0

    def on_train_epoch_end(self, trainer_state: Any, model: Any, loss_module: Any) -> Any:
        self.calls += 1
        if self.stored is not None:
            raise self.stored  # an exception object raised again keeps its old traceback
        return self.value


@pytest.mark.parametrize("failing", [0, 1, 2])
def test_a_failure_on_the_fast_path_is_blamed_on_its_plugin(
    failing: int, caplog: pytest.LogCaptureFixture
) -> None:
    """The generated call code keeps no per-call index: the failing implementation is found
    from its traceback line, and the ones after it still run."""
    stored = RuntimeError("boom")
    try:
        raise stored
    except RuntimeError:
        pass  # the stored exception now carries a traceback from elsewhere
    pm = PluginManager()
    plugins = [_Step({"v": i}, stored if i == failing else None) for i in range(3)]
    for index, plugin in enumerate(plugins):
        pm.register(plugin, f"p{index}", on_error="warn")
    caller = pm.caller("on_train_epoch_end")
    for _ in range(2):  # the first call installs the generated code, the second runs it
        results = caller.call_attributed(trainer_state={}, model=None, loss_module=None)
        assert results == [(f"p{i}", {"v": i}) for i in range(3) if i != failing]
    assert [p.calls for p in plugins] == [2, 2, 2]
    assert f"'p{failing}'" in caplog.text and "boom" in caplog.text
    for other in {0, 1, 2} - {failing}:
        assert f"plugin 'p{other}'" not in caplog.text
