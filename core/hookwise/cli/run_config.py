"""From the command line to a run: the resolved config, the plugin manager and the
``Trainer``'s keyword arguments."""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hookwise.errors import ConfigError

if TYPE_CHECKING:
    from hookwise.config import RunConfig
    from hookwise.plugins import PluginManager

logger = logging.getLogger("hookwise")


def setting_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``[trainer]`` values the command line sets (``--epochs 3`` -> ``{"epochs": 3}``),
    each checked by its setting and written as TOML writes it (``None`` as ``false``).

    :raises ConfigError: naming the flag, the value and what the setting allows.
    """
    from hookwise.cli.setting_flags import flag_dest, flag_settings

    overrides: dict[str, Any] = {}
    for setting in flag_settings(args.command):
        text = getattr(args, flag_dest(setting), None)
        if text is None or setting.config_key is None:
            continue
        value = setting.kind.from_text(str(text))
        setting.check(value, where=setting.flag or setting.name, key="")
        overrides[setting.config_key] = False if value is None else value
    return overrides


def resolve(args: argparse.Namespace, *, saved_config: Path | None = None) -> RunConfig:
    """The run's config: the defaults, CONFIG (or the one saved with the checkpoint), the
    environment and the command line."""
    from hookwise.config import load_toml, resolve_config

    config_path = Path(args.config) if args.config else saved_config
    config = load_toml(config_path) if config_path is not None else None
    overrides = setting_overrides(args)
    if config_path is not None and not args.config:
        logger.info("Using the config saved with the checkpoint: %s", config_path)
    return resolve_config(
        config,
        source=str(config_path) if config_path is not None else "<default config>",
        plugin_args=args.plugins,
        trainer_overrides=overrides,
        use_environment=True,
        overrides=getattr(args, "overrides", ()),
    )


def plugin_manager(resolved: RunConfig, *, dry_run: bool = False) -> PluginManager:
    """A plugin manager with the run's allow-list, its plugins blocked and enabled.

    The job's targets are checked against the allow-list first, before any plugin or target
    is imported. With ``dry_run``, no ``{target}`` of the plugins' parameters is built (each
    is checked and imported only).
    """
    from hookwise import targets
    from hookwise.config import enable_plan
    from hookwise.job import check_job_allowed
    from hookwise.plugins import PluginManager

    check_job_allowed(resolved.job, resolved.allowed_plugins)
    pm = PluginManager(allowed=resolved.allowed_plugins)
    if dry_run:
        with targets.dry_run():
            enable_plan(pm, resolved.plugins)
    else:
        enable_plan(pm, resolved.plugins)
    return pm


def job_enforcing(resolved: RunConfig) -> contextlib.AbstractContextManager[None]:
    """The block in which the job is built and run: every import path configuration makes
    hookwise import is checked against the allow-list (with the default job's own targets)."""
    from hookwise.job import job_allow_list
    from hookwise.plugins.policy import enforcing

    return enforcing(job_allow_list(resolved.allowed_plugins))


def check_job_targets(job: dict[str, Any]) -> None:
    """Import every ``target`` of the job, calling none (what ``--dry-run`` checks without
    building)."""
    from hookwise.job import job_targets
    from hookwise.targets import resolve

    for where, path in job_targets(job):
        resolve(path, where=where)


def _apply_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


#: How the command applies each ``run`` setting (one that is no ``Trainer`` argument).
RUN_SETTINGS: dict[str, Callable[[Any], None]] = {"num_threads": _apply_threads}


def trainer_kwargs(resolved: RunConfig) -> dict[str, Any]:
    """``Trainer`` keyword arguments from the resolved ``[trainer]`` table, each checked and
    normalised by its setting (``false`` becomes ``None``); the ``run`` settings
    (``num_threads``) are applied here instead. Settings the table does not hold are left to
    the ``Trainer``'s defaults, which are the settings' defaults."""
    from hookwise import settings

    kwargs: dict[str, Any] = {}
    where = f"{resolved.source}: [trainer]"
    for key, value in resolved.trainer.items():
        setting = settings.by_config_key(key)
        if setting is None:  # resolve_config checked every key
            raise ConfigError(f"{where}: unknown key {key!r}")
        checked = setting.from_toml(value, where=where)
        if setting.scope == "run":
            RUN_SETTINGS[setting.name](checked)
        else:
            kwargs[setting.name] = checked
    return kwargs


__all__ = [
    "RUN_SETTINGS",
    "check_job_targets",
    "job_enforcing",
    "plugin_manager",
    "resolve",
    "setting_overrides",
    "trainer_kwargs",
]
