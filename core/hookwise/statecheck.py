"""Plugin state is checked when a checkpoint is saved, so that no checkpoint is written that
its own resume cannot load.

A checkpoint is read with ``torch.load(weights_only=True)``, which accepts tensors and plain
values only. Every plugin's ``state_dict()`` is walked when it is saved:

- plain values pass: ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``, ``bytes``,
  tensors, ``torch.Size``, ``torch.dtype``, ``torch.device``, and ``dict`` / ``OrderedDict`` /
  ``list`` / ``tuple`` / ``set`` of them;
- a few common values are converted to the plain value they stand for: numpy scalars
  (``np.float64(0.5)`` -> ``0.5``), numpy arrays of numbers (-> a tensor holding the same
  numbers), paths (``pathlib.Path`` -> ``str``);
- anything else (a ``datetime``, a namedtuple, an enum, an object of the plugin's own class)
  is an error naming the plugin, where the value sits in its state, its type and the fix, and
  the checkpoint is not written.
"""

from __future__ import annotations

import collections
import pathlib
from typing import Any

import torch

from hookwise.errors import CheckpointError

_PLAIN = (type(None), bool, int, float, complex, str, bytes, torch.Size, torch.dtype, torch.device)


def _convert(value: Any) -> tuple[bool, Any]:
    """``(True, plain value)`` for a value of a convertible kind, else ``(False, value)``."""
    module = type(value).__module__
    if module == "numpy" or module.startswith("numpy."):
        import numpy as np

        if isinstance(value, np.generic) and not isinstance(value, (np.object_, np.void)):
            return True, value.item()
        if isinstance(value, np.ndarray) and value.dtype.kind in "biufc":
            return True, torch.from_numpy(np.array(value, copy=True))
    if isinstance(value, pathlib.PurePath):
        return True, str(value)
    return False, value


def checked_state(plugin: str, state: Any, where: str = "state") -> Any:
    """``state`` with every value a safe load can read, converted where it can be.

    :param plugin: the plugin's name, for the error message.
    :raises CheckpointError: a value that cannot be saved so that it loads (the message names
        the plugin, the value's place, its type and the fix).
    """
    kind = type(state)
    if kind in _PLAIN or isinstance(state, torch.Tensor):
        return state
    if kind in (dict, collections.OrderedDict):
        items = {
            checked_state(plugin, key, f"{where} key {key!r}"): checked_state(
                plugin, value, f"{where}[{key!r}]"
            )
            for key, value in state.items()
        }
        return items if kind is dict else collections.OrderedDict(items)
    if kind in (list, tuple, set):
        values = [checked_state(plugin, v, f"{where}[{i}]") for i, v in enumerate(state)]
        return kind(values)
    converted, value = _convert(state)
    if converted:
        return value
    raise CheckpointError(
        f"plugin {plugin!r}: its state_dict() holds {state!r:.80} at {where}, a "
        f"{kind.__module__}.{kind.__qualname__}, which a checkpoint cannot hold (it is loaded "
        f"with torch.load(weights_only=True), which reads only tensors and plain values). "
        f"Store it as a plain value (str, int, float, bool, None, a tensor, or a list or dict "
        f"of them: a datetime as .isoformat(), an enum as .value, a namedtuple as a tuple or "
        f"dict) and rebuild it in load_state_dict; the checkpoint was not written"
    )


__all__ = ["checked_state"]
