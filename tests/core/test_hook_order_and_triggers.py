"""Named order constraints and declarative triggers (the call plan of each hook)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import pytest
from hookwise import Callback, PluginManager, PluginValidationError, Trainer, hookimpl
from hookwise.errors import OrderCycleError

KW = {"trainer_state": {}, "model": None, "loss_module": None}


class Named(Callback):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> str:
        return self.name


class AfterEma(Named):
    run_after = ("ema",)


class BeforeEverything(Named):
    @hookimpl(before=["a", "b"])
    def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> str:
        return self.name


def _pm(*plugins: tuple[str, Any]) -> PluginManager:
    pm = PluginManager(allowed=None)
    for name, plugin in plugins:
        pm.enable_object(plugin, name)
    return pm


def test_constraints_move_only_what_they_must_on_every_path() -> None:
    pm = _pm(
        ("early", AfterEma("early")),
        ("a", Named("a")),
        ("ema", Named("ema")),
        ("late", BeforeEverything("late")),
        ("b", Named("b")),
    )
    # Each time, the earliest enabled of the implementations whose constraints are met runs
    # next: "early" waits for "ema", "a" and "b" wait for "late".
    expected = ["ema", "early", "late", "a", "b"]
    caller = pm.caller("on_train_epoch_start")
    assert pm.hook_order("on_train_epoch_start") == expected
    assert pm.hook.on_train_epoch_start(**KW) == expected
    assert caller.call_ordered(**KW) == expected
    assert caller.call_extra([], KW) == expected
    order = pm.hook_order("on_train_epoch_start")
    assert order.reasons[1] == "enabled 1st; early after 'ema' (its run_after)"
    assert "late before 'a' (@hookimpl(before=...))" in order.reasons[2]
    assert order.reasons[3] == "enabled 2nd; late before 'a' (@hookimpl(before=...))"
    assert "1. ema: enabled 3rd; early after 'ema' (its run_after)" in order.explain()


def test_constraints_combine_with_tryfirst_and_trylast() -> None:
    class Last(Named):
        @hookimpl(trylast=True)
        def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> str:
            return self.name

    class First(Named):
        @hookimpl(tryfirst=True, after=["last"])
        def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> str:
            return self.name

    pm = _pm(("x", Named("x")), ("last", Last("last")), ("first", First("first")))
    # "first" wants to run first but must follow "last": the constraint wins, the rest keep
    # their default places.
    assert pm.hook.on_train_epoch_start(**KW) == ["x", "last", "first"]


def test_config_keys_order_third_party_plugins_and_names_fold_like_pip() -> None:
    pm = PluginManager(allowed=None)
    pm.enable_object(Named("early_stopping"), "early_stopping")
    pm.set_order("early_stopping", after=["Evaluator@COCO"])
    pm.enable_object(Named("evaluator@coco"), "evaluator@coco")
    assert pm.hook.on_train_epoch_start(**KW) == ["evaluator@coco", "early_stopping"]
    pm.set_order("early_stopping")  # no constraints any more
    assert pm.hook.on_train_epoch_start(**KW) == ["early_stopping", "evaluator@coco"]


def test_enable_takes_run_before_and_run_after_as_reserved_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ordered_plugins.py").write_text(
        "from hookwise import Callback\n"
        "class Named(Callback):\n"
        "    def __init__(self, name):\n"
        "        super().__init__()\n"
        "        self.name = name\n"
        "    def on_train_epoch_start(self, trainer_state, model, loss_module):\n"
        "        return self.name\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    pm = PluginManager(allowed=None)
    pm.enable("ordered_plugins:Named", name="b")
    pm.enable("ordered_plugins:Named@x", name="a", run_before=["ordered_plugins:Named"])
    assert pm.hook.on_train_epoch_start(**KW) == ["a", "b"]
    pm.enable("ordered_plugins:Named@y", name="c", run_after="ordered_plugins:Named@x")
    assert pm.hook.on_train_epoch_start(**KW) == ["a", "b", "c"]
    with pytest.raises(PluginValidationError, match="run_after must be a plugin name"):
        pm.enable("ordered_plugins:Named@z", name="z", run_after=7)
    assert pm.hook_order("on_train_epoch_start") == [
        "ordered_plugins:Named@x",
        "ordered_plugins:Named",
        "ordered_plugins:Named@y",
    ]


def test_a_constraint_on_a_plugin_not_enabled_is_ignored_and_reported() -> None:
    pm = _pm(("early", AfterEma("early")), ("a", Named("a")))
    order = pm.hook_order("on_train_epoch_start")
    assert order == ["early", "a"]
    assert order.ignored == ["early: after 'ema' (its run_after), not enabled"]
    assert "ignored: early: after 'ema'" in order.explain()


def test_a_cycle_is_an_error_naming_it_and_enabling_leaves_nothing_behind() -> None:
    class A(Named):
        run_before = "b"

    class B(Named):
        run_before: ClassVar[list[str]] = ["a"]

    pm = _pm(("a", A("a")))
    with pytest.raises(OrderCycleError, match=r"cycle: (a -> b -> a|b -> a -> b) \(") as info:
        pm.enable_object(B("b"), "b")
    assert isinstance(info.value, PluginValidationError)
    assert pm.plugin_names() == ["a"]
    pm.register(B("b"), "b")  # pluggy's register does not resolve: the next call does
    with pytest.raises(OrderCycleError):
        pm.hook.on_train_epoch_start(**KW)


def test_bad_constraint_and_trigger_values_are_refused_at_registration() -> None:
    class Bad:
        @hookimpl(after=[3])  # type: ignore[list-item]
        def on_fit_end(self) -> None: ...

    class Worse:
        @hookimpl(every_n_steps=0)
        def on_fit_end(self) -> None: ...

    with pytest.raises(PluginValidationError, match="after must be a plugin name"):
        PluginManager().register(Bad(), "bad")
    with pytest.raises(PluginValidationError, match="every_n_steps must be a positive integer"):
        PluginManager().register(Worse(), "worse")


class Every(Callback):
    """Records the global steps and epochs at which its triggered hooks run."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[int] = []
        self.epochs: list[int] = []
        self.ranks: list[int] = []

    @hookimpl(every_n_steps=4)
    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.steps.append(trainer_state["global_step"])

    @hookimpl(every_n_epochs=2)
    def on_train_epoch_end(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
        self.epochs.append(trainer_state["current_epoch"])

    @hookimpl(on_ranks=[1])
    def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
        self.ranks.append(trainer_state["current_epoch"])


def test_triggers_fire_on_the_trainers_path_only() -> None:
    every = Every()
    pm = _pm(("every", every))
    batch = dict(KW, outputs=None, batch=None, batch_idx=0)
    caller = pm.caller("on_train_batch_end")
    for step in range(1, 10):
        caller.call_ordered(**{**batch, "trainer_state": {"global_step": step}})
    assert every.steps == [4, 8]
    pm.hook.on_train_batch_end(**{**batch, "trainer_state": {"global_step": 5}})
    assert every.steps == [4, 8, 5]  # pm.hook keeps pluggy's semantics: no triggers
    for epoch in range(4):
        state = {"current_epoch": epoch, "global_step": 0}
        pm.caller("on_train_epoch_end").call_attributed(**{**KW, "trainer_state": state})
        pm.caller("on_train_epoch_start").call_ordered(**{**KW, "trainer_state": state})
    assert every.epochs == [1, 3]  # epochs 2 and 4, counted from 1
    assert every.ranks == []  # rank 0 here: the implementation is not in the call code


def test_triggers_also_apply_when_a_wrapper_sends_calls_through_pluggys_loop() -> None:
    class Around:
        @hookimpl(wrapper=True)
        def on_train_batch_end(self) -> Any:
            return (yield)

    every = Every()
    pm = _pm(("every", every), ("around", Around()))
    batch = dict(KW, outputs=None, batch=None, batch_idx=0)
    for step in range(1, 10):
        pm.caller("on_train_batch_end").call_attributed(
            **{**batch, "trainer_state": {"global_step": step}}
        )
    assert every.steps == [4, 8]


def test_stages_read_the_state_and_default_to_train_for_training_hooks() -> None:
    seen: list[str] = []

    class ValOnly:
        @hookimpl(stages="val")
        def on_test_epoch_start(self, trainer_state: Any) -> None:
            seen.append(trainer_state["stage"])

        @hookimpl(stages=["val"])
        def on_train_epoch_start(self, trainer_state: Any) -> None:
            seen.append("train hook")

    pm = _pm(("v", ValOnly()))
    for stage in ("val", "test", "val"):
        pm.caller("on_test_epoch_start").call_ordered(trainer_state={"stage": stage}, model=None)
    pm.caller("on_train_epoch_start").call_ordered(**KW)
    assert seen == ["val", "val"]


# An expected manifest change: the resume leaves out the saving plugin.
@pytest.mark.filterwarnings("ignore::hookwise.ManifestChangedWarning")
def test_every_n_steps_fires_at_the_same_steps_after_a_resume_mid_interval(
    fit_parts: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    class Saver(Callback):
        def on_train_batch_end(
            self,
            trainer_state: Any,
            model: Any,
            loss_module: Any,
            outputs: Any,
            batch: Any,
            batch_idx: int,
        ) -> None:
            if trainer_state["global_step"] == 6:  # between the firings at 4 and 8
                trainer = trainer_state["train_module"]
                trainer.save_checkpoint(tmp_path / "mid.ckpt")

    straight_every = Every()
    parts = fit_parts()
    straight = Trainer(
        **parts["trainer"], num_epochs=4, seed=3, callbacks=[Saver(), straight_every]
    )
    straight.fit(parts["model"], [parts["optimizer"]], [], parts["loss"])
    assert straight_every.steps == [4, 8, 12]  # 3 batches an epoch, 4 epochs

    resumed_every = Every()
    parts = fit_parts()
    parts["trainer"]["output_dir"] = tmp_path / "resumed"
    resumed = Trainer(**parts["trainer"], num_epochs=4, seed=3, callbacks=[resumed_every])
    resumed.fit(
        parts["model"], [parts["optimizer"]], [], parts["loss"], resume_from=tmp_path / "mid.ckpt"
    )
    assert resumed.global_step == straight.global_step == 12
    assert resumed_every.steps == [8, 12]  # the same steps, none shifted by the resume
    # The same epochs: epoch 1 ended after the save at step 6, so both runs fire there.
    assert resumed_every.epochs == straight_every.epochs == [1, 3]


class Periodic:
    """Its intervals are parameters: the triggers name the attributes holding them."""

    def __init__(self, steps: int | None, epochs: int | None) -> None:
        self.period = steps
        self.epoch_period = epochs
        self.steps: list[int] = []
        self.epochs: list[int] = []

    @hookimpl(every_n_steps="period")
    def on_train_batch_end(self, trainer_state: Any) -> None:
        self.steps.append(trainer_state["global_step"])

    @hookimpl(every_n_epochs="epoch_period")
    def on_train_epoch_end(self, trainer_state: Any) -> None:
        self.epochs.append(trainer_state["current_epoch"])


class Around:
    @hookimpl(wrapper=True)
    def on_train_batch_end(self) -> Any:
        return (yield)


@pytest.mark.parametrize("wrapped", [False, True], ids=["generated code", "pluggy's loop"])
def test_an_interval_named_by_attribute_is_read_at_each_call(wrapped: bool) -> None:
    periodic = Periodic(3, 2)
    pm = _pm(("periodic", periodic), *([("around", Around())] if wrapped else []))
    batch = dict(KW, outputs=None, batch=None, batch_idx=0)
    caller = pm.caller("on_train_batch_end")
    for step in range(1, 8):
        caller.call_attributed(**{**batch, "trainer_state": {"global_step": step}})
    assert periodic.steps == [3, 6]
    periodic.period = 2  # a new value counts from the next call, without a new plan
    for step in range(8, 11):
        caller.call_ordered(**{**batch, "trainer_state": {"global_step": step}})
    assert periodic.steps == [3, 6, 8, 10]
    periodic.period = None  # None: every call
    caller.call_ordered(**{**batch, "trainer_state": {"global_step": 11}})
    assert periodic.steps[-1] == 11
    for epoch in range(4):
        state = {"current_epoch": epoch}
        pm.caller("on_train_epoch_end").call_ordered(**{**KW, "trainer_state": state})
    assert periodic.epochs == [1, 3]
    trigger = pm.caller("on_train_epoch_end").calls[0].trigger
    assert trigger is not None
    assert trigger.describe() == "every 2 epochs (epoch_period)"


def test_an_interval_attribute_must_exist_and_hold_a_positive_integer() -> None:
    class Missing:
        @hookimpl(every_n_steps="period")
        def on_fit_end(self) -> None: ...

    with pytest.raises(PluginValidationError, match=r"names an attribute the plugin does not"):
        PluginManager().register(Missing(), "missing")
    with pytest.raises(PluginValidationError, match=r"its attribute 'period'\) must be a positive"):
        _pm(("zero", Periodic(0, 1))).hook_order("on_train_batch_end")


def test_constraint_names_compare_as_the_command_line_compares_plugin_names() -> None:
    from hookwise.plugins.ordering import matches

    assert matches("Early-Stopping", "early_stopping")  # entry points fold like pip names
    assert matches("evaluator", "evaluator@coco")  # a base name covers its instances
    assert matches("./callbacks.py:Swap", "callbacks.py:Swap")  # a file: by its path
    assert matches("callbacks.py", "callbacks.py:Swap")  # the whole file
    assert not matches("./callbacks.py:swap", "callbacks.py:Swap")  # objects: exact
    assert not matches("other/callbacks.py:Swap", "callbacks.py:Swap")
    assert matches("pkg.mod:Obj", "pkg.mod:Obj")
    assert not matches("pkg.mod:obj", "pkg.mod:Obj")  # import paths: exact


@pytest.mark.parametrize("wrapped", [False, True], ids=["generated code", "pluggy's loop"])
def test_step_triggers_skip_calls_inside_an_accumulation_window_and_read_any_mapping(
    wrapped: bool,
) -> None:
    every = Every()  # every 4 steps
    pm = _pm(("every", every), *([("around", Around())] if wrapped else []))
    batch = dict(KW, outputs=None, batch=None, batch_idx=0)
    caller = pm.caller("on_train_batch_end")
    inside = dict(batch, trainer_state={"global_step": 4, "accumulating": True})
    caller.call_args(*(inside[name] for name in caller.args_order()))
    assert every.steps == []  # inside a window: no interval divides the step
    caller.call_ordered(**{**batch, "trainer_state": MappingProxyType({"global_step": 8})})
    caller.call_ordered(**{**batch, "trainer_state": MappingProxyType({"global_step": 9})})
    assert every.steps == [8]  # a Mapping that is not a dict is read as well
