"""The run manifest: what made a run, recorded in ``run.json`` and in every checkpoint.

A manifest is plain data (str, int, float, bool, ``None``, lists and dicts), so a checkpoint
holding one still loads with ``weights_only=True``, and ``run.json`` holds it as JSON::

    {
      "manifest_version": 1,
      "versions": {"hookwise": "0.1.0", "hooks": 1, "trainer_api": 1, "torch": "2.5.1",
                   "python": "3.11.9"},
      "seed": 0,
      "plugins": [{"name": "checkpoint", "enabled_as": "checkpoint",
                   "target": "hookwise_checkpoint:Checkpoint",
                   "distribution": "hookwise-checkpoint", "version": "0.1.0",
                   "params": {"keep_last": 2}, "state": true}, ...],
      "hook_order": {"on_validation_end": ["logging", "checkpoint"], ...},
      "config": {...},      # the resolved config (hookwise fit), else null
      "settings": {...}     # the Trainer's settings when there is no config, else null
    }

``plugins`` lists every enabled plugin in enabled order, with the parameters it was enabled
with (as given, before any ``{target}`` value was built; an object is recorded as its import
path or its ``repr``, never pickled) and whether it has state (in a checkpoint: whether the
checkpoint holds a non-empty state for it). ``hook_order``
is the call order of every hook some plugin implements (wrappers first).
:func:`hookwise.manifest_changes.manifest_changes` compares two manifests.
"""

from __future__ import annotations

import functools
import numbers
import platform
import re
import types
from collections.abc import Mapping
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hookwise.plugins import PluginManager

#: The version of the manifest's layout.
MANIFEST_VERSION = 1
#: The longest ``repr`` a parameter object is recorded with.
_REPR_LIMIT = 200
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def versions() -> dict[str, Any]:
    """hookwise's, the hook specifications', the trainer API's, torch's and Python's versions."""
    from hookwise.checkpointing import versions as software_versions

    return {**software_versions(), "python": platform.python_version()}


def _import_path(obj: Any) -> str:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    module = getattr(obj, "__module__", None) or "?"
    return f"{module}:{getattr(obj, '__qualname__', getattr(obj, '__name__', '?'))}"


def plain(value: Any) -> Any:
    """``value`` as plain data: mappings and sequences converted item by item; a class,
    function or module as its import path; a tensor as its shape and type; any other object
    as its ``repr`` (memory addresses left out, so that equal setups record equal text)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [plain(item) for item in items]
    if isinstance(value, PurePath) or _is_torch_device(value):
        return str(value)
    if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType, types.ModuleType)):
        return _import_path(value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):  # a tensor or an array
        return f"{type(value).__name__}(shape={list(value.shape)}, dtype={value.dtype})"
    text = _ADDRESS.sub("", repr(value))
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def _is_torch_device(value: Any) -> bool:
    kind = type(value)
    return kind.__name__ == "device" and kind.__module__.split(".")[0] == "torch"


@functools.lru_cache(maxsize=256)
def distribution_of(target: str) -> tuple[str | None, str | None]:
    """The installed distribution (and its version) named like ``target``'s top-level module
    (``hookwise_logging.x:Obj`` -> ``hookwise-logging``); ``(None, None)`` when there is none
    (a local module, or a distribution named otherwise). One metadata lookup, cached: mapping
    every module to its distribution would read every installed distribution's file list
    (seconds in a large environment)."""
    import importlib_metadata

    top = target.partition(":")[0].split(".")[0]
    try:
        found = importlib_metadata.distribution(top)
    except (importlib_metadata.PackageNotFoundError, ValueError):
        return None, None
    return found.name, found.version


def plugin_entry(pm: PluginManager, name: str, with_state: set[str]) -> dict[str, Any]:
    """What the manifest records of the enabled plugin ``name``."""
    origin = pm.plugin_origin(name)
    if origin is None:  # registered with pluggy's register(), not through the loader
        plugin = pm.get_plugin(name)
        target = _import_path(plugin if isinstance(plugin, types.ModuleType) else type(plugin))
        spec, params, distribution, version = None, {}, None, None
    else:
        spec, target, params = origin.spec, origin.target, dict(origin.params)
        distribution, version = origin.distribution, origin.version
    if distribution is None and not target.endswith(".py") and "/" not in target:
        distribution, version = distribution_of(target)  # code enabled without an entry point
    return {
        "name": name,
        "enabled_as": spec,
        "target": target,
        "distribution": distribution,
        "version": version,
        "params": plain(params),
        "state": name in with_state,
    }


def hook_order(pm: PluginManager) -> dict[str, list[str]]:
    """Every hook some enabled plugin implements, with its plugins in call order (hookwise's
    hooks in the hook reference's order, then any other specified hook)."""
    from hookwise.hookspecs import HOOK_NAMES

    specified = pm.hook_names
    hooks = [h for h in HOOK_NAMES if h in specified] + [
        h for h in specified if h not in HOOK_NAMES
    ]
    order: dict[str, list[str]] = {}
    for hook in hooks:
        names = list(pm.hook_order(hook))
        if names:
            order[hook] = names
    return order


def with_saved_state(manifest: Mapping[str, Any], states: Mapping[str, Any]) -> dict[str, Any]:
    """``manifest`` with each plugin's ``state`` saying whether ``states`` (a checkpoint's
    plugin states) holds a non-empty state for it."""
    plugins = [
        {**entry, "state": _non_empty(states.get(entry["name"]))}
        for entry in manifest.get("plugins", [])
    ]
    return {**manifest, "plugins": plugins}


def _non_empty(state: Any) -> bool:
    if state is None:
        return False
    return not isinstance(state, (Mapping, list, tuple)) or len(state) > 0


def build_manifest(
    pm: PluginManager,
    *,
    seed: int | None,
    config: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest of a run with the plugins of ``pm``.

    :param seed: the run's seed (``None``: not known yet).
    :param config: the resolved config (``hookwise fit``); ``None`` for the Python API.
    :param settings: the trainer's settings, recorded when there is no ``config`` (the
        config's ``[trainer]`` table holds them otherwise).
    """
    from hookwise.callback import Callback

    with_state = {
        name
        for name, plugin in pm.plugins_with_state()
        if getattr(type(plugin), "state_dict", None) is not Callback.state_dict
    }
    return {
        "manifest_version": MANIFEST_VERSION,
        "versions": versions(),
        "seed": seed,
        "plugins": [plugin_entry(pm, name, with_state) for name in pm.plugin_names()],
        "hook_order": hook_order(pm),
        "config": plain(config) if config is not None else None,
        "settings": plain(settings) if config is None and settings is not None else None,
    }


__all__ = [
    "MANIFEST_VERSION",
    "build_manifest",
    "distribution_of",
    "hook_order",
    "plain",
    "plugin_entry",
    "versions",
    "with_saved_state",
]
