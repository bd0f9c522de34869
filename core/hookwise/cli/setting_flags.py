"""The ``fit`` and ``test`` flags of :mod:`hookwise.settings`: one flag per setting that
defines one, with its help, default and allowed values from the setting."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hookwise.settings import Setting


def flag_settings(command: str) -> list[Setting]:
    """The settings ``command`` has a flag for, in definition order."""
    from hookwise import settings

    return [s for s in settings.all_settings() if s.flag and command in s.commands]


def flag_dest(setting: Setting) -> str:
    """Where argparse stores a setting's flag: ``setting_<name>`` (never a command's own
    option)."""
    return f"setting_{setting.name}"


def _metavar(setting: Setting) -> str:
    from hookwise import settings

    kind = setting.kind
    if isinstance(kind, settings.Count):
        return "N"
    if isinstance(kind, settings.Choice):
        return "{" + ",".join(kind.choices) + "}"
    return {settings.Device: "DEVICE", settings.Seconds: "SECONDS"}.get(type(kind), "VALUE")


def _flag_help(setting: Setting) -> str:
    from hookwise import settings

    if isinstance(setting.kind, settings.Flag):
        return setting.help  # a switch: given or not
    if setting.config_key is None:
        return f"{setting.help} (default {setting.default_text})"
    return (
        f"{setting.help} Sets [trainer] {setting.config_key} (default {setting.default_text}, "
        f"unless the config sets it)."
    )


def add_setting_flags(parser: argparse.ArgumentParser, command: str) -> None:
    """One flag per setting of :mod:`hookwise.settings` that defines one for ``command``:
    its help, default and allowed values come from the setting. Values stay text here;
    :func:`hookwise.cli.run_config.setting_overrides` checks them, so a bad value is an
    error naming the flag (exit status 2), like a bad config value."""
    from hookwise import settings

    for setting in flag_settings(command):
        options: dict[str, Any] = {"dest": flag_dest(setting), "default": None}
        if isinstance(setting.kind, settings.Flag):
            options["action"] = "store_true"
        else:
            options["metavar"] = _metavar(setting)
        parser.add_argument(str(setting.flag), help=_flag_help(setting), **options)


def _trainer_flag_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The ``Trainer`` keyword arguments set by flags of settings no config key holds
    (``--profile-hooks``); a setting with a config key goes through the config layers."""
    kwargs: dict[str, Any] = {}
    for setting in flag_settings(getattr(args, "command", "fit")):
        value = getattr(args, flag_dest(setting), None)
        if setting.config_key is None and value is not None:
            kwargs[setting.name] = setting.from_text(str(value))
    return kwargs


__all__ = ["add_setting_flags", "flag_dest", "flag_settings"]
