"""The hook profiler: which plugin, in which hook, costs how much of a training step.

Switch it on with ``Trainer(profile_hooks=True)`` (``hookwise fit --profile-hooks``); the report
is logged at the end of ``fit`` and stays available as ``trainer.profiler``::

    trainer = Trainer(..., plugins=["logging", "evaluator", "checkpoint"], profile_hooks=True)
    trainer.fit(model, optimizer, loss_module=loss)
    print(trainer.profiler.format_report())
    rows = trainer.profiler.report()            # structured: one HookTiming per plugin and hook

Each row gives a plugin's implementation of one hook: how often it ran, its total and mean
time, and its share of the time of the phase the hook belongs to:

* training hooks (``on_train_epoch_start``, ``on_train_batch_start``,
  ``on_before_optimizer_step``, ``on_train_batch_end``, ``on_train_epoch_end``): share of the
  training time, that is of the **step time** (fit wall time less the evaluation passes and
  the fit-level hooks, divided by the number of training steps); ``per_step`` is the time the
  hook adds to an average step;
* evaluation hooks (``on_test_epoch_start``, ``on_test_batch_end``, ``on_test_epoch_end``,
  ``on_validation_end``): share of the evaluation passes' wall time (a checkpoint written at
  ``on_validation_end`` shows here);
* ``setup``, ``on_fit_start``, ``on_fit_end``, ``on_exception`` and hooks added by other specs:
  share of the whole fit's wall time.

How it works: the profiler adds an implementation wrapper to the plugin manager
(:meth:`~hookwise.PluginManager.add_impl_wrapper`), so every plugin's hook function is replaced
by a timed one in the generated call path; hook wrappers (``wrapper=True``/``hookwrapper=True``)
are not timed. :meth:`HookProfiler.stop` removes the wrapper and the call path is generated
again from the plugins' own functions: a trainer without ``profile_hooks`` has no profiler and
pays nothing for it. While profiling, each timed call costs about two clock reads and one
extra Python call (well under a microsecond), which is not counted in the hook's time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from hookwise._profile_report import (
    EVAL_HOOKS,
    TRAIN_HOOKS,
    HookTiming,
    Phase,
    PluginTiming,
    format_tables,
    hook_phase,
    ms,
)

if TYPE_CHECKING:
    from hookwise._dispatch import ImplCall
    from hookwise.plugins import PluginManager

logger = logging.getLogger("hookwise.profiler")

_SECTIONS = ("fit", "eval")


class _Stat:
    __slots__ = ("calls", "total_ns")

    def __init__(self) -> None:
        self.calls = 0
        self.total_ns = 0


class HookProfiler:
    """Times every plugin's hook implementations in a :class:`~hookwise.PluginManager`.

    :param pm: the plugin manager whose hooks to time.
    :param start: start timing at once (default); otherwise call :meth:`start`.
    :param clock: a monotonic clock returning integer nanoseconds (default
        :func:`time.perf_counter_ns`); tests pass a fake one.

    The trainer creates one when ``profile_hooks=True`` and tells it where the fit and each
    evaluation pass begin and end (:meth:`begin`/:meth:`end`) and how many training steps ran,
    which the shares are computed from. Used alone (``with HookProfiler(pm) as profiler:``), it
    reports calls and times; shares need those sections.
    """

    def __init__(
        self,
        pm: PluginManager,
        *,
        start: bool = True,
        clock: Callable[[], int] = time.perf_counter_ns,
    ) -> None:
        self.pm = pm
        self.clock = clock
        self._stats: dict[tuple[str, str], _Stat] = {}
        self._open: dict[str, int] = {}
        self._wall_ns: dict[str, int] = dict.fromkeys(_SECTIONS, 0)
        self._eval_in_fit_ns = 0
        self._fit_hooks_in_fit_ns = 0
        self._fit_hooks_at_begin = 0
        self._eval_passes = 0
        self._fits = 0
        self._steps = 0
        self._active = False
        if start:
            self.start()

    # -- switching --------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether hooks are being timed now."""
        return self._active

    def start(self) -> None:
        """Start timing: the call path is generated again with timed functions."""
        if not self._active:
            self.pm.add_impl_wrapper(self._wrap)
            self._active = True

    def stop(self) -> None:
        """Stop timing: the call path is generated again from the plugins' own functions.

        The measurements are kept; :meth:`report` still returns them.
        """
        if self._active:
            self.pm.remove_impl_wrapper(self._wrap)
            self._active = False

    def __enter__(self) -> HookProfiler:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every measurement (timing goes on if active)."""
        for stat in self._stats.values():
            stat.calls = 0
            stat.total_ns = 0
        self._open.clear()
        self._wall_ns = dict.fromkeys(_SECTIONS, 0)
        self._eval_in_fit_ns = 0
        self._fit_hooks_in_fit_ns = 0
        self._fit_hooks_at_begin = 0
        self._eval_passes = 0
        self._fits = 0
        self._steps = 0

    def _wrap(self, call: ImplCall) -> Callable[..., Any]:
        """The implementation wrapper: a timed function with ``call.function``'s convention."""
        stat = self._stats.get((call.plugin_name, call.hook))
        if stat is None:
            stat = self._stats[(call.plugin_name, call.hook)] = _Stat()
        function = call.function
        clock = self.clock

        if call.by_keyword:

            def timed(**kwargs: Any) -> Any:
                begin = clock()
                try:
                    return function(**kwargs)
                finally:
                    stat.total_ns += clock() - begin
                    stat.calls += 1

        else:

            def timed(*args: Any) -> Any:  # type: ignore[misc]
                begin = clock()
                try:
                    return function(*args)
                finally:
                    stat.total_ns += clock() - begin
                    stat.calls += 1

        timed.__wrapped__ = function  # type: ignore[attr-defined]
        timed.__qualname__ = f"timed[{call.plugin_name}.{call.hook}]"
        return timed

    # -- sections (the trainer tells the profiler) ------------------------------------------------

    def begin(self, section: str) -> None:
        """Mark the start of a ``"fit"`` or of an ``"eval"`` pass (called by the trainer)."""
        if section not in _SECTIONS:
            raise ValueError(f"HookProfiler: unknown section {section!r}; use one of {_SECTIONS}")
        if section == "fit":
            self._fit_hooks_at_begin = self._fit_hook_ns()
        self._open[section] = self.clock()

    def end(self, section: str, *, steps: int = 0) -> None:
        """Mark the end of a section; ``steps`` is the number of training steps a fit ran.

        An ``end`` without its ``begin`` (the section raised before) is ignored.
        """
        started = self._open.pop(section, None)
        if started is None:
            return
        elapsed = self.clock() - started
        self._wall_ns[section] += elapsed
        if section == "eval":
            self._eval_passes += 1
            if "fit" in self._open:
                self._eval_in_fit_ns += elapsed
        else:
            self._fits += 1
            self._steps += steps
            self._fit_hooks_in_fit_ns += self._fit_hook_ns() - self._fit_hooks_at_begin

    def _fit_hook_ns(self) -> int:
        """The time so far of every fit-level hook (setup, on_fit_start, on_fit_end, ...)."""
        return sum(
            stat.total_ns for (_, hook), stat in self._stats.items() if hook_phase(hook) == "fit"
        )

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        """``with profiler.section("eval"): ...`` times a section (not for ``fit`` with steps)."""
        self.begin(name)
        try:
            yield
        finally:
            self.end(name)

    # -- results ----------------------------------------------------------------------------------

    @property
    def steps(self) -> int:
        """Training steps counted over the timed fits."""
        return self._steps

    @property
    def eval_passes(self) -> int:
        """Evaluation passes timed (validation and standalone tests)."""
        return self._eval_passes

    @property
    def fit_time(self) -> float:
        """Wall time of the timed fits, in seconds (evaluation passes inside them included)."""
        return self._wall_ns["fit"] / 1e9

    @property
    def eval_time(self) -> float:
        """Wall time of the timed evaluation passes, in seconds."""
        return self._wall_ns["eval"] / 1e9

    @property
    def train_time(self) -> float:
        """Training time: the fits' wall time less the evaluation passes inside them and the
        fit-level hooks (``setup``, ``on_fit_start``, ``on_fit_end``; a plot written at the end
        of the fit is not a cost of the steps). It is the time of the training epochs."""
        wall = self._wall_ns["fit"] - self._eval_in_fit_ns - self._fit_hooks_in_fit_ns
        return max(wall, 0) / 1e9

    @property
    def step_time(self) -> float | None:
        """The mean wall time of a training step, in seconds (``None`` before any step)."""
        return self.train_time / self._steps if self._steps else None

    def _phase_time(self, phase: Phase) -> float:
        if phase == "train":
            return self.train_time
        if phase == "eval":
            return self.eval_time
        return self.fit_time

    def report(self) -> list[HookTiming]:
        """One row per plugin and hook that ran, the most expensive first."""
        rows = []
        for (plugin, hook), stat in self._stats.items():
            if not stat.calls:
                continue
            phase = hook_phase(hook)
            total = stat.total_ns / 1e9
            wall = self._phase_time(phase)
            rows.append(
                HookTiming(
                    plugin=plugin,
                    hook=hook,
                    phase=phase,
                    calls=stat.calls,
                    total=total,
                    mean=total / stat.calls,
                    per_step=total / self._steps if phase == "train" and self._steps else None,
                    share=total / wall if wall > 0 else None,
                )
            )
        rows.sort(key=lambda row: (-row.total, row.plugin, row.hook))
        return rows

    def plugin_totals(self) -> list[PluginTiming]:
        """One row per plugin, its hooks summed per phase, the most expensive first."""
        sums: dict[str, dict[str, float]] = {}
        calls: dict[str, int] = {}
        for row in self.report():
            per_phase = sums.setdefault(row.plugin, {"train": 0.0, "eval": 0.0, "fit": 0.0})
            per_phase[row.phase] += row.total
            calls[row.plugin] = calls.get(row.plugin, 0) + row.calls
        train_time, eval_time = self.train_time, self.eval_time
        totals = [
            PluginTiming(
                plugin=plugin,
                calls=calls[plugin],
                train=phases["train"],
                eval=phases["eval"],
                fit=phases["fit"],
                share_of_step=phases["train"] / train_time if train_time > 0 else None,
                share_of_eval=phases["eval"] / eval_time if eval_time > 0 else None,
            )
            for plugin, phases in sums.items()
        ]
        totals.sort(key=lambda row: (-row.total, row.plugin))
        return totals

    def format_report(self) -> str:
        """The report as a text table: a summary line, per plugin, then per plugin and hook."""
        step = self.step_time
        lines = [
            "hookwise hook profile: "
            + (
                f"fit {self.fit_time:.3f} s, "
                f"{self._steps} training steps"
                + (f" ({ms(step)} ms/step)" if step is not None else "")
                if self._fits
                else "no fit timed"
            )
            + f", {self._eval_passes} evaluation passes ({self.eval_time:.3f} s)"
        ]
        return format_tables(lines, self.plugin_totals(), self.report())

    def log_report(self, level: int = logging.INFO) -> None:
        """Log :meth:`format_report` on the ``hookwise.profiler`` logger."""
        logger.log(level, "%s", self.format_report())


__all__ = ["EVAL_HOOKS", "TRAIN_HOOKS", "HookProfiler", "HookTiming", "PluginTiming", "hook_phase"]
