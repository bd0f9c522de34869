"""The command line and the config file read the one definition of each setting
(:mod:`hookwise.settings`): the flags and their ``--help``, the ``[trainer]`` keys and their
checks, and the defaults the ``Trainer`` gets when no layer sets a value."""

from __future__ import annotations

from typing import Any

import pytest
from hookwise import settings
from hookwise.cli import build_parser, main
from hookwise.cli.run_config import RUN_SETTINGS, setting_overrides, trainer_kwargs
from hookwise.cli.setting_flags import flag_settings
from hookwise.config import TRAINER_KEYS, check_config, resolve_config
from hookwise.errors import ConfigError

#: A value each kind refuses, as TOML and as command-line text.
BAD: dict[type, tuple[Any, str]] = {
    settings.Count: ("many", "many"),
    settings.Choice: ("sometimes", "sometimes"),
    settings.Device: ("gpu0", "gpu0"),
    settings.Seconds: (-1, "-1"),
    settings.Flag: ("yes please", "yes please"),
    settings.Positive: (-0.5, "-0.5"),
    settings.Precision: ("16-mixed", "16-mixed"),
    settings.Keywords: ("mode", "mode"),
    settings.WrapPolicy: (0, "0"),
}


def help_text(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    """``hookwise COMMAND --help`` with its line breaks folded."""
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", ["fit", "test"])
def test_every_flag_and_its_help_come_from_the_definitions(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = help_text(command, capsys)
    defined = [s for s in settings.all_settings() if s.flag and command in s.commands]
    assert flag_settings(command) == defined
    for setting in defined:
        assert setting.flag in text
        assert " ".join(setting.help.split()) in text
        if setting.config_key is not None:
            assert f"Sets [trainer] {setting.config_key} (default {setting.default_text}" in text
    others = [s.flag for s in settings.all_settings() if s.flag and command not in s.commands]
    for flag in others:
        assert f"{flag} " not in text


def test_the_trainer_keys_are_the_settings_config_keys() -> None:
    assert settings.config_keys() == TRAINER_KEYS
    for setting in settings.all_settings():
        if setting.config_key is not None:
            check_config({"trainer": {setting.config_key: setting.default}}, "c.toml")


@pytest.mark.parametrize(
    "setting", [s for s in settings.all_settings() if s.config_key], ids=lambda s: s.name
)
def test_a_bad_config_value_gets_the_settings_own_message(setting: settings.Setting) -> None:
    bad, _ = BAD[type(setting.kind)]
    with pytest.raises(ConfigError) as from_config:
        check_config({"trainer": {setting.config_key: bad}}, "c.toml")
    with pytest.raises(ConfigError) as from_python:
        setting.check(bad)
    expected = f"must be {setting.kind.expected}, got {bad!r}"
    assert str(from_config.value).startswith(f"c.toml: [trainer] {setting.config_key} {expected}")
    assert expected in str(from_python.value)


@pytest.mark.parametrize(
    "setting",
    [s for s in settings.all_settings() if s.flag and s.config_key and "fit" in s.commands],
    ids=lambda s: s.name,
)
def test_a_bad_flag_value_is_an_error_naming_the_flag(
    setting: settings.Setting, capsys: pytest.CaptureFixture[str]
) -> None:
    _, text = BAD[type(setting.kind)]
    assert setting.flag is not None
    code = main(["fit", setting.flag, text, "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"hookwise: error: {setting.flag} must be {setting.kind.expected}" in err


def test_flags_become_config_values_and_reach_the_trainer_checked() -> None:
    args = build_parser().parse_args(
        ["fit", "--epochs", "3", "--seed", "none", "--device", "cpu", "--profile-hooks"]
    )
    overrides = setting_overrides(args)
    assert overrides == {"epochs": 3, "seed": False, "device": "cpu"}  # TOML values
    resolved = resolve_config(None, trainer_overrides=overrides, defaults={})
    kwargs = trainer_kwargs(resolved)
    assert kwargs["num_epochs"] == 3 and kwargs["seed"] is None
    assert str(kwargs["device"]) == "cpu"


def test_a_setting_no_layer_sets_is_left_to_the_one_default() -> None:
    resolved = resolve_config({"trainer": {"steps": 5}}, defaults={})
    assert trainer_kwargs(resolved) == {"num_steps": 5}  # num_epochs: the Trainer's default
    assert settings.get("num_epochs").default == settings.DEFAULT_NUM_EPOCHS


def test_every_run_setting_is_applied_by_the_command_line() -> None:
    run_settings = {s.name for s in settings.all_settings("run")}
    assert run_settings == set(RUN_SETTINGS)
