"""Tests of the ``lr_monitor`` plugin: the logged rates are the ones the optimizer applied."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
import torch
from hookwise import Callback, ConfigError
from hookwise.testing import FitResult
from hookwise_lr_monitor import LearningRateMonitor, optimizer_names

RunFit = Callable[..., FitResult]


class LogSpy(Callback):
    """Records every log the trainer merges, with the step it was merged at."""

    def __init__(self) -> None:
        super().__init__()
        self.logs: list[tuple[int, dict[str, float]]] = []
        self.applied: dict[int, float] = {}

    def on_fit_start(self, trainer_state: Any, model: torch.nn.Module) -> None:
        trainer = trainer_state["trainer"]

        def listen(logs: Mapping[str, Any]) -> None:
            self.logs.append((trainer.global_step, {k: float(v) for k, v in logs.items()}))

        trainer.add_log_listener(listen)

    def on_before_optimizer_step(self, trainer_state: Any, model: Any, optimizer: Any) -> None:
        # the learning rate this step applies, seen independently of the plugin
        self.applied[trainer_state["global_step"] + 1] = optimizer.param_groups[0]["lr"]

    def values(self, key: str) -> dict[int, float]:
        return {step: logs[key] for step, logs in self.logs if key in logs}


def test_epoch_interval_logs_the_rate_each_epoch_used(run_fit: RunFit) -> None:
    spy = LogSpy()
    result = run_fit(
        [("lr_monitor", {"logging_interval": "epoch"}), spy],
        epochs=3,
        batches=2,
        lr=0.1,
        scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),
    )
    logged = spy.values("train/lr-SGD")
    assert logged == pytest.approx({2: 0.1, 4: 0.05, 6: 0.025})
    # the rate logged for an epoch is the rate its steps applied
    for step, rate in logged.items():
        assert spy.applied[step] == pytest.approx(rate)
        assert spy.applied[step - 1] == pytest.approx(rate)
    assert result.metrics["train/lr-SGD"] == pytest.approx(0.025)


def test_step_interval_logs_the_rate_applied_at_those_steps(run_fit: RunFit) -> None:
    spy = LogSpy()
    run_fit(
        [("lr_monitor", {"every_n_steps": 2}), spy],
        epochs=2,
        batches=3,
        lr=0.1,
        scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (s + 1)),
        scheduler_interval="step",
    )
    logged = spy.values("train/lr-SGD")
    assert sorted(logged) == [2, 4, 6]
    # step k applies base_lr * lambda(k - 1): the scheduler stepped k - 1 times before it
    assert logged == pytest.approx({k: 0.1 / k for k in (2, 4, 6)})
    assert logged == pytest.approx({k: spy.applied[k] for k in logged})


def test_default_interval_is_the_trainers_log_every_n_steps(run_fit: RunFit) -> None:
    spy = LogSpy()
    run_fit(["lr_monitor", spy], epochs=2, batches=3, log_every_n_steps=3)
    assert sorted(spy.values("train/lr-SGD")) == [3, 6]


def _state(step: int, **extra: Any) -> Any:
    return {"global_step": step, "current_epoch": 0, **extra}


def test_names_follow_vis4d_for_groups_and_several_optimizers() -> None:
    first = torch.nn.Linear(2, 2)
    second = torch.nn.Linear(2, 2)
    grouped = torch.optim.SGD(
        [{"params": first.weight, "lr": 0.1}, {"params": first.bias, "lr": 0.01}],
        lr=0.1,
        momentum=0.9,
    )
    plain = torch.optim.SGD(second.parameters(), lr=0.3)
    adam = torch.optim.Adam(second.parameters(), lr=0.002, betas=(0.8, 0.99))
    assert optimizer_names([grouped, plain, adam]) == ["lr-SGD", "lr-SGD-1", "lr-Adam"]

    monitor = LearningRateMonitor(every_n_steps=1, log_momentum=True)
    model = torch.nn.Linear(1, 1)
    for optimizer in (grouped, plain, adam):
        monitor.on_before_optimizer_step(_state(0), model, optimizer)
    logs = monitor.on_train_batch_end(_state(1), model, None, None, None, 0)
    assert logs == {
        "lr-SGD/pg1": 0.1,
        "momentum-SGD/pg1": 0.9,
        "lr-SGD/pg2": 0.01,
        "momentum-SGD/pg2": 0.9,
        "lr-SGD-1": 0.3,
        "momentum-SGD-1": 0.0,
        "lr-Adam": 0.002,
        "momentum-Adam": 0.8,
    }
    # nothing is returned at steps that are not logged
    assert monitor.on_train_batch_end(_state(2), model, None, None, None, 1) is None

    epoch_monitor = LearningRateMonitor(logging_interval="epoch")
    logs = epoch_monitor.on_train_epoch_end(_state(3, optimizers=[grouped, plain]), model, None)
    assert logs == {"lr-SGD/pg1": 0.1, "lr-SGD/pg2": 0.01, "lr-SGD-1": 0.3}


def test_epoch_interval_without_optimizers_in_the_state_is_a_clear_error() -> None:
    monitor = LearningRateMonitor(logging_interval="epoch")
    with pytest.raises(ConfigError, match=r"no 'optimizers'.*logging_interval='step'"):
        monitor.on_train_epoch_end(_state(3), torch.nn.Linear(1, 1), None)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"logging_interval": "batch"}, "logging_interval must be 'step' or 'epoch'"),
        ({"every_n_steps": 0}, "every_n_steps must be a positive integer"),
        ({"log_momentum": "no"}, "log_momentum must be true or false"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LearningRateMonitor(**params)


def test_plugin_is_valid(assert_plugin_valid: Callable[..., Any]) -> None:
    report = assert_plugin_valid("lr_monitor", every_n_steps=1)
    assert "on_before_optimizer_step" in report.hooks["lr_monitor"]
