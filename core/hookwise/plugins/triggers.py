"""Declarative triggers: when an implementation runs on the trainer's call path.

``@hookimpl(every_n_steps=50)`` runs an implementation only when ``trainer_state["global_step"]``
is a multiple of 50 (and not inside an accumulation window: a batch hook call with
``trainer_state["accumulating"]``, so it runs once per optimizer step); ``every_n_epochs=2``
only in epochs 2, 4, ... (``current_epoch`` 1, 3, ...); ``on_ranks="zero"`` only on rank 0;
``stages=("val",)`` only while ``trainer_state["stage"]`` is ``"val"``. The counts are read
from the state the trainer passes, never kept by the plugin, so a resumed run fires at the same
steps as an uninterrupted one.
An interval that is a parameter of the plugin names the attribute holding it:
``@hookimpl(every_n_steps="checkpoint_period")`` reads ``self.checkpoint_period`` at each call
(``None`` there: every call).

The generated call code evaluates a trigger inline (:meth:`Trigger.condition`), so a skipped
implementation costs a comparison, not a call. Ranks are fixed for a process: an implementation
meant for other ranks is left out of the call code altogether. Triggers apply on the trainer's
path (``pm.caller(hook).call_ordered`` / ``call_attributed``); ``pm.hook.<name>(...)`` keeps
pluggy's semantics and calls every implementation. A state without the counter a trigger reads
(a hand-built partial state) does not filter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hookwise.errors import PluginValidationError

#: The stages a trigger may name (``trainer_state["stage"]``).
STAGES: tuple[str, ...] = ("train", "val", "test")
#: The hooks that belong to the training stage whatever the state says.
_TRAIN_HOOKS = frozenset(
    {
        "on_train_epoch_start",
        "on_train_batch_start",
        "on_train_batch_end",
        "on_train_epoch_end",
        "on_before_optimizer_step",
    }
)
#: What the generated code compares a counter the state lacks with.
MISSING: Any = object()


class _InsideWindow:
    """The step of a batch hook call inside an accumulation window
    (``trainer_state["accumulating"]``): no interval divides it, so step triggers fire once
    per optimizer step (DESIGN.md decision 23), and so do the checkpoints they time."""

    __slots__ = ()

    def __mod__(self, other: object) -> int:
        return 1

    def __repr__(self) -> str:
        return "<inside an accumulation window>"


INSIDE_WINDOW: Any = _InsideWindow()


@dataclass(frozen=True)
class Trigger:
    """When an implementation runs; ``None`` fields do not filter.

    :param every_n_steps: run when ``global_step % every_n_steps == 0``.
    :param every_n_epochs: run when ``(current_epoch + 1) % every_n_epochs == 0``.
    :param ranks: run only on these ranks.
    :param stages: run only in these stages.
    :param steps_from: the attribute of ``owner`` holding the step interval, read at each call
        (``None`` there: no filter); instead of ``every_n_steps``.
    :param epochs_from: likewise for the epoch interval.
    :param owner: the plugin object those attributes belong to.
    """

    every_n_steps: int | None = None
    every_n_epochs: int | None = None
    ranks: frozenset[int] | None = None
    stages: frozenset[str] | None = None
    steps_from: str | None = None
    epochs_from: str | None = None
    owner: Any = field(default=None, compare=False, repr=False)

    def on_rank(self, rank: int) -> bool:
        """Whether the implementation runs at all in a process of rank ``rank``."""
        return self.ranks is None or rank in self.ranks

    def filters_calls(self) -> bool:
        """Whether the trigger decides per call (steps, epochs or stages)."""
        return any(
            v is not None
            for v in (
                self.every_n_steps,
                self.every_n_epochs,
                self.stages,
                self.steps_from,
                self.epochs_from,
            )
        )

    def intervals(self) -> tuple[int | None, int | None]:
        """``(steps, epochs)``: the intervals now (an attribute's current value)."""
        steps, epochs = self.every_n_steps, self.every_n_epochs
        if self.steps_from is not None:
            steps = getattr(self.owner, self.steps_from)
        if self.epochs_from is not None:
            epochs = getattr(self.owner, self.epochs_from)
        return steps, epochs

    def fires(self, hook: str, kwargs: Mapping[str, Any]) -> bool:
        """Whether the implementation runs in the call with these arguments (the same rule the
        generated code inlines with :meth:`condition`)."""
        state = kwargs.get("trainer_state")
        if not isinstance(state, Mapping):
            return True
        step, epoch = state.get("global_step", MISSING), state.get("current_epoch", MISSING)
        if state.get("accumulating"):
            step = INSIDE_WINDOW
        every_steps, every_epochs = self.intervals()
        if every_steps is not None and step is not MISSING and step % every_steps:
            return False
        if every_epochs is not None and epoch is not MISSING and (epoch + 1) % every_epochs:
            return False
        if self.stages is not None:
            stage = stage_of(hook, state)
            if stage is not None and stage not in self.stages:
                return False
        return True

    def condition(self, stages_name: str, owner_name: str = "_owner") -> str:
        """A Python expression over the locals ``_step``, ``_epoch``, ``_stage`` and the globals
        ``_MISSING``, ``stages_name`` (this trigger's stages) and ``owner_name`` (the plugin,
        for an interval read from its attribute)."""
        parts = []
        if self.every_n_steps is not None:
            parts.append(f"(_step is _MISSING or _step % {self.every_n_steps} == 0)")
        if self.steps_from is not None:
            parts.append(
                f"(_step is _MISSING or (_n := {owner_name}.{self.steps_from}) is None "
                f"or _step % _n == 0)"
            )
        if self.every_n_epochs is not None:
            parts.append(f"(_epoch is _MISSING or (_epoch + 1) % {self.every_n_epochs} == 0)")
        if self.epochs_from is not None:
            parts.append(
                f"(_epoch is _MISSING or (_n := {owner_name}.{self.epochs_from}) is None "
                f"or (_epoch + 1) % _n == 0)"
            )
        if self.stages is not None:
            parts.append(f"(_stage is None or _stage in {stages_name})")
        return " and ".join(parts) or "True"

    def describe(self) -> str:
        """``"every 50 steps, on ranks [0]"``; ``"every 2 steps (checkpoint_period)"`` for an
        interval read from an attribute (its value now)."""
        parts = []
        steps, epochs = self.intervals()
        for value, attribute, unit in (
            (steps, self.steps_from, "steps"),
            (epochs, self.epochs_from, "epochs"),
        ):
            if value is not None:
                every = f"every {unit[:-1]}" if value == 1 else f"every {value} {unit}"
                parts.append(every + (f" ({attribute})" if attribute else ""))
        if self.ranks is not None:
            parts.append(f"on ranks {sorted(self.ranks)}")
        if self.stages is not None:
            parts.append(f"in stages {sorted(self.stages)}")
        return ", ".join(parts)


def stage_of(hook: str, state: Mapping[str, Any]) -> str | None:
    """The stage of a call: ``state["stage"]``, else ``"train"`` for the training hooks."""
    stage = state.get("stage")
    if stage is None and hook in _TRAIN_HOOKS:
        return "train"
    return stage if isinstance(stage, str) else None


def _positive(value: Any, option: str, where: str, plugin: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PluginValidationError(
            f"{where}: {option} must be a positive integer or the name of the plugin's "
            f"attribute holding one, got {value!r}",
            plugin=plugin,
        )
    return value


def _interval(value: Any, option: str, where: str, plugin: Any) -> tuple[int | None, str | None]:
    """``(interval, attribute)`` of ``every_n_steps=``/``every_n_epochs=``: a positive integer,
    or the name of the plugin's attribute that holds one (or ``None``)."""
    if value is None:
        return None, None
    if not isinstance(value, str):
        return _positive(value, option, where, plugin), None
    if not value.isidentifier():
        raise PluginValidationError(
            f"{where}: {option}={value!r} must name an attribute of the plugin (an identifier)",
            plugin=plugin,
        )
    if not hasattr(plugin, value):
        raise PluginValidationError(
            f"{where}: {option}={value!r} names an attribute the plugin does not have; set "
            f"self.{value} (a positive integer, or None for every call) in its __init__",
            plugin=plugin,
        )
    current = getattr(plugin, value)
    if current is not None:
        _positive(current, f"{option} (its attribute {value!r})", where, plugin)
    return None, value


def _ranks(value: Any, where: str, plugin: Any) -> frozenset[int] | None:
    if value is None or value == "all":
        return None
    if value == "zero":
        return frozenset({0})
    values = [value] if isinstance(value, int) else value
    if isinstance(values, Iterable) and not isinstance(values, str):
        ranks = list(values)
        if all(isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in ranks):
            return frozenset(ranks)
    raise PluginValidationError(
        f"{where}: on_ranks must be 'zero', 'all', a rank or a list of ranks, got {value!r}",
        plugin=plugin,
    )


def _stages(value: Any, where: str, plugin: Any) -> frozenset[str] | None:
    if value is None:
        return None
    stages = [value] if isinstance(value, str) else list(value)
    unknown = [s for s in stages if s not in STAGES]
    if unknown or not stages:
        raise PluginValidationError(
            f"{where}: stages must name some of {list(STAGES)}, got {value!r}", plugin=plugin
        )
    return frozenset(stages)


def trigger_from_opts(opts: Mapping[str, Any], where: str, plugin: Any) -> Trigger | None:
    """The trigger ``@hookimpl(...)`` declared in ``opts`` (``None``: always runs).

    :raises PluginValidationError: an option has a value it cannot have.
    """
    steps, epochs = opts.get("every_n_steps"), opts.get("every_n_epochs")
    ranks, stages = opts.get("on_ranks"), opts.get("stages")
    if steps is None and epochs is None and ranks is None and stages is None:
        return None
    every_steps, steps_from = _interval(steps, "every_n_steps", where, plugin)
    every_epochs, epochs_from = _interval(epochs, "every_n_epochs", where, plugin)
    trigger = Trigger(
        every_n_steps=every_steps,
        every_n_epochs=every_epochs,
        ranks=_ranks(ranks, where, plugin),
        stages=_stages(stages, where, plugin),
        steps_from=steps_from,
        epochs_from=epochs_from,
        owner=plugin,
    )
    return trigger if trigger != Trigger() else None


def counters(hook: str, state: Any) -> tuple[Any, Any, str | None]:
    """``(global_step, current_epoch, stage)`` of a call's ``trainer_state``, for the generated
    code (``MISSING`` for a counter the state lacks). Called once per triggered hook call: a
    ``dict`` (the trainer's state, or its read-only view, a ``dict`` subclass) skips the
    ``Mapping`` ABC check. The generated code reads a ``dict`` state's step and epoch inline
    (:func:`hookwise.plugins.codegen._counter_lines`, the same rule): keep the two in step."""
    if not isinstance(state, dict) and not isinstance(state, Mapping):
        return MISSING, MISSING, None
    stage = state.get("stage")
    if stage is None:
        stage = "train" if hook in _TRAIN_HOOKS else None
    elif not isinstance(stage, str):
        stage = None
    step = INSIDE_WINDOW if state.get("accumulating") else state.get("global_step", MISSING)
    return step, state.get("current_epoch", MISSING), stage
