"""What Lightning callbacks log (``pl_module.log``, ``log_dict``, ``logger.log_metrics``),
turned into hookwise logs under hookwise's naming rule.

A name logged while training is ``train/<name>``, while validating ``val/<name>``, in a
standalone test ``test/<name>`` (as a hookwise hook's returned key is); a name that already
starts with ``train/``, ``val/`` or ``test/`` is kept. Values logged ``on_epoch`` from a
batch hook are reduced (``reduce_fx``, a mean weighted by ``batch_size`` by default) at the end
of that epoch or evaluation pass; with both ``on_step`` and ``on_epoch`` the two are logged as
``<name>_step`` and ``<name>_epoch``, as Lightning names them.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from hookwise.errors import ConfigError

PREFIXES = ("train/", "val/", "test/")
#: hooks in which Lightning refuses ``self.log`` (there is no step and no epoch to log at)
NO_LOGGING = frozenset({"setup", "teardown", "on_fit_start", "on_fit_end"})
#: hooks whose logs default to ``on_step=True, on_epoch=False`` (all others: the reverse)
STEP_HOOKS = frozenset(
    {"on_train_batch_start", "on_train_batch_end", "on_before_optimizer_step", "on_after_backward"}
)
#: hooks that may log ``on_step`` (the others have no step)
BATCH_HOOKS = STEP_HOOKS | {"on_validation_batch_end", "on_test_batch_end"}
_REDUCERS: dict[str, Callable[[list[torch.Tensor]], torch.Tensor]] = {
    "max": lambda values: torch.stack(values).max(),
    "min": lambda values: torch.stack(values).min(),
    "sum": lambda values: torch.stack(values).sum(),
}


def full_name(prefix: str, name: str) -> str:
    """hookwise's name of ``name`` logged in a phase whose logs are ``prefix``-ed."""
    return name if name.startswith(PREFIXES) else prefix + name


