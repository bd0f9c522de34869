"""The bundled plugins declare the order they rely on (named constraints, tryfirst/trylast),
so it holds whatever order they are enabled in."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hookwise.plugins import PluginManager

PLUGINS: dict[str, dict[str, Any]] = {
    "checkpoint": {},
    "early_stopping": {"monitor": "val/loss"},
    "ema": {},
    "mlflow": {},
    "logging": {},
}

#: (hook, runs first, runs later): why the later one relies on it.
RELIES_ON = [
    # the step checkpoint holds the average updated at that step
    ("on_train_batch_end", "ema", "checkpoint"),
    # the training weights are back before a checkpoint is written
    ("on_validation_end", "ema", "checkpoint"),
    ("on_exception", "ema", "checkpoint"),
    # the epoch checkpoint holds early stopping's count of this validation pass
    ("on_validation_end", "early_stopping", "checkpoint"),
    # mlflow uploads the checkpoints (emergency.ckpt too) and the logging plugin's files
    ("on_exception", "checkpoint", "mlflow"),
    ("on_fit_end", "checkpoint", "mlflow"),
    ("on_fit_end", "logging", "mlflow"),
]


def _pm(names: tuple[str, ...]) -> PluginManager:
    pm = PluginManager()
    for name in names:
        pm.enable(name, **PLUGINS[name])
    return pm


@pytest.mark.parametrize("names", list(itertools.permutations(["checkpoint", "ema", "mlflow"])))
def test_ema_checkpoint_and_mlflow_keep_their_order_whatever_the_enabled_order(
    names: tuple[str, ...],
) -> None:
    pm = _pm((*names, "early_stopping", "logging"))
    for hook, first, later in RELIES_ON:
        order = pm.hook_order(hook)
        assert order.index(first) < order.index(later), (hook, order.explain())
    # the average is in the model before any other plugin's evaluation pass starts
    assert pm.hook_order("on_test_epoch_start")[0] == "ema"
    # and the training weights go back after every other plugin's end of the pass
    assert pm.hook_order("on_test_epoch_end")[-1] == "ema"


def test_the_reasons_name_the_constraints_and_those_ignored() -> None:
    pm = _pm(("mlflow", "checkpoint", "ema"))
    order = pm.hook_order("on_exception")
    assert list(order) == ["ema", "checkpoint", "mlflow"]
    assert "mlflow after 'checkpoint' (@hookimpl(after=...))" in order.reasons[1]
    assert "checkpoint after 'ema' (@hookimpl(after=...))" in order.reasons[1]
    validation = pm.hook_order("on_validation_end")
    assert validation.ignored == [
        "checkpoint: after 'early_stopping' (@hookimpl(after=...)), not enabled"
    ]


def test_the_checkpoint_plugin_declares_its_period_as_a_trigger() -> None:
    pm = PluginManager()
    pm.enable("checkpoint", epoch_based=False, checkpoint_period=4)
    [batch_end] = pm.caller("on_train_batch_end").calls
    [epoch_end] = pm.caller("on_train_epoch_end").calls
    assert batch_end.trigger is not None and epoch_end.trigger is not None
    assert batch_end.trigger.describe() == "every 4 steps (checkpoint_period)"
    assert epoch_end.trigger.describe() == "every 4 epochs (checkpoint_period)"
    pm = PluginManager()
    pm.enable("checkpoint")  # epoch mode, every epoch: the step hook runs every step
    trigger = pm.caller("on_train_epoch_end").calls[0].trigger
    assert trigger is not None
    assert trigger.describe() == "every epoch (checkpoint_period)"
