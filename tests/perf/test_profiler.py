"""The hook profiler: what it counts and reports, and that switched off it is not on the path.

Times come from a fake clock that the test plugins advance, so every number is exact; no test
here depends on how fast the machine is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hookwise import Callback, PluginManager, hookimpl
from hookwise._dispatch import OrderedHookCaller
from hookwise.profiler import HookProfiler, HookTiming, hook_phase

from .conftest import MakeTrainer

MS = 1_000_000  # nanoseconds


class FakeClock:
    """A monotonic nanosecond clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now

    def advance(self, ns: int) -> None:
        self.now += ns


class Costly(Callback):
    """Spends ``step_ms`` per training batch end and ``eval_ms`` per validation end."""

    def __init__(self, clock: FakeClock, step_ms: int, eval_ms: int = 0) -> None:
        super().__init__()
        self.clock, self.step_ms, self.eval_ms = clock, step_ms, eval_ms
        self.batch_ends = 0

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.batch_ends += 1
        self.clock.advance(self.step_ms * MS)

    def on_validation_end(self, trainer_state: Any, model: Any, metrics: Any) -> None:
        self.clock.advance(self.eval_ms * MS)


class Starter(Callback):
    """Spends ``ms`` per training batch start; returns a metric at the end of each test epoch."""

    def __init__(self, clock: FakeClock, ms: int) -> None:
        super().__init__()
        self.clock, self.ms = clock, ms

    def on_train_batch_start(
        self, trainer_state: Any, model: Any, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        self.clock.advance(self.ms * MS)

    def on_test_epoch_end(self, trainer_state: Any, model: Any) -> dict[str, float]:
        self.clock.advance(2 * MS)
        return {"score": 1.0}


def _row(rows: list[HookTiming], plugin: str, hook: str) -> HookTiming:
    matches = [r for r in rows if (r.plugin, r.hook) == (plugin, hook)]
    assert len(matches) == 1, f"expected one row for {plugin}.{hook}, got {rows}"
    return matches[0]


def _generated(caller: OrderedHookCaller, method: str = "__call__") -> Any:
    """The function the call path installs for ``caller`` under its current plan (a change
    of the registrations after the last call, at the end of a fit, makes it generate anew)."""
    function = caller.install(method)
    assert function.__code__.co_filename == f"<hookwise call path: {caller.name}>"
    return function


def _called_functions(caller: OrderedHookCaller, method: str = "__call__") -> list[Any]:
    """What the generated function of ``caller`` actually calls, in order."""
    namespace = _generated(caller, method).__globals__
    return [namespace[f"_f{index}"] for index in range(len(caller.calls))]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_report_counts_times_and_shares_exactly(
    make_trainer: MakeTrainer, clock: FakeClock
) -> None:
    costly, starter = Costly(clock, step_ms=3, eval_ms=4), Starter(clock, ms=1)
    trainer, fit = make_trainer(callbacks=[costly, starter])
    profiler = HookProfiler(trainer.pm, clock=clock)
    trainer.profiler = profiler
    fit()

    assert costly.batch_ends == 6  # 2 epochs of 3 batches
    assert profiler.steps == 6
    assert profiler.eval_passes == 2
    assert profiler.train_time == pytest.approx(6 * 4e-3)  # only the hooks move the clock
    assert profiler.step_time == pytest.approx(4e-3)
    assert profiler.eval_time == pytest.approx(2 * 6e-3)
    assert profiler.fit_time == pytest.approx(6 * 4e-3 + 2 * 6e-3)

    rows = profiler.report()
    assert [(r.plugin, r.hook) for r in rows] == [
        ("Costly", "on_train_batch_end"),  # 18 ms
        ("Costly", "on_validation_end"),  # 8 ms
        ("Starter", "on_train_batch_start"),  # 6 ms
        ("Starter", "on_test_epoch_end"),  # 4 ms
    ]
    end = _row(rows, "Costly", "on_train_batch_end")
    assert (end.phase, end.calls) == ("train", 6)
    assert end.total == pytest.approx(18e-3)
    assert end.mean == pytest.approx(3e-3)
    assert end.per_step == pytest.approx(3e-3)
    assert end.share == pytest.approx(0.75)
    start = _row(rows, "Starter", "on_train_batch_start")
    assert start.share == pytest.approx(0.25)
    validation = _row(rows, "Costly", "on_validation_end")
    assert (validation.phase, validation.calls, validation.per_step) == ("eval", 2, None)
    assert validation.share == pytest.approx(4 / 6)

    totals = {t.plugin: t for t in profiler.plugin_totals()}
    assert totals["Costly"].train == pytest.approx(18e-3)
    assert totals["Costly"].eval == pytest.approx(8e-3)
    assert totals["Costly"].share_of_step == pytest.approx(0.75)
    assert totals["Costly"].share_of_eval == pytest.approx(4 / 6)
    assert totals["Starter"].calls == 6 + 2
    assert [t.plugin for t in profiler.plugin_totals()] == ["Costly", "Starter"]


def test_fit_level_hooks_are_not_step_time(make_trainer: MakeTrainer, clock: FakeClock) -> None:
    class Plotter(Callback):  # writes a plot at the end of the fit: not a cost of the steps
        def on_fit_end(self, trainer_state: Any, model: Any) -> None:
            clock.advance(100 * MS)

    trainer, fit = make_trainer(callbacks=[Costly(clock, step_ms=2), Plotter()])
    profiler = trainer.profiler = HookProfiler(trainer.pm, clock=clock)
    fit()
    assert profiler.fit_time == pytest.approx(0.112)
    assert profiler.train_time == pytest.approx(0.012)
    assert profiler.step_time == pytest.approx(0.002)
    plot = _row(profiler.report(), "Plotter", "on_fit_end")
    assert (plot.phase, plot.per_step) == ("fit", None)
    assert plot.share == pytest.approx(100 / 112)
    assert _row(profiler.report(), "Costly", "on_train_batch_end").share == pytest.approx(1.0)


def test_format_report_is_a_table_naming_plugins_and_shares(
    make_trainer: MakeTrainer, clock: FakeClock
) -> None:
    trainer, fit = make_trainer(callbacks=[Costly(clock, step_ms=3), Starter(clock, ms=1)])
    trainer.profiler = HookProfiler(trainer.pm, clock=clock)
    fit()
    text = trainer.profiler.format_report()
    lines = text.splitlines()
    assert lines[0] == (
        "hookwise hook profile: fit 0.028 s, 6 training steps (4.000 ms/step), "
        "2 evaluation passes (0.004 s)"
    )
    costly_line = next(line for line in lines if "on_train_batch_end" in line)
    assert costly_line.split() == ["Costly", "on_train_batch_end", "6", "18.000", "3000.00",
                                   "3000.00", "75.00%", "step"]  # fmt: skip
    plugin_line = next(line for line in lines if line.startswith("Starter "))
    assert "25.00%" in plugin_line and "100.00%" in plugin_line  # all of eval is its hook
    assert all(line == line.rstrip() for line in lines)


def test_trainer_switch_profiles_and_logs_the_report(
    make_trainer: MakeTrainer, caplog: pytest.LogCaptureFixture
) -> None:
    class Sleepy(Callback):
        def on_train_batch_end(
            self,
            trainer_state: Any,
            model: Any,
            loss_module: Any,
            outputs: Any,
            batch: Any,
            batch_idx: int,
        ) -> None:
            time.sleep(0.002)

    trainer, fit = make_trainer(callbacks=[Sleepy()], profile_hooks=True)
    assert isinstance(trainer.profiler, HookProfiler) and trainer.profiler.active
    with caplog.at_level(logging.INFO, logger="hookwise.profiler"):
        fit()
    (record,) = [r for r in caplog.records if r.name == "hookwise.profiler"]
    assert record.getMessage().startswith("hookwise hook profile: fit ")
    assert "Sleepy" in record.getMessage()
    row = _row(trainer.profiler.report(), "Sleepy", "on_train_batch_end")
    assert row.calls == 6
    assert row.total >= 6 * 0.002  # sleep() sleeps at least that long
    assert row.share is not None and 0 < row.share < 1


def test_off_the_call_path_is_the_plugins_own_functions(make_trainer: MakeTrainer) -> None:
    clock = FakeClock()
    costly, starter = Costly(clock, step_ms=0), Starter(clock, ms=0)
    trainer, fit = make_trainer(callbacks=[costly, starter])
    assert trainer.profiler is None
    fit()
    batch_end = trainer.pm.caller("on_train_batch_end")
    assert _called_functions(batch_end, "call_attributed") == [costly.on_train_batch_end]
    assert [c.function for c in batch_end.calls] == [costly.on_train_batch_end]
    batch_start = trainer.pm.caller("on_train_batch_start")
    assert _called_functions(batch_start, "call_ordered") == [starter.on_train_batch_start]


def test_stop_regenerates_the_call_path_without_wrappers(make_trainer: MakeTrainer) -> None:
    clock = FakeClock()
    costly = Costly(clock, step_ms=1)
    trainer, fit = make_trainer(callbacks=[costly], profile_hooks=True)
    profiler = trainer.profiler
    fit()
    caller = trainer.pm.caller("on_train_batch_end")
    (timed,) = _called_functions(caller, "call_attributed")
    assert timed != costly.on_train_batch_end
    assert timed.__wrapped__ == costly.on_train_batch_end

    profiler.stop()
    assert not profiler.active
    caller.call_attributed(
        trainer_state={}, model=None, loss_module=None, outputs={}, batch={}, batch_idx=0
    )
    assert _called_functions(caller, "call_attributed") == [costly.on_train_batch_end]
    assert caller.calls[0].function == costly.on_train_batch_end
    before = _row(profiler.report(), "Costly", "on_train_batch_end")
    assert before.calls == 6  # measurements are kept; the untimed call is not counted

    profiler.start()
    caller(trainer_state={}, model=None, loss_module=None, outputs={}, batch={}, batch_idx=0)
    assert _row(profiler.report(), "Costly", "on_train_batch_end").calls == 7


def test_context_manager_times_plugins_registered_later_and_keyword_callbacks() -> None:
    clock = FakeClock()
    pm = PluginManager()

    class Keywords(Callback):  # takes **kwargs: called by keyword
        def on_test_epoch_start(self, **kwargs: Any) -> None:
            assert set(kwargs) == {"trainer_state", "model"}
            clock.advance(5 * MS)

    class Module:
        @hookimpl
        def on_test_epoch_start(self, model: Any) -> None:
            clock.advance(1 * MS)

    pm.register(Keywords(), "keywords")
    with HookProfiler(pm, clock=clock) as profiler:
        assert pm.caller("on_test_epoch_start").calls[0].by_keyword
        pm.register(Module(), "module")
        pm.hook.on_test_epoch_start(trainer_state={}, model=None)
        pm.hook.on_test_epoch_start(trainer_state={}, model=None)
    pm.hook.on_test_epoch_start(trainer_state={}, model=None)  # not timed any more

    rows = profiler.report()
    assert [(r.plugin, r.calls, r.total) for r in rows] == [
        ("keywords", 2, pytest.approx(10e-3)),
        ("module", 2, pytest.approx(2e-3)),
    ]
    assert all(r.share is None and r.per_step is None for r in rows)  # no trainer sections
    assert "no fit timed, 0 evaluation passes" in profiler.format_report()


def test_failures_keep_their_attribution_and_are_timed(clock: FakeClock) -> None:
    pm = PluginManager()

    class Broken(Callback):
        def on_fit_start(self, trainer_state: Any, model: Any) -> None:
            clock.advance(2 * MS)
            raise RuntimeError("boom")

    class After(Callback):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def on_fit_start(self, trainer_state: Any, model: Any) -> None:
            self.calls += 1

    after = After()
    pm.register(Broken(), "broken")
    pm.register(after, "after")
    profiler = HookProfiler(pm, clock=clock)
    with pytest.raises(RuntimeError, match="boom") as info:
        pm.hook.on_fit_start(trainer_state={}, model=None)
    assert "plugin 'broken' failed in hook 'on_fit_start'" in "\n".join(info.value.__notes__)

    pm.set_error_policy("broken", "warn")
    pm.hook.on_fit_start(trainer_state={}, model=None)  # logged, training would go on
    assert after.calls == 1  # the recovery path calls the timed function of the next plugin
    rows = {r.plugin: r for r in profiler.report()}
    assert rows["broken"].calls == 2
    assert rows["broken"].total == pytest.approx(4e-3)
    assert rows["after"].calls == 1


def test_wrappers_are_not_timed_and_still_wrap(clock: FakeClock) -> None:
    pm = PluginManager()
    seen: list[str] = []

    class Wrapping:
        @hookimpl(wrapper=True)
        def on_fit_end(self) -> Iterator[None]:
            seen.append("before")
            result = yield
            seen.append("after")
            return result

    class Plain:
        @hookimpl
        def on_fit_end(self) -> None:
            seen.append("plain")

    pm.register(Wrapping(), "wrapping")
    pm.register(Plain(), "plain")
    profiler = HookProfiler(pm, clock=clock)
    pm.hook.on_fit_end(trainer_state={}, model=None)
    assert seen == ["before", "plain", "after"]
    assert [(r.plugin, r.calls) for r in profiler.report()] == [("plain", 1)]


def test_standalone_test_pass_is_an_eval_section(
    make_trainer: MakeTrainer, clock: FakeClock
) -> None:
    trainer, _ = make_trainer(callbacks=[Starter(clock, ms=1)])
    profiler = trainer.profiler = HookProfiler(trainer.pm, clock=clock)
    from hookwise.testing import TinyModel

    metrics = trainer.test(TinyModel())
    assert metrics == {"test/score": 1.0}
    assert (profiler.eval_passes, profiler.steps, profiler.fit_time) == (1, 0, 0.0)
    (row,) = profiler.report()
    assert (row.hook, row.phase, row.share) == ("on_test_epoch_end", "eval", pytest.approx(1.0))


def test_reset_and_section_errors(clock: FakeClock) -> None:
    pm = PluginManager()
    profiler = HookProfiler(pm, clock=clock, start=False)
    assert not profiler.active
    with pytest.raises(ValueError, match="unknown section 'train'"):
        profiler.begin("train")
    profiler.end("eval")  # an end without its begin is ignored
    with profiler.section("eval"):
        clock.advance(3 * MS)
    assert (profiler.eval_passes, profiler.eval_time) == (1, pytest.approx(3e-3))
    profiler.reset()
    assert (profiler.eval_passes, profiler.eval_time, profiler.report()) == (0, 0.0, [])
    assert "no plugin hook ran" in profiler.format_report()


@pytest.mark.parametrize(
    ("hook", "phase"),
    [
        ("on_train_batch_end", "train"),
        ("on_before_optimizer_step", "train"),
        ("on_train_epoch_end", "train"),
        ("on_test_batch_end", "eval"),
        ("on_validation_end", "eval"),
        ("setup", "fit"),
        ("on_fit_end", "fit"),
        ("on_exception", "fit"),
    ],
)
def test_hook_phase(hook: str, phase: str) -> None:
    assert hook_phase(hook) == phase
