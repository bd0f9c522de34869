"""Tests of the ``throughput`` plugin: data and compute time split where they happen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hookwise import Callback, ConfigError
from hookwise.testing import FitResult, TinyData
from hookwise_throughput import ThroughputMonitor, batch_size_of
from torch.utils.data import DataLoader, default_collate

RunFit = Callable[..., FitResult]


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def slow_loader(
    n: int, batch_size: int, collate_cost: Callable[[], None]
) -> DataLoader[dict[str, torch.Tensor]]:
    """Batches whose loading costs time: ``collate_cost()`` runs for every batch."""

    def collate(samples: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        collate_cost()
        collated: dict[str, torch.Tensor] = default_collate(samples)
        return collated

    return DataLoader(TinyData(n), batch_size=batch_size, collate_fn=collate)


class Work(Callback):
    """Spends (fake) time inside the step, and during evaluation passes."""

    def __init__(self, clock: FakeClock, in_step: float, in_eval: float) -> None:
        super().__init__()
        self.clock, self.in_step, self.in_eval = clock, in_step, in_eval

    def on_train_batch_start(
        self, trainer_state: Any, model: Any, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        self.clock.advance(self.in_step / 2)

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> Any:
        self.clock.advance(self.in_step / 2)

    def on_test_epoch_start(self, trainer_state: Any, model: Any) -> None:
        self.clock.advance(self.in_eval)


def reports_of(result: Any, plugin: str) -> list[dict[str, float]]:
    """What the plugin returned at its report steps."""
    returned = result.calls.results("on_train_batch_end", plugin=plugin)
    return [r for r in returned if r is not None]


def test_reports_split_data_and_compute_exactly_and_leave_evaluation_out(run_fit: RunFit) -> None:
    clock = FakeClock()
    monitor = ThroughputMonitor(every_n_steps=3)
    monitor.clock = clock
    result = run_fit(
        [monitor, Work(clock, in_step=0.01, in_eval=5.0)],
        epochs=2,
        batch_size=4,
        val_check_interval=2,  # validation inside the epochs too
        train_dataloader=slow_loader(12, 4, lambda: clock.advance(0.03)),
    )
    reports = reports_of(result, "ThroughputMonitor")
    assert len(reports) == 2  # steps 3 and 6
    for report in reports:
        assert report["throughput/data_time"] == pytest.approx(0.03)
        assert report["throughput/compute_time"] == pytest.approx(0.01)
        assert report["throughput/samples_per_sec"] == pytest.approx(4 / 0.04)
        assert report["throughput/batches_per_sec"] == pytest.approx(1 / 0.04)
    assert result.metrics["train/throughput/samples_per_sec"] == pytest.approx(100.0)


def test_real_time_split_follows_where_the_time_is_spent(run_fit: RunFit) -> None:
    # Lower bounds only: a sleep lasts at least as long as asked, however busy the machine.
    result = run_fit(
        [("throughput", {"every_n_steps": 3})],
        epochs=1,
        batch_size=4,
        train_dataloader=slow_loader(12, 4, lambda: time.sleep(0.02)),
    )
    (report,) = reports_of(result, "throughput")
    assert report["throughput/data_time"] >= 0.02
    assert report["throughput/compute_time"] > 0
    step_time = report["throughput/data_time"] + report["throughput/compute_time"]
    assert report["throughput/samples_per_sec"] == pytest.approx(4 / step_time)
    assert report["throughput/samples_per_sec"] <= 4 / 0.02


def test_default_interval_is_the_trainers_log_every_n_steps(run_fit: RunFit) -> None:
    result = run_fit(["throughput"], epochs=2, batches=3, log_every_n_steps=2, test=False)
    steps = [
        call.kwargs["trainer_state"]["global_step"]
        for call in result.calls.of("on_train_batch_end", plugin="throughput")
        if call.result is not None
    ]
    assert steps == [2, 4, 6]


def _state(step: int) -> Any:
    return {"global_step": step, "current_epoch": 0}


def test_cuda_is_synchronised_only_at_report_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    synchronised: list[int] = []
    step = {"now": 0}
    monkeypatch.setattr(
        torch.cuda, "synchronize", lambda device=None: synchronised.append(step["now"])
    )

    class FakeTrainer:
        device = torch.device("cuda", 0)
        log_every_n_steps = 50

    monitor = ThroughputMonitor(every_n_steps=3)
    model = torch.nn.Linear(1, 1)
    monitor.on_fit_start({"trainer": FakeTrainer()}, model)
    monitor.on_train_epoch_start(_state(0), model, None)
    batch = {"inputs": torch.zeros(5, 1)}
    for number in range(1, 10):
        step["now"] = number
        monitor.on_train_batch_start(_state(number - 1), model, None, batch, number - 1)
        monitor.on_train_batch_end(_state(number), model, None, None, batch, number - 1)
    assert synchronised == [3, 6, 9]

    off = ThroughputMonitor(every_n_steps=3, synchronize=False)
    off.on_fit_start({"trainer": FakeTrainer()}, model)
    synchronised.clear()
    for number in range(1, 4):
        off.on_train_batch_start(_state(number - 1), model, None, batch, number - 1)
        off.on_train_batch_end(_state(number), model, None, None, batch, number - 1)
    assert synchronised == []


def test_batch_size_is_read_from_shapes() -> None:
    images = torch.zeros(6, 3, 2, 2)
    assert batch_size_of({"images": images, "labels": torch.zeros(6)}) == 6
    assert batch_size_of((torch.zeros(7, 2), torch.zeros(7))) == 7
    assert batch_size_of({"names": ["a", "b", "c"], "images": images}) == 3
    assert batch_size_of([torch.zeros(3, 4, 4), torch.zeros(3, 5, 5)]) == 2  # one per sample
    assert batch_size_of({"meta": {"ids": torch.arange(4)}}) == 4
    assert batch_size_of({"images": images, "labels": torch.zeros(2)}, "labels") == 2
    with pytest.raises(ValueError, match=r"batch_size_key 'target' is not in the batch.*images"):
        batch_size_of({"images": images}, "target")
    with pytest.raises(ValueError, match=r"cannot tell the batch size.*set batch_size_key"):
        batch_size_of({"name": "x"})


def test_an_unknown_batch_size_key_fails_the_fit_naming_it(run_fit: RunFit) -> None:
    with pytest.raises(ValueError, match="batch_size_key 'images' is not in the batch") as info:
        run_fit([("throughput", {"batch_size_key": "images"})], epochs=1, test=False)
    assert "throughput" in "\n".join(getattr(info.value, "__notes__", []))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"every_n_steps": -1}, "every_n_steps must be a positive integer"),
        ({"batch_size_key": 3}, "batch_size_key must be a batch key"),
        ({"synchronize": "sometimes"}, "synchronize must be true or false"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ThroughputMonitor(**params)


def test_plugin_is_valid(assert_plugin_valid: Callable[..., Any]) -> None:
    report = assert_plugin_valid("throughput", every_n_steps=2)
    assert {"on_train_batch_start", "on_train_batch_end"} <= set(report.hooks["throughput"])
