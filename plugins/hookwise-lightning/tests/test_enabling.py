"""Every way of enabling a Lightning callback wraps it; what cannot run is refused by name."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hookwise import ConfigError, Trainer
from hookwise.config import PluginSpec, parse_plugin_option
from hookwise.testing import IsolatedPluginManager, PluginReport, run_fit
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning_reference import Scripted

ES = "lightning.pytorch.callbacks:EarlyStopping"


def _tiny_trainer(tmp_path: Path, **kwargs: Any) -> tuple[Trainer, Any]:
    import torch
    from hookwise import DataConnector
    from hookwise.testing import TinyData, TinyModel, tiny_loss
    from torch.utils.data import DataLoader

    model = TinyModel()
    trainer = Trainer(
        device="cpu",
        output_dir=tmp_path / "run",
        train_dataloader=DataLoader(TinyData(8), batch_size=4),
        test_dataloader=[DataLoader(TinyData(8, seed=1), batch_size=4)],
        train_data_connector=DataConnector({"inputs": "inputs"}),
        num_epochs=4,
        **kwargs,
    )
    trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), None, tiny_loss())
    return trainer, model


def test_importing_the_adapter_does_not_import_lightning() -> None:
    code = "import sys, hookwise_lightning; print('lightning' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_adapter_is_an_installed_adapter() -> None:
    pm = IsolatedPluginManager(entry_points=True)
    [adapter] = [a for a in pm.installed_adapters() if a.name == "lightning"]
    assert (adapter.distribution, adapter.target) == (
        "hookwise-lightning",
        "hookwise_lightning.adapter:adapt",
    )


def test_command_line_spec_names_the_lightning_class() -> None:
    spec = parse_plugin_option(f"{ES}:monitor=val/score,patience=1,mode=max")
    assert isinstance(spec, PluginSpec)
    assert (spec.name, spec.params) == (ES, {"monitor": "val/score", "patience": 1, "mode": "max"})
    pm = IsolatedPluginManager(entry_points=True)
    assert pm.enable(spec.name, **spec.params) == [ES]
    plugin = pm.get_plugin(ES)
    assert isinstance(plugin.callback, EarlyStopping)
    assert (plugin.callback.patience, plugin.callback.mode) == (1, "max")


def test_trainer_plugins_and_callbacks(tmp_path: Path) -> None:
    scripted = Scripted([1.0, 2.0, 3.0, 4.0])
    by_name, _ = _tiny_trainer(
        tmp_path / "a",
        plugins=[(ES, {"monitor": "val/score", "patience": 1})],
        callbacks=[scripted],
    )
    assert by_name.stop_request is not None and by_name.stop_request.plugin == ES
    assert by_name.epoch == 2

    callback = EarlyStopping(monitor="val/score", patience=1)
    as_object, _ = _tiny_trainer(tmp_path / "b", callbacks=[Scripted([1.0, 2.0]), callback])
    assert as_object.stop_request is not None and as_object.stop_request.plugin == "EarlyStopping"
    assert callback.stopped_epoch == 1


def test_entry_point_naming_a_lightning_callback(
    hookwise_pm: IsolatedPluginManager, tmp_path: Path
) -> None:
    hookwise_pm.use_installed_plugins()  # the adapter is found like any installed adapter
    hookwise_pm.add_entry_point("lit_stop", ES, distribution="lit-callbacks")
    assert hookwise_pm.enable("lit_stop", monitor="val/score", patience=0) == ["lit_stop"]
    result = run_fit(
        [Scripted([1.0, 2.0])], pm=hookwise_pm, epochs=4, test=False, tmp_path=tmp_path
    )
    assert result.stop_request is not None and result.stop_request.plugin == "lit_stop"


def test_blocking_the_adapter_says_so(hookwise_pm: IsolatedPluginManager) -> None:
    from hookwise import PluginBlockedError

    hookwise_pm.use_installed_plugins()
    hookwise_pm.block("lightning")
    with pytest.raises(PluginBlockedError, match=r"adapter\(s\) \['lightning'\]"):
        hookwise_pm.enable(ES, monitor="val/loss")


def test_plugin_check_of_the_hookwise_toolkit(
    assert_plugin_valid: Callable[..., PluginReport],
) -> None:
    report = assert_plugin_valid(ES, monitor="val/loss", patience=2)
    hooks = set(report.hooks[ES])
    assert {"on_fit_start", "on_validation_end", "on_train_epoch_end"} <= hooks
    assert "on_train_batch_end" not in hooks  # EarlyStopping acts per epoch: nothing per batch


def test_per_batch_hooks_only_when_the_callback_needs_them() -> None:
    pm = IsolatedPluginManager(entry_points=True)
    pm.enable_object(EarlyStopping(monitor="val/loss"))
    pm.enable_object(ModelCheckpoint())
    assert pm.hook_order("on_train_batch_end") == ["ModelCheckpoint"]
    assert pm.hook_order("on_train_batch_start") == []
    assert pm.hook_order("on_validation_end") == ["EarlyStopping", "ModelCheckpoint"]


def test_pytorch_lightning_callbacks_are_adapted_too(tmp_path: Path) -> None:
    import pytorch_lightning

    callback = pytorch_lightning.callbacks.EarlyStopping(monitor="val/score", patience=0)
    result = run_fit([callback, Scripted([1.0, 2.0])], epochs=4, test=False, tmp_path=tmp_path)
    assert result.stop_request is not None and callback.stopped_epoch == 1


class BeforeBackward(Callback):
    def on_before_backward(self, trainer: Any, pl_module: Any, loss: Any) -> None:
        pass


class BeforeValidationBatch(Callback):
    def on_validation_batch_start(self, *args: Any) -> None:
        pass


class Predicting(Callback):
    """Predict hooks are never called here, as in a Lightning run that does not predict."""

    def on_predict_batch_end(self, *args: Any) -> None:
        raise AssertionError("never called")


@pytest.mark.parametrize(
    ("callback", "message"),
    [
        (BeforeBackward(), "'on_before_backward'.*no hook between the loss and backward"),
        (BeforeValidationBatch(), "'on_validation_batch_start'.*no hook before an evaluation"),
    ],
)
def test_hooks_without_a_counterpart_are_refused(callback: Callback, message: str) -> None:
    pm = IsolatedPluginManager(entry_points=True)
    with pytest.raises(ConfigError, match=message) as info:
        pm.enable_object(callback)
    assert type(callback).__name__ in str(info.value)
    assert pm.plugin_names() == []


def test_predict_hooks_are_accepted_and_never_called(tmp_path: Path) -> None:
    run_fit([Predicting()], epochs=1, tmp_path=tmp_path)


def test_a_finished_run_is_not_kept_alive(tmp_path: Path) -> None:
    """The adapter's per-run context is keyed weakly by the trainer and must not hold it."""
    import gc
    import weakref

    callback = EarlyStopping(monitor="val/loss")
    result = run_fit([callback], epochs=1, tmp_path=tmp_path)
    trainer = weakref.ref(result.trainer)
    del result
    gc.collect()
    assert trainer() is None
