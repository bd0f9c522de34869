"""The trainer calls a loss module's ``forward`` directly only where ``module(...)`` would run
nothing else: every hook torch would call (the module's own, global ones, registered before the
fit or in the middle of an epoch), a module class with its own ``__call__`` and a compiled
module still go through the module's call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from hookwise import Callback, StateWriteError, Trainer
from hookwise.readonly import ReadOnlyFloats
from hookwise.trainer.module_call import direct_forward
from hookwise.values import LazyFloats
from torch import nn
from torch.nn.modules.module import register_module_forward_hook

FitParts = Callable[..., dict[str, Any]]


def fit(parts: dict[str, Any], loss: Any, callbacks: list[Any] | None = None) -> None:
    trainer = Trainer(**parts["trainer"], num_epochs=1, callbacks=callbacks or [])
    trainer.fit(parts["model"], parts["optimizer"], loss_module=loss)


def test_a_hook_on_the_loss_module_runs_at_every_step(fit_parts: FitParts) -> None:
    parts = fit_parts()  # 12 samples in batches of 4: 3 steps
    loss, seen = parts["loss"], []
    loss.register_forward_pre_hook(lambda module, args: seen.append("pre"))
    loss.register_forward_hook(lambda module, args, output: seen.append("post"))
    fit(parts, loss)
    assert seen == ["pre", "post"] * 3


def test_a_hook_registered_in_the_middle_of_an_epoch_runs_from_the_next_step(
    fit_parts: FitParts,
) -> None:
    parts = fit_parts()
    loss, seen = parts["loss"], []

    class HookAtSecondBatch(Callback):
        def on_train_batch_start(self, trainer_state, model, loss_module, batch, batch_idx):  # type: ignore[no-untyped-def]
            if batch_idx == 1:
                loss_module.register_forward_hook(lambda *args: seen.append(batch_idx))

    fit(parts, loss, [HookAtSecondBatch()])
    assert seen == [1, 1]  # steps 2 and 3


def test_a_global_module_hook_sees_the_loss_module(fit_parts: FitParts) -> None:
    parts = fit_parts()
    loss, seen = parts["loss"], []
    handle = register_module_forward_hook(
        lambda module, args, output: seen.append(module) if module is loss else None
    )
    try:
        fit(parts, loss)
    finally:
        handle.remove()
    assert len(seen) == 3


def test_a_loss_class_with_its_own_call_is_called_as_it_is(fit_parts: FitParts) -> None:
    parts = fit_parts()
    calls = []
    inner = parts["loss"]

    class CountingLoss(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = inner

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            return super().__call__(*args, **kwargs)

        def forward(self, outputs: Any, batch: Any) -> Any:
            return self.inner(outputs, batch)

    fit(parts, CountingLoss())
    assert len(calls) == 3


def test_which_modules_are_called_directly() -> None:
    plain = nn.MSELoss()
    found = direct_forward(plain)
    assert found is not None and found.forward == plain.forward and not any(found.hooks)
    plain.register_forward_hook(lambda *args: None)
    assert any(found.hooks)  # the registries are the module's own: a later hook shows
    assert direct_forward(lambda outputs, batch: torch.zeros(())) is None  # a plain function
    compiled = nn.MSELoss()
    compiled.compile()
    assert direct_forward(compiled) is None


def test_the_loss_matches_the_module_call(fit_parts: FitParts) -> None:
    """The same weights after a fit whichever way the loss module was called."""
    weights = []
    for hooked in (False, True):
        parts = fit_parts()
        loss = parts["loss"]
        if hooked:  # a no-op hook: the fit goes through nn.Module.__call__
            loss.register_forward_hook(lambda *args: None)
        fit(parts, loss)
        weights.append([p.detach().clone() for p in parts["model"].parameters()])
    for direct, called in zip(*weights, strict=True):
        assert torch.equal(direct, called)


def test_the_loss_modules_metrics_are_mutable_for_users_and_read_only_for_hooks(
    fit_parts: FitParts,
) -> None:
    parts = fit_parts()
    loss = parts["loss"]
    batch = next(iter(parts["trainer"]["train_dataloader"]))
    outputs = parts["model"](batch["inputs"])
    _, metrics = loss(outputs, batch)
    metrics["extra"] = 1.0  # a user's own call: a LazyFloats as before
    assert type(metrics) is LazyFloats and metrics["extra"] == 1.0
    _, shared = loss.forward(outputs, batch, metrics_type=ReadOnlyFloats)
    with pytest.raises(StateWriteError):
        shared["extra"] = 1.0
    assert dict(shared) == {k: v for k, v in metrics.items() if k != "extra"}

    seen: list[Any] = []

    class Probe(Callback):
        def on_train_batch_end(self, trainer_state, model, loss_module, outputs, batch, batch_idx):  # type: ignore[no-untyped-def]
            seen.append(type(trainer_state["metrics"]))
            with pytest.raises(StateWriteError):
                trainer_state["metrics"]["loss"] = 0.0

    fit(parts, loss, [Probe()])
    assert seen == [ReadOnlyFloats] * 3
