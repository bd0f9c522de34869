"""hookwise: a plugin-discovered callback ecosystem for PyTorch training.

``import hookwise`` imports nothing but this file: every public name is imported from its
module on first use (PEP 562), so ``hookwise plugins`` pays neither for torch nor for pluggy,
the plugin manager or the config machinery, and ``import hookwise.discovery`` stays light.
``from hookwise import X`` and ``hookwise.X`` work for every name of ``__all__``, and
``hookwise.<submodule>`` for every submodule, as if all were imported eagerly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hookwise.api import TRAINER_API_VERSION, TrainerAPI, trainer_api
    from hookwise.callback import Callback
    from hookwise.connectors import (
        CallbackConnector,
        DataConnector,
        LossConnector,
        MultiSensorCallbackConnector,
        MultiSensorDataConnector,
        MultiSensorLossConnector,
        SourceKeyDescription,
        data_key,
        get_inputs_for_pred_and_data,
        get_multi_sensor_inputs,
        pred_key,
        remap_pred_keys,
    )
    from hookwise.discovery import ENTRY_POINT_GROUP, InstalledPlugin, normalize_name
    from hookwise.errors import (
        CheckpointError,
        ConfigError,
        HookwiseError,
        ManifestChangedWarning,
        PluginBlockedError,
        PluginLoadError,
        PluginNotFoundError,
        PluginValidationError,
        StateWriteError,
    )
    from hookwise.hookspecs import HOOK_NAMES, HOOKS_VERSION, hookimpl, hookspec
    from hookwise.loss import LossDefinition, LossModule
    from hookwise.plugins.manager import PluginManager
    from hookwise.state import TrainerState
    from hookwise.trainer import StopRequest, Trainer, TrainingInterrupted
    from hookwise.trainer.position import seed_everything

__version__ = "0.1.0"

# Where each public name lives; the TYPE_CHECKING block above must name the same ones
# (tests/core/test_api.py checks both against __all__).
_MODULES: dict[str, tuple[str, ...]] = {
    "hookwise.api": ("TRAINER_API_VERSION", "TrainerAPI", "trainer_api"),
    "hookwise.callback": ("Callback",),
    "hookwise.connectors": (
        "CallbackConnector",
        "DataConnector",
        "LossConnector",
        "MultiSensorCallbackConnector",
        "MultiSensorDataConnector",
        "MultiSensorLossConnector",
        "SourceKeyDescription",
        "data_key",
        "get_inputs_for_pred_and_data",
        "get_multi_sensor_inputs",
        "pred_key",
        "remap_pred_keys",
    ),
    "hookwise.discovery": ("ENTRY_POINT_GROUP", "InstalledPlugin", "normalize_name"),
    "hookwise.errors": (
        "CheckpointError",
        "ConfigError",
        "HookwiseError",
        "ManifestChangedWarning",
        "PluginBlockedError",
        "PluginLoadError",
        "PluginNotFoundError",
        "PluginValidationError",
        "StateWriteError",
    ),
    "hookwise.hookspecs": ("HOOK_NAMES", "HOOKS_VERSION", "hookimpl", "hookspec"),
    "hookwise.loss": ("LossDefinition", "LossModule"),
    "hookwise.plugins.manager": ("PluginManager",),
    "hookwise.state": ("TrainerState",),
    "hookwise.trainer": ("StopRequest", "Trainer", "TrainingInterrupted"),
    "hookwise.trainer.position": ("seed_everything",),
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif name.isidentifier() and not name.startswith("__"):
        value = _submodule(name)
    else:
        value = None
    if value is None:
        raise AttributeError(f"module 'hookwise' has no attribute {name!r}")
    globals()[name] = value
    return value


def _submodule(name: str) -> Any:
    """``hookwise.<name>`` for a submodule nobody imported yet (as when ``import hookwise``
    imported its submodules eagerly), else ``None``."""
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise  # the submodule exists and failed to import something else
        return None


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "ENTRY_POINT_GROUP",
    "HOOKS_VERSION",
    "HOOK_NAMES",
    "TRAINER_API_VERSION",
    "Callback",
    "CallbackConnector",
    "CheckpointError",
    "ConfigError",
    "DataConnector",
    "HookwiseError",
    "InstalledPlugin",
    "LossConnector",
    "LossDefinition",
    "LossModule",
    "ManifestChangedWarning",
    "MultiSensorCallbackConnector",
    "MultiSensorDataConnector",
    "MultiSensorLossConnector",
    "PluginBlockedError",
    "PluginLoadError",
    "PluginManager",
    "PluginNotFoundError",
    "PluginValidationError",
    "SourceKeyDescription",
    "StateWriteError",
    "StopRequest",
    "Trainer",
    "TrainerAPI",
    "TrainerState",
    "TrainingInterrupted",
    "data_key",
    "get_inputs_for_pred_and_data",
    "get_multi_sensor_inputs",
    "hookimpl",
    "hookspec",
    "normalize_name",
    "pred_key",
    "remap_pred_keys",
    "seed_everything",
    "trainer_api",
    "__version__",
]
