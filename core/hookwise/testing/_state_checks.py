"""What ``assert_plugin_valid`` checks of a plugin's state: values ``torch.load(weights_only=True)``
accepts, and a state restored as it was saved."""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Mapping
from typing import Any

from hookwise.testing._recorder_checks import short as _short


def first_difference(saved: Any, restored: Any, path: str = "state") -> str | None:
    """Where ``restored`` differs from ``saved`` (``None``: equal), for a readable message."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(saved, torch.Tensor):
        if not isinstance(restored, torch.Tensor):
            return f"{path}: saved a tensor, got {type(restored).__name__}"
        if saved.shape != restored.shape or saved.dtype != restored.dtype:
            return (
                f"{path}: saved a {saved.dtype} tensor of shape {tuple(saved.shape)}, got "
                f"{restored.dtype} {tuple(restored.shape)}"
            )
        if not torch.equal(saved.cpu(), restored.cpu()):
            if saved.is_floating_point() and torch.equal(saved.isnan(), restored.isnan()):
                mask = ~saved.isnan()
                if torch.equal(saved[mask].cpu(), restored[mask].cpu()):
                    return None
            return f"{path}: tensor values differ"
        return None
    if isinstance(saved, Mapping):
        if not isinstance(restored, Mapping):
            return f"{path}: saved a mapping, got {type(restored).__name__}"
        if set(saved) != set(restored):
            missing = sorted(map(str, set(saved) - set(restored)))
            extra = sorted(map(str, set(restored) - set(saved)))
            return f"{path}: keys differ (missing {missing}, unexpected {extra})"
        for key in saved:
            found = first_difference(saved[key], restored[key], f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(saved, (list, tuple)):
        if not isinstance(restored, (list, tuple)) or len(saved) != len(restored):
            return f"{path}: saved {_short(saved)}, got {_short(restored)}"
        for index, (a, b) in enumerate(zip(saved, restored, strict=True)):
            found = first_difference(a, b, f"{path}[{index}]")
            if found:
                return found
        return None
    both_float = isinstance(saved, float) and isinstance(restored, float)
    if both_float and math.isnan(saved) and math.isnan(restored):
        return None
    try:
        equal = bool(saved == restored)
    except Exception:
        equal = False
    return None if equal else f"{path}: saved {_short(saved)}, got {_short(restored)}"


def unsafe_values(value: Any, path: str = "state") -> list[str]:
    """Values ``torch.load(weights_only=True)`` refuses, with where they are."""
    import torch

    plain = (str, int, float, bool, complex, type(None), torch.Tensor, torch.Size, torch.dtype)
    if isinstance(value, plain) and type(value).__module__ in ("builtins", "torch"):
        return []
    if isinstance(value, torch.Tensor):  # a subclass such as nn.Parameter
        return []
    if type(value) in (dict, list, tuple, set) or type(value).__name__ == "OrderedDict":
        items = value.items() if isinstance(value, dict) else enumerate(value)
        found: list[str] = []
        for key, item in items:
            found += unsafe_values(item, f"{path}[{key!r}]")
        return found
    return [f"{path} is a {type(value).__module__}.{type(value).__qualname__}"]


def weights_only_problem(state: Any, plugin: str) -> str | None:
    import pickle

    import torch

    buffer = io.BytesIO()
    try:
        torch.save(state, buffer)
    except Exception as exc:
        return (
            f"plugin {plugin!r}: state_dict() cannot be saved with torch.save: "
            f"{type(exc).__name__}: {exc}"
        )
    buffer.seek(0)
    try:
        torch.load(buffer, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError) as exc:
        where = unsafe_values(state)
        detail = "; ".join(where[:5]) if where else str(exc).splitlines()[0]
        return (
            f"plugin {plugin!r}: state_dict() holds values torch.load(weights_only=True) "
            f"refuses: {detail}. Store tensors, numbers, strings, lists and dicts only "
            f"(e.g. a path as str(path), an enum as its value)."
        )
    return None
