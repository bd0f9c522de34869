"""Tests of the ``nan_guard`` plugin: real tiny fits with poisoned batches."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import (
    Callback,
    ConfigError,
    DataConnector,
    LossConnector,
    LossModule,
    Trainer,
    data_key,
    pred_key,
)
from hookwise.testing import FitResult, TinyData, TinyModel
from hookwise_nan_guard import NanGuard, NonFiniteLossError
from torch.utils.data import DataLoader

RunFit = Callable[..., FitResult]


class Poison(Callback):
    """Makes the batch of the given global steps NaN (in place, before the forward pass)."""

    def __init__(self, steps: set[int]) -> None:
        super().__init__()
        self.steps = steps

    def on_train_batch_start(
        self, trainer_state: Any, model: Any, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer_state["global_step"] + 1 in self.steps:
            batch["inputs"].fill_(float("nan"))


class WeightSpy(Callback):
    """Copies of the weights (and the optimizer state) before and after every step."""

    def __init__(self, optimizer: torch.optim.Optimizer | None = None) -> None:
        super().__init__()
        self.optimizer = optimizer
        self.before: dict[int, dict[str, torch.Tensor]] = {}
        self.after: dict[int, dict[str, torch.Tensor]] = {}
        self.state_after: dict[int, list[dict[str, Any]]] = {}

    def on_train_batch_start(
        self, trainer_state: Any, model: Any, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        step = trainer_state["global_step"] + 1
        self.before[step] = _copy(model.state_dict())

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> Any:
        step = trainer_state["global_step"]
        self.after[step] = _copy(model.state_dict())
        if self.optimizer is not None:
            self.state_after[step] = [
                _copy(self.optimizer.state.get(p, {})) for p in model.parameters()
            ]


def _copy(mapping: Any) -> dict[str, Any]:
    return {k: v.detach().clone() if isinstance(v, torch.Tensor) else v for k, v in mapping.items()}


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(
        torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in a
    )


def finite(weights: dict[str, torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(v).all()) for v in weights.values())


# -- a fit with an optimizer of our choosing (momentum, weight decay, Adam) -------------------


def fit_with(
    tmp_path: Path, optimizer_name: str, plugins: list[Any], epochs: int = 2
) -> tuple[Trainer, TinyModel, torch.optim.Optimizer, WeightSpy]:
    torch.manual_seed(0)
    model = TinyModel()
    if optimizer_name == "adamw":
        optimizer: torch.optim.Optimizer = torch.optim.AdamW(
            model.parameters(), lr=0.05, weight_decay=0.1
        )
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)
    spy = WeightSpy(optimizer)
    trainer = Trainer(
        device="cpu",
        output_dir=tmp_path / "run",
        train_dataloader=DataLoader(TinyData(12), batch_size=4, shuffle=True),
        train_data_connector=DataConnector({"inputs": "inputs"}),
        num_epochs=epochs,
        check_val_every_n_epoch=None,
        callbacks=[*plugins, spy],
        seed=0,
    )
    loss = LossModule(
        {
            "loss": torch.nn.CrossEntropyLoss(),
            "connector": LossConnector({"input": pred_key("logits"), "target": data_key("labels")}),
        }
    )
    trainer.fit(model, optimizer, None, loss)
    return trainer, model, optimizer, spy


# -- stop -------------------------------------------------------------------------------------


def test_stop_ends_training_at_the_poisoned_step_with_the_weights_before_it(
    run_fit: RunFit,
) -> None:
    spy = WeightSpy()
    result = run_fit([Poison({5}), "nan_guard", spy], epochs=4, batches=3, test=False)

    trainer = result.trainer
    assert trainer.global_step == 5  # the poisoned step ran, nothing after it
    request = result.stop_request
    assert request is not None and request.plugin == "nan_guard"
    assert (request.epoch, request.global_step) == (1, 4)  # asked during step 5, in epoch 1
    assert "non-finite loss" in request.reason
    assert "epoch 1, step 5" in request.reason
    assert "loss=nan" in request.reason
    # the bad update was not applied: the weights are those after step 4, and finite
    assert same(spy.after[5], spy.before[5])
    assert same(spy.after[5], spy.after[4])
    assert finite(dict(result.model.state_dict()))
    # steps before it did train
    assert not same(spy.after[4], spy.before[4])
    result.calls.assert_called("on_train_batch_end", times=5)


def test_a_finite_run_is_untouched(run_fit: RunFit) -> None:
    result = run_fit(["nan_guard"], epochs=2, batches=3, test=False)
    assert result.stop_request is None
    assert result.trainer.global_step == 6
    assert result.metrics["train/nan_guard/skipped_steps"] == 0.0


# -- skip -------------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer_name", ["sgd-momentum", "adamw"])
def test_skip_leaves_weights_and_optimizer_state_unchanged_for_that_step(
    tmp_path: Path, optimizer_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hookwise")
    trainer, model, _, spy = fit_with(
        tmp_path, optimizer_name, [Poison({3}), NanGuard(action="skip")], epochs=2
    )

    assert trainer.global_step == 6 and trainer.stop_request is None  # training went on
    # step 3 was a no-op: weights and optimizer state (momentum, Adam moments, step count)
    assert same(spy.after[3], spy.before[3])
    for before, after in zip(spy.state_after[2], spy.state_after[3], strict=True):
        assert same(before, after)
    # without the guard, momentum and weight decay alone would have moved the weights: the
    # other steps all did change them
    for step in (1, 2, 4, 5, 6):
        assert not same(spy.after[step], spy.before[step]), step
    assert finite(dict(model.state_dict()))
    assert trainer.metrics["train/nan_guard/skipped_steps"] == 0.0  # epoch 1 had none
    messages = [r.getMessage() for r in caplog.records if "nan_guard" in r.getMessage()]
    assert any("epoch 0, step 3" in m and "skipped" in m for m in messages)


def test_skip_counts_per_epoch_and_in_the_checkpoint(run_fit: RunFit) -> None:
    guard = NanGuard(action="skip")
    result = run_fit([Poison({2, 3, 5}), guard], epochs=2, batches=3, test=False)
    logged = result.calls.results("on_train_epoch_end", plugin="NanGuard")
    assert logged == [{"nan_guard/skipped_steps": 2.0}, {"nan_guard/skipped_steps": 1.0}]
    assert guard.skipped_steps == 3
    assert guard.state_dict() == {"skipped_steps": 3}
    fresh = NanGuard(action="skip")
    fresh.load_state_dict(guard.state_dict())
    assert fresh.skipped_steps == 3


def test_max_consecutive_skips_turns_skipping_into_a_stop(run_fit: RunFit) -> None:
    result = run_fit(
        [Poison({2, 3, 4}), ("nan_guard", {"action": "skip", "max_consecutive_skips": 2})],
        epochs=3,
        test=False,
    )
    assert result.trainer.global_step == 3
    assert result.stop_request is not None
    assert "2 steps in a row" in result.stop_request.reason
    assert "step 3" in result.stop_request.reason


# -- raise ------------------------------------------------------------------------------------


def test_raise_fails_the_fit_naming_the_step_before_the_update(run_fit: RunFit) -> None:
    spy = WeightSpy()
    with pytest.raises(NonFiniteLossError, match=r"epoch 0, step 2") as info:
        run_fit([Poison({2}), ("nan_guard", {"action": "raise"}), spy], epochs=2, test=False)
    assert "action=skip" in str(info.value)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "nan_guard" in notes and "on_before_optimizer_step" in notes
    assert 2 not in spy.after  # the step never finished


# -- gradients --------------------------------------------------------------------------------


class PoisonGrads(Callback):
    """Makes the weight gradient NaN at the given steps, with a finite loss."""

    def __init__(self, steps: set[int]) -> None:
        super().__init__()
        self.steps = steps
        self.armed = False
        self.handle: Any = None

    def on_fit_start(self, trainer_state: Any, model: Any) -> None:
        weight = model.linear.weight
        self.handle = weight.register_hook(lambda g: g * float("nan") if self.armed else g)

    def on_train_batch_start(
        self, trainer_state: Any, model: Any, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        self.armed = trainer_state["global_step"] + 1 in self.steps

    def on_fit_end(self, trainer_state: Any, model: Any) -> None:
        self.handle.remove()


def test_check_grads_catches_non_finite_gradients_with_a_finite_loss(
    run_fit: RunFit, tmp_path: Path
) -> None:
    spy = WeightSpy()
    result = run_fit(
        [PoisonGrads({2}), ("nan_guard", {"check_grads": True}), spy], epochs=1, test=False
    )
    assert result.trainer.global_step == 2
    assert result.stop_request is not None
    reason = result.stop_request.reason
    assert "non-finite gradients of linear.weight with a finite loss" in reason
    assert "step 2" in reason
    assert same(spy.after[2], spy.before[2])

    # Without check_grads the finite loss of step 2 passes, the NaN update is applied, and
    # only the next step's loss shows it: too late, the weights are already NaN.
    unguarded = run_fit(
        [PoisonGrads({2}), "nan_guard"], epochs=1, test=False, tmp_path=tmp_path / "other"
    )
    assert unguarded.stop_request is not None
    assert "non-finite loss (loss=nan) at epoch 0, step 3" in unguarded.stop_request.reason
    assert not finite(dict(unguarded.model.state_dict()))


# -- parameters and validity ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"action": "ignore"}, "action must be one of"),
        ({"check_grads": "yes"}, "check_grads must be true or false"),
        ({"action": "skip", "max_consecutive_skips": 0}, "max_consecutive_skips must be"),
        ({"max_consecutive_skips": 3}, "applies to action='skip' only"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        NanGuard(**params)


def test_plugin_is_valid(assert_plugin_valid: Callable[..., Any]) -> None:
    report = assert_plugin_valid("nan_guard", action="skip")
    assert "on_before_optimizer_step" in report.hooks["nan_guard"]
