"""Checking a parsed config: every key known, every value of the right type.

Errors name the file, the table and the key, and say what would be right (the closest key
for a misspelled one).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from hookwise import settings
from hookwise.config.specs import plugin_options_from_config
from hookwise.errors import ConfigError, add_note

#: The sections of a config that describe the job (what is trained, on what, how).
JOB_SECTIONS: tuple[str, ...] = ("model", "data", "optimizer", "scheduler", "loss")
#: Every top-level key a config may have.
TOP_LEVEL_KEYS: tuple[str, ...] = (
    "allowed_plugins",
    "plugins_file",
    *JOB_SECTIONS,
    "trainer",
    "plugins",
)
#: ``[trainer]`` keys, in the order :mod:`hookwise.settings` defines them (each is one
#: :class:`~hookwise.settings.Setting`'s ``config_key``, checked by that setting); the checks
#: read the settings themselves, so a setting defined later is a key too.
TRAINER_KEYS: tuple[str, ...] = settings.config_keys()
#: ``[data]`` keys.
DATA_KEYS: tuple[str, ...] = (
    "train",
    "val",
    "test",
    "connector",
    "train_connector",
    "test_connector",
    "batch_size",
    "num_workers",
)


def closest_hint(name: str, candidates: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest candidate, or ``""``."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_config(config: Mapping[str, Any], where: str) -> None:
    """Check a config's keys and types; raise :class:`ConfigError` naming the key and file."""
    for key in config:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(
                f"{where}: unknown key {key!r}.{closest_hint(key, TOP_LEVEL_KEYS)} A config "
                f"has: {', '.join(TOP_LEVEL_KEYS)}"
            )
    allowed = config.get("allowed_plugins")
    if allowed is not None and (
        not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed)
    ):
        raise ConfigError(f"{where}: allowed_plugins must be a list of plugin names")
    plugins_files(config, where)
    for section in ("model", "optimizer", "scheduler"):
        if section in config:
            _check_target_table(config[section], f"{where}: [{section}]")
    if "loss" in config:
        losses = config["loss"]
        if isinstance(losses, list):
            for index, item in enumerate(losses):
                _check_target_table(item, f"{where}: [[loss]] entry {index + 1}")
        else:
            _check_target_table(losses, f"{where}: [loss]")
    if "data" in config:
        _check_data(config["data"], f"{where}: [data]")
    if "trainer" in config:
        check_trainer(config["trainer"], f"{where}: [trainer]")
    if "plugins" in config:
        plugin_options_from_config(config["plugins"], where)


def plugins_files(config: Mapping[str, Any], where: str) -> list[str]:
    """The config's ``plugins_file``: one path or a list of paths to ``.py`` files.

    :raises ConfigError: it is something else.
    """
    from hookwise.plugins.files import split_file_spec

    value = config.get("plugins_file", [])
    paths = [value] if isinstance(value, str) else value
    if not isinstance(paths, list) or not all(
        isinstance(p, str) and p.endswith(".py") and split_file_spec(p) == (p, None) for p in paths
    ):
        raise ConfigError(
            f"{where}: plugins_file must be the path of a Python file (or a list of them), "
            f'relative to the config\'s folder, e.g. plugins_file = "project_plugins.py"; got '
            f"{value!r}"
        )
    return list(paths)


def _check_target_table(value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise ConfigError(f'{where} must be a table with target = "package.module:callable"')
    target = value.get("target")
    if not isinstance(target, str) or not target:
        raise ConfigError(
            f'{where} needs target = "package.module:callable" (the other keys are its '
            f"keyword arguments)"
        )


def _check_data(data: Any, where: str) -> None:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a table with train = {{target = ...}}")
    for key, value in data.items():
        if key not in DATA_KEYS:
            raise ConfigError(
                f"{where}: unknown key {key!r}.{closest_hint(key, DATA_KEYS)} It has: "
                f"{', '.join(DATA_KEYS)}"
            )
        if key in ("train", "val", "test"):
            items = value if isinstance(value, list) and key != "train" else [value]
            for item in items:
                _check_target_table(item, f"{where} {key}")
        elif key.endswith("connector"):
            if not isinstance(value, Mapping) or not all(
                isinstance(v, str) for v in value.values()
            ):
                raise ConfigError(
                    f"{where} {key} must map model arguments to batch keys, such as "
                    f'{{ inputs = "inputs" }}; got {value!r}'
                )
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where} {key} must be a non-negative integer, got {value!r}")
    if "train" not in data:
        raise ConfigError(f'{where} needs train = {{target = "package.module:callable"}}')


def check_trainer(trainer: Any, where: str) -> None:
    """Check ``[trainer]`` settings (a table, or command-line overrides) against their
    definitions in :mod:`hookwise.settings` (``false`` is ``None`` where a setting allows it).
    """
    if not isinstance(trainer, Mapping):
        raise ConfigError(f"{where} must be a table such as {{ epochs = 10 }}")
    for key, value in trainer.items():
        setting = settings.by_config_key(key)
        if setting is None:
            keys = settings.config_keys()
            raise ConfigError(
                f"{where}: unknown key {key!r}.{closest_hint(key, keys)} It has: {', '.join(keys)}"
            )
        try:
            setting.from_toml(value, where=where)
        except ConfigError as exc:
            if setting.kind.optional:
                add_note(exc, f"(in a config, {key} = false means None)")
            raise


__all__ = [
    "DATA_KEYS",
    "JOB_SECTIONS",
    "TOP_LEVEL_KEYS",
    "TRAINER_KEYS",
    "check_config",
    "check_trainer",
    "closest_hint",
]
