"""What the fit loop builds per training step: a batch hook's read-only ``trainer_state``, and
the schedulers that step with the optimizer."""

from __future__ import annotations

from typing import Any

from hookwise.readonly import ReadOnlyState


def batch_state(epoch_state: Any, step: int, *, inside: bool, metrics: Any = None) -> ReadOnlyState:
    """A batch hook's ``trainer_state``, read-only and shared by the call's implementations
    (DESIGN decision 25): ``epoch_state`` at ``step``, with ``"accumulating": True`` when the
    call is ``inside`` an accumulation window, and the step's loss ``metrics`` when given."""
    if metrics is None:
        if inside:
            return ReadOnlyState(epoch_state, global_step=step, accumulating=True)
        return ReadOnlyState(epoch_state, global_step=step)
    if inside:
        return ReadOnlyState(epoch_state, global_step=step, accumulating=True, metrics=metrics)
    return ReadOnlyState(epoch_state, global_step=step, metrics=metrics)


def step_batch_schedulers(schedulers: list[Any], step: int) -> None:
    """Step the per-step schedulers after step ``step`` (vis4d's wrappers get the step)."""
    for scheduler in schedulers:
        if hasattr(scheduler, "step_on_batch"):
            scheduler.step_on_batch(step)
        else:
            scheduler.step()


def per_step_schedulers(schedulers: list[Any], interval: str) -> list[Any]:
    """The schedulers that step after every optimizer step: all of them with
    ``scheduler_interval="step"``; vis4d's wrappers (``step_on_batch``) always."""
    if interval == "epoch":  # vis4d's wrappers step per batch too
        return [s for s in schedulers if hasattr(s, "step_on_batch")]
    return list(schedulers)
