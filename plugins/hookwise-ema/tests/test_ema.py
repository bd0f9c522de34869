"""The ``ema`` plugin in real tiny training runs: the average checked against the formula."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import (
    Callback,
    CheckpointError,
    ConfigError,
    DataConnector,
    LossModule,
    PluginManager,
    Trainer,
)
from hookwise.checkpointing import load_checkpoint
from hookwise.testing import TinyData, tiny_loss
from hookwise_ema import EMACallback, ModelEMAAdapter, ModelExpEMAAdapter
from torch import nn
from torch.utils.data import DataLoader


class Net(nn.Module):
    """A linear layer and a BatchNorm (running stats and an integer counter as buffers)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.norm = nn.BatchNorm1d(3)
        self.head = nn.Linear(3, 2)

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.head(torch.relu(self.norm(self.linear(inputs))))}


def _loss() -> LossModule:
    return tiny_loss()


def _trainer(tmp_path: Path, plugins: Any, *, epochs: int = 2, **kwargs: Any) -> Trainer:
    return Trainer(
        device="cpu",
        output_dir=tmp_path / "run",
        train_dataloader=DataLoader(TinyData(16, seed=0), batch_size=4, shuffle=True),
        test_dataloader=[DataLoader(TinyData(10, seed=1), batch_size=5)],
        train_data_connector=DataConnector({"inputs": "inputs"}),
        num_epochs=epochs,
        plugins=plugins,
        seed=0,
        **kwargs,
    )


