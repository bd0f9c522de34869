"""Bad input: connectors naming keys that are not there, malformed connectors, plugin
parameters that do not exist or have the wrong type, Trainer settings of the wrong type, and
hooks returning something other than a mapping of names to numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from faultkit import (
    FileRecorder,
    ReadsInputs,
    fit,
    hooks_of,
    isolated_pm,
    make_trainer,
    read_events,
)
from hookwise import Callback, ConfigError, PluginManager, data_key, pred_key
from torch import nn


def _notes(exc: BaseException) -> list[str]:
    return list(getattr(exc, "__notes__", []))


@pytest.mark.fault("input.connector-missing-key")
@pytest.mark.parametrize(
    ("connectors", "hook", "message"),
    [
        (
            {"train_connector": {"scores": pred_key("scores")}},
            "on_train_batch_end",
            "Key 'scores' (of prediction key 'scores') not found in the model output. "
            "Available keys: ['logits']",
        ),
        (
            {"train_connector": {"deep": pred_key("logits.mean")}},
            "on_train_batch_end",
            "Key 'mean' (of prediction key 'logits.mean') not found in the model output['logits']",
        ),
        (
            {"test_connector": {"labels": data_key("label")}},
            "on_test_batch_end",
            "Key 'label' not found in the batch (source 'data'). "
            "Available keys: ['inputs', 'labels']",
        ),
    ],
    ids=["prediction", "nested-prediction", "data"],
)
def test_a_connector_naming_a_missing_key_fails_at_the_first_batch(
    tmp_path: Path, connectors: dict[str, Any], hook: str, message: str
) -> None:
    events = tmp_path / "events.jsonl"
    pm = isolated_pm()
    pm.register(FileRecorder(events), "recorder")
    pm.register(ReadsInputs(**connectors), "reads")
    trainer = make_trainer(tmp_path / "run", plugins=pm, epochs=2)
    with pytest.raises(ValueError) as info:
        fit(trainer)
    assert message in str(info.value)
    step = 1 if hook == "on_train_batch_end" else 3  # validation follows the first epoch
    epoch = 0
    assert f"plugin 'reads' failed in hook '{hook}' at epoch {epoch}, step {step}" in _notes(
        info.value
    )
    # Nothing ran past the first batch that used the connector.
    hooks = hooks_of(read_events(events))
    assert hooks.count("on_train_batch_start") == (1 if step == 1 else 3)


@pytest.mark.fault("input.connector-missing-key")
def test_the_bundled_evaluator_with_a_wrong_key_names_itself(tmp_path: Path) -> None:
    pm = PluginManager()
    pm.enable(
        "evaluator",
        evaluator="accuracy",
        test_connector={"prediction": {"pred": "scores"}, "groundtruth": {"data": "labels"}},
    )
    with pytest.raises(ValueError, match="Key 'scores'") as info:
        fit(make_trainer(tmp_path / "run", plugins=pm, epochs=1))
    assert any(
        "plugin 'evaluator' failed in hook 'on_test_batch_end'" in n for n in _notes(info.value)
    )


@pytest.mark.fault("input.connector-bad-spec")
@pytest.mark.parametrize(
    ("connector", "error", "message"),
    [
        (
            {"preds": "logits"},
            "TypeError",
            "entry 'preds' must be {data = 'key'} or {pred = 'key'}",
        ),
        ({"preds": {"pred": "x", "data": "y"}}, "TypeError", "entry 'preds' must be"),
        ({"preds": {"key": "x", "source": "model"}}, "ValueError", "Unknown data source 'model'"),
        (["logits"], "TypeError", "must be a mapping"),
    ],
)
def test_a_malformed_connector_is_refused_when_the_plugin_is_built(
    connector: Any, error: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        isolated_pm().enable("faultkit:ReadsInputs", train_connector=connector)
    text = str(info.value)
    assert "plugin 'faultkit:ReadsInputs'" in text and f"{error}: " in text
    assert message in text and "train_connector" in text


@pytest.mark.fault("input.unknown-param")
def test_unknown_parameters_are_named_with_the_accepted_ones() -> None:
    with pytest.raises(ConfigError) as info:
        PluginManager().enable("checkpoint", keep_lats=3)
    text = str(info.value)
    assert "plugin 'checkpoint' (distribution hookwise-checkpoint" in text
    assert "has no parameter(s) ['keep_lats']" in text and "'keep_last'" in text
    with pytest.raises(
        ConfigError, match=r"has no parameter\(s\) \['colour'\]. It accepts: \['path'\]"
    ):
        isolated_pm().enable("faultkit:FileRecorder", path="x", colour="red")


@pytest.mark.fault("input.param-wrong-type")
def test_parameters_of_the_wrong_type_are_named() -> None:
    with pytest.raises(ConfigError) as info:
        PluginManager().enable("checkpoint", keep_last="many")
    assert "plugin 'checkpoint'" in str(info.value)
    # The loader checks every parameter against the constructor's annotations, on every path.
    assert "parameter 'keep_last' must be int | None, got 'many' (str)" in str(info.value)
    with pytest.raises(
        ConfigError, match=r"'faultkit:FileRecorder' could not be built with \{'path': 3\}"
    ):
        isolated_pm().enable("faultkit:FileRecorder", path=3)


@pytest.mark.fault("input.trainer-wrong-type")
@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("epochs", "3", "num_epochs must be an integer >= 0 (-1: unlimited), got '3'"),
        ("epochs", True, "num_epochs must be an integer >= 0 (-1: unlimited), got True"),
        ("num_steps", 2.5, "num_steps must be an integer >= 0 (-1: unlimited), got 2.5"),
        ("check_val_every_n_epoch", 0, "check_val_every_n_epoch must be an integer >= 1 or None"),
        ("val_check_interval", -1, "val_check_interval must be an integer >= 1 or None, got -1"),
        ("log_every_n_steps", "x", "log_every_n_steps must be an integer >= 1, got 'x'"),
        ("epoch", -1, "epoch must be an integer >= 0, got -1"),
        ("seed", "abc", "seed must be an integer or None, got 'abc'"),
        ("scheduler_interval", "batch", "scheduler_interval must be 'epoch' or 'step'"),
    ],
)
def test_trainer_settings_of_the_wrong_type(
    tmp_path: Path, setting: str, value: Any, message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_trainer(tmp_path, **{setting: value})


@pytest.mark.fault("input.trainer-wrong-type")
def test_a_bad_device_is_named(tmp_path: Path) -> None:
    from hookwise import Trainer

    with pytest.raises(ConfigError, match=r"device must be .* got 'gpu0'"):
        Trainer(device="gpu0", output_dir=tmp_path)


class Returns(Callback):
    """Returns ``value`` from ``on_train_batch_end`` and ``on_test_epoch_end``."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> Any:
        return self.value

    def on_test_epoch_end(self, trainer_state: Any, model: nn.Module) -> Any:
        return self.value


