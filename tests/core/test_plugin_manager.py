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


def test_pluggy_own_order_is_the_reverse() -> None:
    """The reason for hookwise's call path: pluggy calls the last registered first."""
    log: list[str] = []
    pm = PluginManager()
    pm.register(Named("a", log), "a")
    pm.register(Named("b", log), "b")
    impls = pm.hook.on_train_epoch_start.get_hookimpls()
    assert pm._hookexec(
        "on_train_epoch_start",
        impls,
        {"trainer_state": {}, "model": None, "loss_module": None},
        False,
    ) == ["b", "a"]
    assert call_epoch_start(pm) == ["a", "b"]


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


def test_misspelled_hookimpl_is_an_error() -> None:
    class Typo:
        @hookimpl
        def on_train_batch_ends(self, batch_idx: int) -> None:
            pass

    pm = PluginManager()
    with pytest.raises(
        PluginValidationError,
        match=r"'typo'.*no hook named 'on_train_batch_ends'.*'on_train_batch_end'",
    ):
        pm.register(Typo(), "typo")
    assert pm.plugin_names() == []


def test_unmarked_misspelled_callback_method_warns() -> None:
    class Typo(Callback):
        def on_train_epoch_ended(self, trainer_state: Any) -> None:
            pass

    with pytest.warns(
        UserWarning, match="'on_train_epoch_ended' is not a hookwise hook.*'on_train_epoch_end'"
    ):
        PluginManager().register(Typo(), "typo")


def test_argument_the_hook_lacks_is_an_error() -> None:
    class Wrong:
        @hookimpl
        def on_train_epoch_start(self, trainer_state: Any, optimizer: Any) -> None:
            pass

    with pytest.raises(
        PluginValidationError,
        match=r"'wrong', hook 'on_train_epoch_start'.*\['optimizer'\].*'loss_module'",
    ):
        PluginManager().register(Wrong(), "wrong")


def test_missing_hook_argument_is_a_type_error() -> None:
    pm = PluginManager()
    pm.register(Named("a", []), "a")
    with pytest.raises(TypeError, match="loss_module"):
        pm.hook.on_train_epoch_start(trainer_state={}, model=None)


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