def _fit(trainer: Trainer, model: nn.Module | None = None, **kwargs: Any) -> nn.Module:
    if model is None:
        torch.manual_seed(0)
        model = Net()
    trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.2), None, _loss(), **kwargs)
    return model


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class WeightLog(Callback):
    """Records the weights at fit start and after every step, and what evaluation ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.start: dict[str, torch.Tensor] = {}
        self.steps: list[tuple[int, dict[str, torch.Tensor]]] = []
        self.evaluated: list[dict[str, torch.Tensor]] = []
        self.eval_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.after_eval: list[dict[str, torch.Tensor]] = []

    def on_fit_start(self, trainer_state: Any, model: Any) -> None:
        self.start = _snapshot(model)

    def on_train_batch_end(self, trainer_state: Any, model: Any, *args: Any, **kw: Any) -> None:
        self.steps.append((trainer_state["global_step"], _snapshot(model)))

    def on_test_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if batch_idx == 0:
            self.evaluated.append(_snapshot(model))
        self.eval_outputs.append((batch["inputs"], outputs["logits"]))

    def on_validation_end(self, trainer_state: Any, model: Any, metrics: Any) -> None:
        self.after_eval.append(_snapshot(model))


def _expected_average(
    log: WeightLog, decay_at: Any, upto: int | None = None
) -> dict[str, torch.Tensor]:
    """The EMA computed by hand, in float64, over the recorded weights."""
    ema = {k: v.double() if v.is_floating_point() else v.clone() for k, v in log.start.items()}
    for step, weights in log.steps[:upto]:
        d = decay_at(step)
        for name, value in weights.items():
            if value.is_floating_point():
                ema[name] = d * ema[name] + (1 - d) * value.double()
            else:
                ema[name] = value.clone()
    return ema


def _assert_close(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        if value.is_floating_point():
            torch.testing.assert_close(actual[name].double(), value, rtol=1e-6, atol=1e-7)
        else:
            assert torch.equal(actual[name], value), name


def _plugin(trainer: Trainer, name: str = "ema") -> EMACallback:
    plugin = trainer.pm.get_plugin(name)
    assert isinstance(plugin, EMACallback)
    return plugin


# -- the formula -----------------------------------------------------------------------------


def test_by_name_the_average_follows_the_formula(tmp_path: Path) -> None:
    log = WeightLog()
    pm = PluginManager()
    pm.enable("ema", decay=0.8)
    pm.register(log, "log")
    trainer = _trainer(tmp_path, pm, epochs=3)
    model = _fit(trainer)
    ema = _plugin(trainer)
    assert [step for step, _ in log.steps] == list(range(1, 13))
    assert ema.updates == 12
    assert ema.ema_state is not None
    expected = _expected_average(log, lambda step: 0.8)
    _assert_close(ema.ema_state, expected)
    # the average lags behind: it differs from the final weights, and from the start
    final = _snapshot(model)
    assert not torch.allclose(ema.ema_state["linear.weight"], final["linear.weight"])
    assert not torch.allclose(ema.ema_state["linear.weight"], log.start["linear.weight"])
    # integer buffers are copied, never averaged
    assert ema.ema_state["norm.num_batches_tracked"].item() == 12


def test_with_accumulation_the_average_updates_once_per_optimizer_step(tmp_path: Path) -> None:
    """The weights change only at optimizer steps: batch ends inside an accumulation window
    (``trainer_state["accumulating"]``) leave the average alone."""

    class StepLog(WeightLog):
        def on_train_batch_end(self, trainer_state: Any, model: Any, *a: Any, **k: Any) -> None:
            if not trainer_state.get("accumulating"):
                super().on_train_batch_end(trainer_state, model)

    log = StepLog()
    pm = PluginManager()
    pm.enable("ema", decay=0.8)
    pm.register(log, "log")
    trainer = _trainer(tmp_path, pm, epochs=3, accumulate_grad_batches=2)
    _fit(trainer)
    ema = _plugin(trainer)
    assert [step for step, _ in log.steps] == list(range(1, 7))
    assert ema.updates == 6
    assert ema.ema_state is not None
    _assert_close(ema.ema_state, _expected_average(log, lambda step: 0.8))


def test_warmup_decay_is_vis4d_exponential(tmp_path: Path) -> None:
    log = WeightLog()
    pm = PluginManager()
    pm.enable("ema", decay=0.95, warmup_steps=5)
    pm.register(log, "log")
    trainer = _trainer(tmp_path, pm)
    _fit(trainer)
    ema = _plugin(trainer)
    assert ema.decay_at(3) == pytest.approx(0.95 * (1 - math.exp(-4 / 5)))
    assert ema.ema_state is not None
    _assert_close(ema.ema_state, _expected_average(log, ema.decay_at))


# -- evaluation ------------------------------------------------------------------------------


def test_evaluation_runs_on_the_average_and_training_weights_come_back(tmp_path: Path) -> None:
    log = WeightLog()
    averages: list[dict[str, torch.Tensor]] = []

    class AverageAtValidation(Callback):
        def on_test_epoch_start(self, trainer_state: Any, model: Any) -> None:
            plugin = trainer_state["train_module"].pm.get_plugin("ema")
            averages.append({k: v.clone() for k, v in plugin.ema_state.items()})

    pm = PluginManager()
    pm.enable("ema", decay=0.7)
    pm.register(log, "log")
    pm.register(AverageAtValidation(), "averages")
    trainer = _trainer(tmp_path, pm, epochs=2)
    model = _fit(trainer)
    assert len(log.evaluated) == len(log.after_eval) == 2
    steps_per_epoch = 4
    for index, (evaluated, after) in enumerate(zip(log.evaluated, log.after_eval, strict=True)):
        _assert_close(
            evaluated, _expected_average(log, lambda s: 0.7, (index + 1) * steps_per_epoch)
        )
        for name, value in evaluated.items():
            assert torch.equal(value, averages[index][name])
        # after the pass the model holds the training weights of that step again
        training = log.steps[(index + 1) * steps_per_epoch - 1][1]
        for name, value in after.items():
            assert torch.equal(value, training[name]), name
    # the outputs of evaluation are those of a model holding the average
    probe = Net()
    probe.load_state_dict(averages[-1])
    probe.eval()
    for inputs, logits in log.eval_outputs[-2:]:
        torch.testing.assert_close(probe(inputs)["logits"], logits)
    for name, value in _snapshot(model).items():
        assert torch.equal(value, log.steps[-1][1][name])
    # a standalone test after fit uses the average too, and puts the weights back
    before = _snapshot(model)
    trainer.test(model)
    _assert_close(
        log.evaluated[-1],
        {k: v.double() if v.is_floating_point() else v for k, v in averages[-1].items()},
    )
    for name, value in _snapshot(model).items():
        assert torch.equal(value, before[name])


def test_evaluation_loss_is_the_loss_of_the_average(run_fit: Any) -> None:
    """run_fit's evaluation loss (``test/loss``) is the average's, not the training weights'."""
    result = run_fit([("ema", {"decay": 0.6})], epochs=2)
    average = _plugin(result.trainer).ema_state
    assert average is not None

    def loss_with(weights: dict[str, torch.Tensor]) -> float:
        probe = copy.deepcopy(result.model)
        probe.load_state_dict(weights)
        total, count = 0.0, 0
        with torch.no_grad():
            for batch in result.trainer.test_dataloader[0]:
                logits = probe(batch["inputs"])["logits"]
                total += float(
                    nn.functional.cross_entropy(logits, batch["labels"], reduction="sum")
                )
                count += len(batch["labels"])
        return total / count

    assert result.test_metrics["test/loss"] == pytest.approx(loss_with(average), rel=1e-6)
    own = loss_with(_snapshot(result.model))
    assert abs(own - result.test_metrics["test/loss"]) > 1e-4


