"""The plugin manager and everything behind it.

- :mod:`~hookwise.plugins.manager`: ``PluginManager``, a ``pluggy.PluginManager`` with
  hookwise's specs, order and call path;
- :mod:`~hookwise.plugins.loading` and :mod:`~hookwise.plugins.building`: the one way to
  enable a plugin (``pm.enable``, ``pm.enable_object``);
- :mod:`~hookwise.plugins.dispatch`, :mod:`~hookwise.plugins.plan` and
  :mod:`~hookwise.plugins.codegen`: each hook's caller, its call plan and the generated call
  code; :mod:`~hookwise.plugins.ordering` (named constraints), :mod:`~hookwise.plugins.triggers`
  (declarative triggers), :mod:`~hookwise.plugins.convention` (how ``Callback`` methods are
  called);
- :mod:`~hookwise.plugins.discovery`: installed plugins, from metadata only;
- :mod:`~hookwise.plugins.policy`: the allow-list and the error policies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hookwise.environment import ALLOWED_ENV
    from hookwise.plugins.building import CALLBACK_PARAMS, RESERVED_PARAMS, accepted_params
    from hookwise.plugins.codegen import ImplCall
    from hookwise.plugins.loading import closest, split_instance
    from hookwise.plugins.manager import PluginManager
    from hookwise.plugins.ordering import HookOrder
    from hookwise.plugins.plan import ImplWrapper
    from hookwise.plugins.policy import (
        ERROR_POLICIES,
        AllowList,
        ErrorPolicy,
        HookFailure,
        allowed_from_env,
    )

    _closest = closest
    _allowed_from_env = allowed_from_env

# Imported on first use, so that the light modules (discovery) load without pluggy and the
# manager; the names are those of the single-module ``hookwise.plugins`` of earlier versions.
_LAZY = {
    "ALLOWED_ENV": ("hookwise.environment", "ALLOWED_ENV"),
    "CALLBACK_PARAMS": ("hookwise.plugins.building", "CALLBACK_PARAMS"),
    "RESERVED_PARAMS": ("hookwise.plugins.building", "RESERVED_PARAMS"),
    "accepted_params": ("hookwise.plugins.building", "accepted_params"),
    "ImplCall": ("hookwise.plugins.codegen", "ImplCall"),
    "closest": ("hookwise.plugins.loading", "closest"),
    "_closest": ("hookwise.plugins.loading", "closest"),
    "split_instance": ("hookwise.plugins.loading", "split_instance"),
    "PluginManager": ("hookwise.plugins.manager", "PluginManager"),
    "HookOrder": ("hookwise.plugins.ordering", "HookOrder"),
    "ImplWrapper": ("hookwise.plugins.plan", "ImplWrapper"),
    "ERROR_POLICIES": ("hookwise.plugins.policy", "ERROR_POLICIES"),
    "AllowList": ("hookwise.plugins.policy", "AllowList"),
    "ErrorPolicy": ("hookwise.plugins.policy", "ErrorPolicy"),
    "HookFailure": ("hookwise.plugins.policy", "HookFailure"),
    "allowed_from_env": ("hookwise.plugins.policy", "allowed_from_env"),
    "_allowed_from_env": ("hookwise.plugins.policy", "allowed_from_env"),
}


def __getattr__(name: str) -> Any:
    found = _LAZY.get(name)
    if found is None:
        raise AttributeError(f"module 'hookwise.plugins' has no attribute {name!r}")
    value = getattr(importlib.import_module(found[0]), found[1])
    globals()[name] = value
    return value


__all__ = [
    "ALLOWED_ENV",
    "CALLBACK_PARAMS",
    "ERROR_POLICIES",
    "RESERVED_PARAMS",
    "AllowList",
    "ErrorPolicy",
    "HookFailure",
    "HookOrder",
    "ImplCall",
    "ImplWrapper",
    "PluginManager",
    "accepted_params",
    "allowed_from_env",
    "split_instance",
]
