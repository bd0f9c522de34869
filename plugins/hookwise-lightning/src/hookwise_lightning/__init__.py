"""hookwise-lightning: run Lightning callbacks, unchanged, on hookwise's trainer.

Installed, it is an adapter (entry-point group ``hookwise.adapters``): any Lightning
``Callback`` enabled through hookwise is wrapped into a plugin, whatever the way (by import
path ``-p lightning.pytorch.callbacks:EarlyStopping:monitor=val/loss``, by entry point, in
``Trainer(plugins=[...])`` or ``Trainer(callbacks=[...])``). Its hooks are called from
hookwise's hooks, and it sees ``trainer`` and ``pl_module`` views of hookwise's run.

``import hookwise_lightning`` does not import Lightning; the names below load it on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hookwise_lightning.adapter import adapt
from hookwise_lightning.errors import UnsupportedLightningFeature

if TYPE_CHECKING:
    from hookwise_lightning.logger import HookwiseLogger
    from hookwise_lightning.module_view import LightningModuleView
    from hookwise_lightning.plugin import LightningCallbackPlugin
    from hookwise_lightning.trainer_view import LightningTrainerView

__version__ = "0.1.0"

_LAZY = {
    "HookwiseLogger": "hookwise_lightning.logger",
    "LightningCallbackPlugin": "hookwise_lightning.plugin",
    "LightningModuleView": "hookwise_lightning.module_view",
    "LightningTrainerView": "hookwise_lightning.trainer_view",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hookwise_lightning' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "HookwiseLogger",
    "LightningCallbackPlugin",
    "LightningModuleView",
    "LightningTrainerView",
    "UnsupportedLightningFeature",
    "__version__",
    "adapt",
]