def test_later_plugins_see_the_average_until_the_pass_ends(run_fit: Any) -> None:
    """Enabled after ``ema``, a plugin still sees the average in ``on_test_epoch_end`` (ema
    swaps back last) and the training weights in ``on_validation_end`` (ema swaps back first)."""
    seen: dict[str, dict[str, torch.Tensor]] = {}

    class Probe(Callback):
        def on_test_epoch_end(self, trainer_state: Any, model: Any) -> None:
            seen["end"] = _snapshot(model)

        def on_validation_end(self, trainer_state: Any, model: Any, metrics: Any) -> None:
            seen["validation_end"] = _snapshot(model)

        def on_train_epoch_end(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
            seen["training"] = _snapshot(model)

    result = run_fit([("ema", {"decay": 0.5}), Probe()], epochs=1, test=False)

    def order(hook: str) -> list[str]:
        return [name for name in result.pm.hook_order(hook) if name in ("ema", "Probe")]

    assert order("on_test_epoch_end") == ["Probe", "ema"]
    assert order("on_validation_end") == ["ema", "Probe"]
    average = _plugin(result.trainer).ema_state
    assert average is not None
    for name, value in average.items():
        assert torch.equal(seen["end"][name], value), name
        assert torch.equal(seen["validation_end"][name], seen["training"][name]), name
    assert not torch.equal(average["linear.weight"], seen["training"]["linear.weight"])


def test_use_ema_during_test_false_evaluates_the_training_weights(tmp_path: Path) -> None:
    log = WeightLog()
    pm = PluginManager()
    pm.enable("ema", decay=0.5, use_ema_during_test=False)
    pm.register(log, "log")
    _fit(_trainer(tmp_path, pm, epochs=1))
    for name, value in log.evaluated[0].items():
        assert torch.equal(value, log.steps[-1][1][name])


def test_a_failing_pass_puts_the_training_weights_back(tmp_path: Path) -> None:
    class Boom(Callback):
        def on_test_batch_end(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("boom")

    log = WeightLog()
    pm = PluginManager()
    pm.enable("ema", decay=0.5)
    pm.register(log, "log")
    pm.register(Boom(), "boom")
    torch.manual_seed(0)
    model = Net()
    with pytest.raises(RuntimeError, match="boom"):
        _fit(_trainer(tmp_path, pm, epochs=1), model)
    for name, value in _snapshot(model).items():
        assert torch.equal(value, log.steps[-1][1][name])


# -- checkpoints and resume ------------------------------------------------------------------


class SaveAfterValidation(Callback):
    """Saves a complete checkpoint in ``on_validation_end`` of the given epochs."""

    def __init__(self, folder: Path, epochs: tuple[int, ...]) -> None:
        super().__init__()
        self.folder, self.epochs = folder, epochs

    def on_validation_end(self, trainer_state: Any, model: Any, metrics: Any) -> None:
        epoch = trainer_state["current_epoch"]
        if epoch in self.epochs:
            trainer_state["train_module"].save_checkpoint(self.folder / f"epoch{epoch}.ckpt")


def test_checkpoint_holds_training_weights_and_the_average(tmp_path: Path) -> None:
    log = WeightLog()
    pm = PluginManager()
    pm.enable("ema", decay=0.6)
    pm.register(log, "log")
    pm.register(SaveAfterValidation(tmp_path, (0,)), "save")
    trainer = _trainer(tmp_path, pm, epochs=1)
    _fit(trainer)
    checkpoint = load_checkpoint(tmp_path / "epoch0.ckpt")  # weights_only=True
    for name, value in checkpoint["model"].items():
        assert torch.equal(value, log.steps[-1][1][name]), "the model's own weights are saved"
    saved = checkpoint["plugins"]["ema"]
    assert saved["updates"] == 4
    _assert_close(saved["ema"], _expected_average(log, lambda s: 0.6))


# An expected manifest change: the resume leaves out the saving plugin.
@pytest.mark.filterwarnings("ignore::hookwise.ManifestChangedWarning")
def test_the_average_survives_a_resume(run_fit: Any, tmp_path: Path) -> None:
    """A run stopped after epoch 1 and resumed ends with the same average, to the bit."""

    def ema(result: Any) -> EMACallback:
        return _plugin(result.trainer)

    plugin = ("ema", {"decay": 0.75})
    whole = run_fit([plugin], epochs=3, tmp_path=tmp_path / "whole")
    first = run_fit(
        [plugin, SaveAfterValidation(tmp_path, (0,))], epochs=1, tmp_path=tmp_path / "a"
    )
    resumed = run_fit(
        [plugin], epochs=3, tmp_path=tmp_path / "b", resume_from=tmp_path / "epoch0.ckpt"
    )
    assert ema(first).updates == 3
    assert ema(resumed).updates == ema(whole).updates == 9
    whole_state, resumed_state = ema(whole).ema_state, ema(resumed).ema_state
    assert whole_state is not None and resumed_state is not None
    for name, value in whole_state.items():
        assert torch.equal(resumed_state[name], value), name
    for name, value in _snapshot(whole.model).items():
        assert torch.equal(_snapshot(resumed.model)[name], value), name
    # and evaluation used the average in both: the test metrics agree too
    assert resumed.test_metrics == whole.test_metrics


def test_plugin_is_valid(assert_plugin_valid: Any) -> None:
    report = assert_plugin_valid("ema", decay=0.9, warmup_steps=2)
    assert "on_train_batch_end" in report.hooks["ema"]
    assert set(report.state["ema"]) == {"ema", "updates"}


def test_state_dict_is_weights_only_safe_and_round_trips(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, [("ema", {"decay": 0.9})], epochs=1)
    _fit(trainer)
    state = _plugin(trainer).state_dict()
    torch.save(state, tmp_path / "state.pt")
    loaded = torch.load(tmp_path / "state.pt", weights_only=True)
    fresh = EMACallback(decay=0.9)
    fresh.load_state_dict(loaded)
    assert fresh.updates == 4 and fresh.ema_state is not None
    assert all(torch.equal(fresh.ema_state[k], v) for k, v in state["ema"].items())


def test_a_saved_average_that_does_not_fit_the_model_is_explained() -> None:
    plugin = EMACallback()
    plugin.load_state_dict({"ema": {"other.weight": torch.zeros(2)}, "updates": 3})
    with pytest.raises(CheckpointError, match=r"does not fit the model .*'other.weight'"):
        plugin.on_fit_start({}, Net())
    with pytest.raises(CheckpointError, match="not a mapping of tensors"):
        plugin.load_state_dict({"ema": {"w": [1, 2]}})


# -- vis4d adapters --------------------------------------------------------------------------


def test_vis4d_adapter_is_updated_with_the_global_step(tmp_path: Path) -> None:
    torch.manual_seed(0)
    inner = Net()
    adapter = ModelExpEMAAdapter(inner, decay=0.9, warmup_steps=3)
    start = _snapshot(inner)
    log = WeightLog()
    pm = PluginManager()
    pm.enable("ema")
    pm.register(log, "log")
    trainer = _trainer(tmp_path, pm, epochs=1)
    trainer.fit(adapter, torch.optim.SGD(inner.parameters(), lr=0.2), None, _loss())
    assert _plugin(trainer).ema_state is None  # the adapter holds the average
    assert _plugin(trainer).state_dict() == {}
    log.start = {f"model.{k}": v for k, v in start.items()}
    log.steps = [(s, {k: v for k, v in w.items() if k.startswith("model.")}) for s, w in log.steps]
    expected = _expected_average(log, lambda step: 0.9 * (1 - math.exp(-(1 + step) / 3)))
    ema_state = {f"model.{k}": v for k, v in adapter.ema_model.state_dict().items()}
    _assert_close(ema_state, expected)
    # eval mode runs the average, train mode the model
    inputs = torch.randn(3, 4)
    adapter.eval()
    torch.testing.assert_close(adapter(inputs)["logits"], adapter.ema_model(inputs)["logits"])
    adapter.train()
    assert adapter.ema_model.training is False
    adapter.use_ema_during_test = False
    adapter.eval()
    torch.testing.assert_close(adapter(inputs)["logits"], inner(inputs)["logits"])


def test_adapter_update_set_and_wrapped_models() -> None:
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    adapter = ModelEMAAdapter(model, decay=0.5)
    old = adapter.ema_model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    EMACallback().on_train_batch_end(
        {"global_step": 1}, nn.DataParallel(nn.DataParallel(adapter)), None, {}, {}, 0
    )  # vis4d unwrapped one level only
    torch.testing.assert_close(adapter.ema_model.weight, 0.5 * old + 0.5 * model.weight)
    adapter.set(model)
    assert torch.equal(adapter.ema_model.weight, model.weight)
    assert adapter.ema_model.weight.requires_grad is False
    with pytest.raises(ValueError, match="warmup_steps must be > 0"):
        ModelExpEMAAdapter(model, warmup_steps=0)
    with pytest.raises(ValueError, match=r"decay must be a number in \[0, 1\]"):
        ModelEMAAdapter(model, decay=1.5)


# -- parameters ------------------------------------------------------------------------------


def test_bad_parameters_are_explained() -> None:
    with pytest.raises(ConfigError, match=r"decay must be a number in \[0, 1\], got 2"):
        PluginManager().enable("ema", decay=2)
    with pytest.raises(ConfigError, match=r"warmup_steps must be 0 .* got -1"):
        PluginManager().enable("ema", warmup_steps=-1)
    with pytest.raises(ConfigError, match="has no parameter"):
        PluginManager().enable("ema", decya=0.9)


def test_average_on_another_device_than_the_model(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, [("ema", {"decay": 0.9, "device": "cpu"})], epochs=1)
    _fit(trainer)
    state = _plugin(trainer).ema_state
    assert state is not None and all(v.device.type == "cpu" for v in state.values())
