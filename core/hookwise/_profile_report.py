"""The profiler's report: its rows (:class:`HookTiming`, :class:`PluginTiming`), the phase a
hook's share is measured against, and the text tables (see :mod:`hookwise.profiler`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Phase = Literal["train", "eval", "fit"]

#: The hooks that run inside the training loop; their share is of the step time.
TRAIN_HOOKS: frozenset[str] = frozenset(
    {
        "on_train_epoch_start",
        "on_train_batch_start",
        "on_before_optimizer_step",
        "on_train_batch_end",
        "on_train_epoch_end",
    }
)
#: The hooks of an evaluation pass; their share is of the evaluation time.
EVAL_HOOKS: frozenset[str] = frozenset(
    {"on_test_epoch_start", "on_test_batch_end", "on_test_epoch_end", "on_validation_end"}
)


def hook_phase(hook: str) -> Phase:
    """The phase whose wall time a hook's share is measured against."""
    if hook in TRAIN_HOOKS:
        return "train"
    if hook in EVAL_HOOKS:
        return "eval"
    return "fit"


@dataclass(frozen=True)
class HookTiming:
    """One plugin's implementation of one hook, as the profiler measured it.

    :param plugin: the plugin's registered name.
    :param hook: the hook's name.
    :param phase: ``"train"``, ``"eval"`` or ``"fit"`` (see the module documentation).
    :param calls: how many times it ran.
    :param total: its total time, in seconds.
    :param mean: its mean time per call, in seconds.
    :param per_step: for a training hook, the time it adds to an average training step, in
        seconds (``None`` for other hooks or before any step).
    :param share: ``total`` divided by the wall time of its phase (``None`` when that phase was
        not timed, e.g. hooks called outside a trainer).
    """

    plugin: str
    hook: str
    phase: Phase
    calls: int
    total: float
    mean: float
    per_step: float | None
    share: float | None


@dataclass(frozen=True)
class PluginTiming:
    """A plugin's time summed over its hooks, per phase (seconds, and shares as above)."""

    plugin: str
    calls: int
    train: float
    eval: float
    fit: float
    share_of_step: float | None
    share_of_eval: float | None

    @property
    def total(self) -> float:
        """All of the plugin's hook time, in seconds."""
        return self.train + self.eval + self.fit


def format_tables(
    lines: list[str], plugins: Sequence[PluginTiming], rows: Sequence[HookTiming]
) -> str:
    """``lines`` (the summary), then a table per plugin and one per plugin and hook."""
    if not rows:
        lines.append("no plugin hook ran")
        return "\n".join(lines)
    lines.append("")
    lines.append(
        f"{'plugin':<24} {'calls':>7} {'train ms':>10} {'% of step':>10} "
        f"{'eval ms':>10} {'% of eval':>10} {'other ms':>10}"
    )
    for plugin in plugins:
        lines.append(
            f"{plugin.plugin:<24} {plugin.calls:>7} {ms(plugin.train):>10} "
            f"{_percent(plugin.share_of_step):>10} {ms(plugin.eval):>10} "
            f"{_percent(plugin.share_of_eval):>10} {ms(plugin.fit):>10}"
        )
    lines.append("")
    lines.append(
        f"{'plugin':<24} {'hook':<26} {'calls':>7} {'total ms':>10} {'mean µs':>10} "
        f"{'µs/step':>9} {'share':>8} {'of':<5}"
    )
    for row in rows:
        per_step = f"{row.per_step * 1e6:.2f}" if row.per_step is not None else "-"
        lines.append(
            f"{row.plugin:<24} {row.hook:<26} {row.calls:>7} {ms(row.total):>10} "
            f"{row.mean * 1e6:>10.2f} {per_step:>9} {_percent(row.share):>8} "
            f"{_PHASE_LABEL[row.phase]:<5}"
        )
    return "\n".join(line.rstrip() for line in lines)


_PHASE_LABEL: dict[str, str] = {"train": "step", "eval": "eval", "fit": "fit"}


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}"


def _percent(share: float | None) -> str:
    return f"{share * 100:.2f}%" if share is not None else "-"


__all__ = [
    "EVAL_HOOKS",
    "TRAIN_HOOKS",
    "HookTiming",
    "Phase",
    "PluginTiming",
    "format_tables",
    "hook_phase",
    "ms",
]
