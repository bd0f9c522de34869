"""hookwise: a plugin-discovered callback ecosystem for PyTorch training.

``import hookwise`` is light: names that need torch (``Trainer``, ``LossModule``, the
distributed helpers) are imported on first use, so listing plugins never pays for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
)
from hookwise.hookspecs import HOOK_NAMES, HOOKS_VERSION, hookimpl, hookspec
from hookwise.plugins import PluginManager
from hookwise.state import TrainerState

if TYPE_CHECKING:
    from hookwise.loss import LossDefinition, LossModule
    from hookwise.trainer import StopRequest, Trainer, TrainingInterrupted
    from hookwise.trainer.position import seed_everything

__version__ = "0.1.0"

_LAZY = {
    "Trainer": "hookwise.trainer",
    "TrainingInterrupted": "hookwise.trainer",
    "StopRequest": "hookwise.trainer",
    "LossModule": "hookwise.loss",
    "LossDefinition": "hookwise.loss",
    "seed_everything": "hookwise.trainer.position",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hookwise' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
