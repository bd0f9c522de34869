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

from hookwise.plugins.building import CALLBACK_PARAMS, RESERVED_PARAMS, accepted_params
from hookwise.plugins.codegen import ImplCall
from hookwise.plugins.loading import closest, split_instance
from hookwise.plugins.manager import PluginManager
from hookwise.plugins.ordering import HookOrder
from hookwise.plugins.plan import ImplWrapper
from hookwise.plugins.policy import (
    ALLOWED_ENV,
    ERROR_POLICIES,
    AllowList,
    ErrorPolicy,
    HookFailure,
    allowed_from_env,
)

# Names kept from the single-module ``hookwise.plugins`` of earlier versions.
_closest = closest
_allowed_from_env = allowed_from_env

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