class Good(Callback):
    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> dict[str, Any]:
        return {"fine": torch.tensor(1.0)}


BAD_RETURNS = [
    ([1.0, 2.0], "returned list; hooks return None or a mapping of names to numbers"),
    ({"acc": "high"}, "log 'acc' is str"),
    ({3: 1.0}, "returned a log key 3 that is not a string"),
    ({"x": torch.ones(3)}, "log 'x' is a tensor of shape (3,)"),
    ({"flag": True}, "log 'flag' is bool"),
]


@pytest.mark.fault("input.hook-return")
@pytest.mark.parametrize(("value", "message"), BAD_RETURNS, ids=[m for _, m in BAD_RETURNS])
def test_a_bad_return_value_under_raise_names_plugin_and_hook(
    tmp_path: Path, value: Any, message: str
) -> None:
    pm = isolated_pm()
    pm.register(Returns(value), "returns")
    with pytest.raises(TypeError) as info:
        fit(make_trainer(tmp_path, plugins=pm, epochs=1))
    assert message in str(info.value)
    assert "plugin 'returns', hook 'on_train_batch_end'" in str(info.value)
    assert "plugin 'returns' failed in hook 'on_train_batch_end' at epoch 0, step 1" in _notes(
        info.value
    )


@pytest.mark.fault("input.hook-return")
@pytest.mark.parametrize("policy", ["warn", "disable"])
def test_a_bad_return_value_under_a_tolerant_policy_is_dropped(
    tmp_path: Path, policy: str, hookwise_logs: pytest.LogCaptureFixture
) -> None:
    pm = isolated_pm()
    pm.register(Returns({"acc": "high"}), "returns", on_error=policy)
    pm.register(Good(), "good")
    trainer = make_trainer(tmp_path, plugins=pm, epochs=2, batches=3)
    fit(trainer)
    assert trainer.global_step == 6
    assert trainer.metrics["train/fine"] == 1.0
    assert not any("acc" in key for key in trainer.metrics)
    expected = 6 + 2 if policy == "warn" else 1  # six batches and two validations
    assert trainer.pm.failures["returns"].count == expected
    reports = [r.getMessage() for r in hookwise_logs.records if "failed in hook" in r.getMessage()]
    assert len(reports) == 1 and "log 'acc' is str" in reports[0]


