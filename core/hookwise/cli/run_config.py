"""From the command line to a run: the resolved config, the plugin manager and the
``Trainer``'s keyword arguments."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hookwise.errors import ConfigError

if TYPE_CHECKING:
    from hookwise.config import RunConfig
    from hookwise.plugins import PluginManager

logger = logging.getLogger("hookwise")


def resolve(
    args: argparse.Namespace, *, saved_config: Path | None = None, fit: bool = True
) -> RunConfig:
    """The run's config: the defaults, CONFIG (or the one saved with the checkpoint), the
    environment and the command line."""
    from hookwise.config import load_toml, resolve_config

    config_path = Path(args.config) if args.config else saved_config
    config = load_toml(config_path) if config_path is not None else None
    overrides: dict[str, Any] = {"seed": args.seed, "device": args.device}
    if fit:
        overrides.update(epochs=args.epochs, steps=args.steps)
    if config_path is not None and not args.config:
        logger.info("Using the config saved with the checkpoint: %s", config_path)
    return resolve_config(
        config,
        source=str(config_path) if config_path is not None else "<default config>",
        plugin_args=args.plugins,
        trainer_overrides=overrides,
        use_environment=True,
    )


def plugin_manager(resolved: RunConfig) -> PluginManager:
    """A plugin manager with the run's allow-list, its plugins blocked and enabled."""
    from hookwise.config import enable_plan
    from hookwise.plugins import PluginManager

    pm = PluginManager(allowed=resolved.allowed_plugins)
    enable_plan(pm, resolved.plugins)
    return pm


def check_job_targets(job: dict[str, Any]) -> None:
    """Import every ``target`` of the job (what ``--dry-run`` checks without building)."""
    from hookwise.targets import is_target, resolve

    def visit(value: Any, where: str) -> None:
        if is_target(value):
            resolve(value["target"], where=f"{where}.target")
        if isinstance(value, dict):
            for key, item in value.items():
                if key != "connector":
                    visit(item, f"{where}.{key}" if where else f"[{key}]")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, f"{where}[{index}]")

    visit({k: v for k, v in job.items() if v is not None}, "")


def _apply_threads(threads: int | None) -> None:
    if threads is None:
        return
    if threads < 1:
        raise ConfigError(f"[trainer] num_threads must be at least 1, got {threads}")
    import torch

    torch.set_num_threads(threads)


def _check_device(device: str) -> None:
    if device == "auto":
        return
    import torch

    try:
        torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(
            f"[trainer] device {device!r} is not a device torch knows ({exc}); use cpu, "
            f"cuda, cuda:N, mps or auto"
        ) from None


def trainer_kwargs(resolved: RunConfig) -> dict[str, Any]:
    """``Trainer`` keyword arguments from ``[trainer]``; applies ``num_threads`` to torch."""
    from hookwise.settings import DEFAULT_NUM_EPOCHS

    settings = resolved.trainer
    _apply_threads(settings.get("num_threads"))
    device = settings.get("device", "auto")
    _check_device(device)
    every = settings.get("check_val_every_n_epoch", 1)
    interval = settings.get("val_check_interval")
    kwargs: dict[str, Any] = {
        "device": device,
        "num_epochs": settings.get("epochs", DEFAULT_NUM_EPOCHS),
        "num_steps": settings.get("steps", -1),
        "check_val_every_n_epoch": None if every is False else every,
        "val_check_interval": None if interval is False else interval,
        "seed": settings.get("seed"),
        "scheduler_interval": settings.get("scheduler_interval", "epoch"),
    }
    if "log_every_n_steps" in settings:
        kwargs["log_every_n_steps"] = settings["log_every_n_steps"]
    return kwargs


__all__ = ["check_job_targets", "plugin_manager", "resolve", "trainer_kwargs"]
