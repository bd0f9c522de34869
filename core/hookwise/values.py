"""Logged values as floats, read off the device in one transfer per device.

Hooks return numbers or detached 0-d tensors; the trainer keeps tensors as they are, so that
no step synchronises host and device. A plugin that writes values out (a metrics file, an
experiment tracker) converts many of them at once with :func:`to_floats`: one host-device
synchronisation per device, however many values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def to_floats(values: Sequence[Any]) -> list[float]:
    """``values`` (numbers, or tensors of one element) as floats, in order.

    The tensors of each device are stacked there and copied to the host together (as float64,
    float32 on Apple's ``mps``, which has no float64), so a float32 value converts exactly.
    """
    import torch

    floats = [0.0 if isinstance(v, torch.Tensor) else float(v) for v in values]
    by_device: dict[torch.device, list[int]] = {}
    for index, value in enumerate(values):
        if isinstance(value, torch.Tensor):
            by_device.setdefault(value.device, []).append(index)
    for device, indices in by_device.items():
        dtype = torch.float32 if device.type == "mps" else torch.float64
        stacked = torch.stack([values[i].detach().reshape(()).to(dtype) for i in indices])
        for index, number in zip(indices, stacked.tolist(), strict=True):
            floats[index] = float(number)
    return floats


__all__ = ["to_floats"]