class LogsHuge(Callback):
    """Logs ``10**400`` through ``trainer.log`` in ``on_train_batch_end``."""

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        trainer_state["trainer"].log("huge", 10**400)


class Reader:
    """A log listener that reads every value as a float, as the log writers do."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, merged: dict[str, Any]) -> None:
        for key, value in merged.items():
            float(value)
            self.seen.append(key)


HUGE_MESSAGE = "log 'huge' is an integer of 1329 bits, too large for a float"


@pytest.mark.fault("input.huge-log-value")
@pytest.mark.parametrize("how", ["returned", "trainer.log"])
def test_an_integer_too_large_for_a_float_blames_the_plugin_that_logged_it(
    tmp_path: Path, how: str
) -> None:
    pm = isolated_pm()
    plugin = Returns({"huge": 10**400}) if how == "returned" else LogsHuge()
    pm.register(plugin, "huge")
    trainer = make_trainer(tmp_path, plugins=pm, epochs=1)
    with pytest.raises(ValueError) as info:
        fit(trainer)
    assert HUGE_MESSAGE in str(info.value)
    assert "plugin 'huge' failed in hook 'on_train_batch_end' at epoch 0, step 1" in _notes(
        info.value
    )


@pytest.mark.fault("input.huge-log-value")
@pytest.mark.parametrize("how", ["returned", "trainer.log"])
def test_an_integer_too_large_for_a_float_under_warn_is_dropped_and_training_goes_on(
    tmp_path: Path, how: str, hookwise_logs: pytest.LogCaptureFixture
) -> None:
    pm = isolated_pm()
    plugin = Returns({"huge": 10**400}) if how == "returned" else LogsHuge()
    pm.register(plugin, "huge", on_error="warn")
    pm.register(Good(), "good")
    trainer = make_trainer(tmp_path, plugins=pm, epochs=2, batches=3)
    reader = Reader()
    trainer.add_log_listener(reader)
    fit(trainer)
    assert trainer.global_step == 6
    assert "train/fine" in reader.seen and not any("huge" in key for key in reader.seen)
    assert not any("huge" in key for key in trainer.metrics)  # every value reads as a float
    assert set(trainer.pm.failures) == {"huge"}  # the plugin that logged it, nobody else
    reports = [r.getMessage() for r in hookwise_logs.records if "failed in hook" in r.getMessage()]
    assert reports and HUGE_MESSAGE in reports[0]
