"""Small helpers of the trainer's parts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from hookwise.errors import ConfigError
from hookwise.readonly import ReadOnlyFloats, read_only_floats
from hookwise.values import LazyFloats


def to_device(data: Any, device: torch.device) -> Any:
    """``data`` with every tensor (in dicts, lists and tuples) moved to ``device``."""
    if isinstance(data, torch.Tensor):
        return data.to(device, non_blocking=True)
    if isinstance(data, Mapping):
        return {k: to_device(v, device) for k, v in data.items()}
    if isinstance(data, (list, tuple)) and not hasattr(data, "_fields"):
        return type(data)(to_device(v, device) for v in data)
    return data


def as_list(value: Any) -> list[Any]:
    """``None`` -> ``[]``, a list or tuple -> a list, anything else -> ``[value]``."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def length(loader: Any) -> int | None:
    """``len(loader)``, or ``None`` when it has none."""
    if loader is None:
        return None
    try:
        return len(loader)
    except TypeError:
        return None


def compute_loss(
    loss_module: Any, outputs: Any, batch: Any, *, shared: bool = True
) -> tuple[torch.Tensor, Any]:
    """``(total, metrics)`` of a loss module that returns both (a ``LossModule``) or just the
    total (then ``metrics`` is ``{"loss": total}``). ``metrics`` is a read-only
    :class:`~hookwise.values.LazyFloats` (the hooks of the step share it): floats when read,
    tensors until then. With ``shared=False`` (no hook receives them) a loss module's own
    ``LazyFloats`` comes back as it is: the read-only copy costs about 4,000 instructions (a
    :class:`~hookwise.LossModule` the trainer calls directly builds the read-only view itself:
    :mod:`hookwise.trainer.module_call`)."""
    result = loss_module(outputs, batch)
    if not isinstance(result, tuple):
        return result, ReadOnlyFloats({"loss": result.detach()})
    total, metrics = result
    if isinstance(metrics, LazyFloats):
        return total, read_only_floats(metrics) if shared else metrics
    if isinstance(metrics, Mapping):
        metrics = ReadOnlyFloats(
            {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in metrics.items()}
        )
    return total, metrics


def plugin_entries(
    plugins: Iterable[Any] | Mapping[str, Any] | None,
) -> list[tuple[str, dict[str, Any]]]:
    """``Trainer(plugins=...)`` as ``(name, params)`` pairs."""
    if plugins is None:
        return []
    if isinstance(plugins, Mapping):
        return [(str(name), dict(params or {})) for name, params in plugins.items()]
    entries: list[tuple[str, dict[str, Any]]] = []
    for item in plugins:
        if isinstance(item, str):
            entries.append((item, {}))
        elif isinstance(item, tuple) and len(item) == 2:
            entries.append((str(item[0]), dict(item[1])))
        elif hasattr(item, "name") and hasattr(item, "params"):
            entries.append((item.name, dict(item.params)))
        else:
            raise ConfigError(
                f"plugins entries are names, (name, params) pairs or plugin specs, got {item!r}"
            )
    return entries


def plugin_manager(
    plugins: Any, callbacks: Iterable[Any] | None, describe: Any, tolerated: Any
) -> Any:
    """The trainer's plugin manager: ``plugins`` if it is one, else a new one enabling the
    named plugins; then every ``callbacks=[...]`` object (see :func:`callback_name`).
    ``describe`` and ``tolerated`` become its ``describe_position`` and
    ``on_tolerated_failure``."""
    from hookwise.plugins import PluginManager

    pm = plugins if isinstance(plugins, PluginManager) else PluginManager()
    if not isinstance(plugins, PluginManager):
        for name, params in plugin_entries(plugins):
            pm.enable(name, **params)
    for callback in callbacks or []:
        pm.enable_object(callback, callback_name(pm, callback))
    pm.describe_position = describe
    pm.on_tolerated_failure = tolerated
    return pm


def callback_name(pm: Any, callback: Any) -> str:
    """The name a ``callbacks=[...]`` object is registered under: its class name, ``Name#2``
    for a second one."""
    base = type(callback).__name__
    name, count = base, 1
    while pm.get_plugin(name) is not None:
        count += 1
        name = f"{base}#{count}"
    return name