def as_scalar(name: str, value: Any) -> torch.Tensor | float:
    """``value`` as hookwise logs it: a detached one-element tensor or a number."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ConfigError(
                f"hookwise-lightning: log({name!r}) got a tensor of shape "
                f"{tuple(value.shape)}; a logged value is one number"
            )
        return value.detach().reshape(())
    if isinstance(value, numbers.Number) and not isinstance(value, (bool, complex)):
        return float(value)  # type: ignore[arg-type]
    kind = type(value)
    raise ConfigError(
        f"hookwise-lightning: log({name!r}) got a {kind.__module__}.{kind.__qualname__}; the "
        f"adapter logs numbers and one-element tensors (a torchmetrics Metric: log its "
        f"compute() at the epoch end)"
    )


@dataclass
class _Accumulator:
    reduce_fx: str
    logged: bool
    values: list[torch.Tensor] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    def add(self, value: torch.Tensor | float, weight: float) -> None:
        tensor = value if isinstance(value, torch.Tensor) else torch.tensor(value)
        self.values.append(tensor.float())
        self.weights.append(weight)

    def result(self) -> torch.Tensor:
        if self.reduce_fx == "mean":
            weights = torch.tensor(self.weights, device=self.values[0].device)
            return (torch.stack(self.values) * weights).sum() / weights.sum()
        return _REDUCERS[self.reduce_fx](self.values)


def reducer_name(reduce_fx: Any) -> str:
    for name, function in (("mean", torch.mean), ("sum", torch.sum), ("max", torch.max)):
        if reduce_fx is function:
            return name
    if reduce_fx is torch.min:
        return "min"
    if isinstance(reduce_fx, str) and reduce_fx in ("mean", "sum", "max", "min"):
        return reduce_fx
    raise ConfigError(
        f"hookwise-lightning: log(reduce_fx={reduce_fx!r}) is not supported; use 'mean', "
        f"'sum', 'max', 'min' or the torch function of that name"
    )


class LogBook:
    """Logged values waiting to be handed to hookwise, per plugin."""

    def __init__(self) -> None:
        self._pending: dict[object, dict[str, torch.Tensor | float]] = {}
        self._epoch: dict[tuple[object, str], _Accumulator] = {}
        #: what was logged with ``prog_bar=True``, by hookwise name
        self.progress_bar: dict[str, torch.Tensor | float] = {}

    def record(
        self,
        plugin: object,
        prefix: str,
        hook: str,
        name: str,
        value: Any,
        options: dict[str, Any],
    ) -> tuple[str, torch.Tensor | float] | None:
        """Take one ``log(name, value, **options)``; return ``(hookwise name, value)`` when it is
        logged now (``None`` when it waits for the epoch's end)."""
        if hook in NO_LOGGING:
            raise ConfigError(
                f"hookwise-lightning: log({name!r}) in {hook!r}: Lightning does not allow "
                f"logging there either (there is no step or epoch to log at)"
            )
        scalar = as_scalar(name, value)
        reduce_fx = reducer_name(options.get("reduce_fx", "mean"))
        step_default = hook in STEP_HOOKS
        batch_hook = hook in BATCH_HOOKS
        on_step = options.get("on_step")
        on_epoch = options.get("on_epoch")
        on_step = step_default if on_step is None else bool(on_step)
        on_epoch = (not step_default) if on_epoch is None else bool(on_epoch)
        if on_step and not batch_hook:
            raise ConfigError(
                f"hookwise-lightning: log({name!r}, on_step=True) in {hook!r}: there is no "
                f"step there (Lightning refuses it too); use on_epoch=True"
            )
        full = full_name(prefix, name)
        if options.get("prog_bar"):
            self.progress_bar[full] = scalar
        to_logger = options.get("logger", True) is not False
        now: tuple[str, torch.Tensor | float] | None = None
        if on_step:
            step_name = f"{full}_step" if on_epoch else full
            now = (step_name, scalar)
            if to_logger:
                self._pending.setdefault(plugin, {})[step_name] = scalar
        if on_epoch and not batch_hook:
            now = (full, scalar)
            if to_logger:
                self._pending.setdefault(plugin, {})[full] = scalar
        elif on_epoch:
            epoch_name = f"{full}_epoch" if on_step else full
            key = (plugin, epoch_name)
            if key not in self._epoch:
                self._epoch[key] = _Accumulator(reduce_fx, to_logger)
            size = options.get("batch_size")
            self._epoch[key].add(scalar, 1.0 if size is None else float(size))
        return now

    def record_direct(
        self, plugin: object, prefix: str, name: str, value: Any
    ) -> tuple[str, torch.Tensor | float]:
        """Queue a value a logger was given directly (any hook, no reduction)."""
        full, scalar = full_name(prefix, name), as_scalar(name, value)
        self._pending.setdefault(plugin, {})[full] = scalar
        return full, scalar

    def end_epoch(self, plugin: object, prefix: str) -> dict[str, torch.Tensor]:
        """Reduce ``plugin``'s values logged ``on_epoch`` in this phase; queue them; return
        them all (those logged with ``logger=False`` too) by hookwise name."""
        reduced: dict[str, torch.Tensor] = {}
        for key in [k for k in self._epoch if k[0] is plugin and k[1].startswith(prefix)]:
            accumulator = self._epoch.pop(key)
            value = accumulator.result()
            reduced[key[1]] = value
            if accumulator.logged:
                self._pending.setdefault(plugin, {})[key[1]] = value
        return reduced

    def take(self, plugin: object, prefix: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Remove ``plugin``'s queued values: ``(returnable, others)``, where ``returnable``
        holds those with ``prefix`` (stripped of it, for a hook's return value) and ``others``
        the rest by full name."""
        pending = self._pending.pop(plugin, {})
        if prefix is None:
            return {}, pending
        mine = {k[len(prefix) :]: v for k, v in pending.items() if k.startswith(prefix)}
        others = {k: v for k, v in pending.items() if not k.startswith(prefix)}
        return mine, others


__all__ = ["PREFIXES", "LogBook", "as_scalar", "full_name"]
