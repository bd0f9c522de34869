"""The settings model: one definition per setting, read by the Trainer (and config and CLI)."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hookwise import ConfigError, settings
from hookwise.settings import Count, Setting


def test_every_trainer_argument_that_is_a_setting_has_its_default() -> None:
    from hookwise import Trainer

    parameters = inspect.signature(Trainer.__init__).parameters
    for setting in settings.all_settings("trainer"):
        assert setting.name in parameters, f"{setting.name} is not a Trainer argument"
        assert parameters[setting.name].default == setting.default, setting.name


def test_the_trainer_checks_every_trainer_setting(tmp_path: Path) -> None:
    from hookwise import Trainer

    bad: dict[str, Any] = {
        "device": "gpu0",
        "num_epochs": -2,
        "num_steps": "5",
        "epoch": -1,
        "global_step": 1.5,
        "check_val_every_n_epoch": 0,
        "val_check_interval": False,
        "log_every_n_steps": 0,
        "seed": "1",
        "scheduler_interval": "batch",
        "profile_hooks": "yes",
        "handle_signals": "no",
        "dist_timeout": 0,
        "dist_stall_timeout": -1,
        "resume_on_restart": "sometimes",
        "dist_stop_check_interval": 0,
        "use_distributed_sampler": "false",
        "ddp_kwargs": ["find_unused_parameters"],
        "overwrite": "yes",
        "num_sanity_val_steps": -1,
        "precision": "16-mixed",
        "accumulate_grad_batches": 0,
        "gradient_clip_val": -1.0,
        "gradient_clip_algorithm": "max",
        "compile": "yes",
        "compile_kwargs": ["mode"],
        "strategy": "deepspeed",
        "fsdp_wrap": 0,
        "checkpoint_format": "zip",
    }
    assert set(bad) == {s.name for s in settings.all_settings("trainer")}
    for name, value in bad.items():
        expected = settings.get(name).kind.expected
        with pytest.raises(ConfigError) as info:
            Trainer(output_dir=tmp_path, **{name: value})
        assert f"Trainer {name} must be {expected}, got {value!r}" in str(info.value)


def test_one_default_epoch_count() -> None:
    assert settings.get("num_epochs").default == settings.DEFAULT_NUM_EPOCHS == 1000
    assert settings.by_config_key("epochs") is settings.get("num_epochs")


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("num_epochs", "3", 3),
        ("num_epochs", "-1", -1),
        ("seed", "-7", -7),
        ("val_check_interval", "off", None),
        ("dist_timeout", "2.5", 2.5),
        ("handle_signals", "no", False),
        ("scheduler_interval", "step", "step"),
        ("device", "auto", "auto"),
    ],
)
def test_command_line_text(name: str, text: str, value: Any) -> None:
    assert settings.get(name).from_text(text) == value


def test_command_line_text_errors_name_the_flag() -> None:
    with pytest.raises(ConfigError, match=r"^--epochs must be an integer >= 0 \(-1: unlimited\)"):
        settings.get("num_epochs").from_text("ten")
    with pytest.raises(ConfigError, match=r"^log_every_n_steps must be an integer >= 1"):
        settings.get("log_every_n_steps").from_text("0")


def test_config_values_use_the_config_key_and_false_for_none() -> None:
    assert settings.get("check_val_every_n_epoch").from_toml(False) is None
    assert settings.get("num_steps").from_toml(7) == 7
    with pytest.raises(ConfigError, match=r"^\[trainer\] epochs must be an integer >= 0"):
        settings.get("num_epochs").from_toml("ten")
    with pytest.raises(ConfigError, match=r"\[trainer\] epochs must be .*, got False"):
        settings.get("num_epochs").from_toml(False)  # only optional settings take false


def test_registry_refuses_duplicates_and_bad_defaults() -> None:
    with pytest.raises(ValueError, match="config_key 'epochs' is already defined"):
        settings.define(Setting("epochs_again", Count(), 1, "x", config_key="epochs"))
    with pytest.raises(ValueError, match="name 'seed' is already defined"):
        settings.define(Setting("seed", Count(), 1, "x"))
    with pytest.raises(ValueError):
        settings.define(Setting("bad_default", Count(minimum=1), 0, "x"))
    assert "epochs_again" not in settings.defaults()


def test_unknown_names_suggest_the_closest() -> None:
    with pytest.raises(KeyError, match="did you mean 'num_epochs'"):
        settings.get("num_epoch")


def test_rows_cover_every_setting_for_the_docs() -> None:
    rows = list(settings.rows())
    assert [r[0] for r in rows] == [s.name for s in settings.all_settings()]
    epochs = next(r for r in rows if r[0] == "num_epochs")
    assert epochs[1:5] == ("int", "1000", "epochs", "--epochs")


def test_reading_the_settings_does_not_import_torch() -> None:
    code = (
        "import sys, hookwise.settings as s; s.get('device').check('auto');"
        "s.get('num_epochs').from_text('3'); list(s.rows());"
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
