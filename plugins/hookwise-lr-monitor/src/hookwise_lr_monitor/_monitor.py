"""``LearningRateMonitor``: learning rates (and optionally momenta) as logs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from hookwise import Callback, ConfigError

if TYPE_CHECKING:
    from hookwise import CallbackConnector, TrainerState
    from hookwise.hookspecs import MetricLogs
    from torch import nn
    from torch.optim import Optimizer

INTERVALS = ("step", "epoch")
#: The interval used when neither ``every_n_steps`` nor the trainer's ``log_every_n_steps``
#: says one.
DEFAULT_EVERY_N_STEPS = 50


def optimizer_names(optimizers: Sequence[Optimizer]) -> list[str]:
    """The log name of each optimizer, as vis4d and Lightning write it: ``lr-<Class>``, and
    ``lr-<Class>-1``, ``lr-<Class>-2``, ... for further optimizers of the same class."""
    seen: dict[str, int] = {}
    names = []
    for optimizer in optimizers:
        base = f"lr-{type(optimizer).__name__}"
        count = seen.get(base, 0)
        seen[base] = count + 1
        names.append(base if count == 0 else f"{base}-{count}")
    return names


def _number(value: Any) -> float:
    # A learning rate may be a tensor (capturable optimizers); read it only at log steps.
    return float(value)


def _momentum(group: Mapping[str, Any]) -> float | None:
    if "momentum" in group:
        return _number(group["momentum"])
    betas = group.get("betas")
    if isinstance(betas, (tuple, list)) and betas:
        return _number(betas[0])
    return None


def group_logs(name: str, optimizer: Optimizer, momentum: bool) -> dict[str, float]:
    """``{lr-SGD: 0.1}`` for one parameter group, ``{lr-SGD/pg1: ..., lr-SGD/pg2: ...}`` for
    several; with ``momentum``, ``momentum-SGD[/pg<i>]`` too (``betas[0]`` for Adam-like
    optimizers; groups without a momentum are left out)."""
    groups = optimizer.param_groups
    logs: dict[str, float] = {}
    for index, group in enumerate(groups):
        suffix = "" if len(groups) == 1 else f"/pg{index + 1}"
        logs[f"{name}{suffix}"] = _number(group["lr"])
        if momentum:
            value = _momentum(group)
            if value is not None:
                logs[f"momentum-{name[3:]}{suffix}"] = value
    return logs


class LearningRateMonitor(Callback):
    """Logs the learning rate of every optimizer and parameter group.

    Keys follow vis4d's trainer: ``lr-<OptimizerClass>`` for an optimizer with one parameter
    group, ``lr-<OptimizerClass>/pg<i>`` (1-based) for several, and ``-1``, ``-2`` suffixes for
    further optimizers of the same class. They are returned as logs, so the trainer records
    them as ``train/lr-SGD`` and so on.

    With ``logging_interval="step"`` the rate is read in ``on_before_optimizer_step``, so it is
    the rate that step applied (as vis4d logs it, before ``optimizer.step()``), every
    ``every_n_steps`` steps (at global steps that are multiples of it, numbered as in
    ``on_train_batch_end``). With ``"epoch"`` it is read in ``on_train_epoch_end``: the rate at
    the end of the epoch, which is the one the epoch used when schedulers step per epoch.

    Reading a learning rate is a host-side read of ``param_groups`` (no device
    synchronisation), and happens only at the steps that are logged.

    :param logging_interval: ``"step"`` (default) or ``"epoch"``.
    :param every_n_steps: the step interval; defaults to the trainer's ``log_every_n_steps``
        (50 unless set).
    :param log_momentum: also log ``momentum-<OptimizerClass>[/pg<i>]`` (SGD's ``momentum``,
        Adam's ``betas[0]``).
    :param epoch_based: accepted for vis4d compatibility; ``logging_interval`` decides.
    :param train_connector: accepted for vis4d compatibility (unused).
    :param test_connector: accepted for vis4d compatibility (unused).
    """

    #: No hook makes a collective call (``on_error="warn"`` is allowed in distributed runs).
    collective_free: ClassVar[bool] = True

    def __init__(
        self,
        *,
        logging_interval: str = "step",
        every_n_steps: int | None = None,
        log_momentum: bool = False,
        epoch_based: bool = True,
        train_connector: CallbackConnector | Mapping[str, Any] | None = None,
        test_connector: CallbackConnector | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(epoch_based, train_connector, test_connector)
        if logging_interval not in INTERVALS:
            raise ConfigError(
                f"lr_monitor: logging_interval must be 'step' or 'epoch', got {logging_interval!r}"
            )
        if every_n_steps is not None and (
            isinstance(every_n_steps, bool)
            or not isinstance(every_n_steps, int)
            or every_n_steps < 1
        ):
            raise ConfigError(
                f"lr_monitor: every_n_steps must be a positive integer (or unset for the "
                f"trainer's log_every_n_steps), got {every_n_steps!r}"
            )
        if not isinstance(log_momentum, bool):
            raise ConfigError(
                f"lr_monitor: log_momentum must be true or false, got {log_momentum!r}"
            )
        self.logging_interval = logging_interval
        self.every_n_steps = every_n_steps
        self.log_momentum = log_momentum
        self._interval = every_n_steps or DEFAULT_EVERY_N_STEPS
        self._step_optimizers: list[Optimizer] = []
        self._captured: dict[str, float] = {}
        self._captured_step = -1

    def on_fit_start(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Take the interval from the trainer's ``log_every_n_steps`` unless given."""
        if self.every_n_steps is None:
            trainer = trainer_state.get("trainer")
            interval = trainer.log_every_n_steps if trainer is not None else 0
            self._interval = interval if interval > 0 else DEFAULT_EVERY_N_STEPS

    def on_before_optimizer_step(
        self, trainer_state: TrainerState, model: nn.Module, optimizer: Optimizer
    ) -> None:
        """Step interval: at a logged step, read the rates this optimizer is about to apply."""
        if self.logging_interval != "step":
            return
        step = trainer_state.get("global_step", 0) + 1  # the step being taken
        if step % self._interval:
            return
        if step != self._captured_step:
            self._captured_step = step
            self._step_optimizers = []
            self._captured = {}
        self._step_optimizers.append(optimizer)
        name = optimizer_names(self._step_optimizers)[-1]
        self._captured.update(group_logs(name, optimizer, self.log_momentum))

    def on_train_batch_end(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> MetricLogs | None:
        """Step interval: return the rates read before this step's optimizer steps."""
        if self._captured_step != trainer_state.get("global_step", -2) or not self._captured:
            return None
        logs: MetricLogs = dict(self._captured)
        self._captured = {}
        return logs

    def on_train_epoch_end(
        self, trainer_state: TrainerState, model: nn.Module, loss_module: Any
    ) -> MetricLogs | None:
        """Epoch interval: return every optimizer's rates at the end of the epoch."""
        if self.logging_interval != "epoch":
            return None
        optimizers = trainer_state.get("optimizers")
        if optimizers is None:
            raise ConfigError(
                "lr_monitor: trainer_state has no 'optimizers' in on_train_epoch_end (keys: "
                f"{sorted(trainer_state)}); use logging_interval='step' with this trainer"
            )
        logs: dict[str, float] = {}
        for name, optimizer in zip(optimizer_names(optimizers), optimizers, strict=True):
            logs.update(group_logs(name, optimizer, self.log_momentum))
        return logs
