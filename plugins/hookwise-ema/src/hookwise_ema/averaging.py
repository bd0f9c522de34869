"""The moving-average arithmetic shared by the adapters and the plugin."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor


def check_decay(decay: float, owner: str) -> float:
    """Return ``decay`` as a float, or raise a ``ValueError`` naming ``owner``."""
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= decay <= 1.0:
        raise ValueError(f"{owner}: decay must be a number in [0, 1], got {decay!r}")
    return float(decay)


def warmup_decay(decay: float, steps: int, warmup_steps: int) -> float:
    """vis4d's warmed-up decay: ``decay * (1 - exp(-(1 + steps) / warmup_steps))``."""
    return decay * (1.0 - math.exp(-float(1 + steps) / warmup_steps))


@torch.no_grad()
def ema_update_(ema: Mapping[str, Tensor], current: Mapping[str, Tensor], decay: float) -> None:
    """``ema = decay * ema + (1 - decay) * current``, in place, entry by entry (by name).

    Floating-point entries are averaged; other entries (integer buffers such as BatchNorm's
    ``num_batches_tracked``) are copied, since an average of counters means nothing. Values
    are moved to the EMA's device.

    :raises KeyError: ``current`` lacks an entry of ``ema`` (the message names it).
    """
    averaged: list[Tensor] = []
    incoming: list[Tensor] = []
    for name, target in ema.items():
        try:
            value = current[name]
        except KeyError:
            raise KeyError(
                f"the model has no entry {name!r} that the EMA weights have; was the model "
                f"changed after the EMA was made?"
            ) from None
        value = value.detach()
        if value.device != target.device:
            value = value.to(target.device, non_blocking=True)
        if target.is_floating_point():
            averaged.append(target)
            incoming.append(value.to(target.dtype))
        else:
            target.copy_(value)
    if averaged:
        torch._foreach_mul_(averaged, decay)
        torch._foreach_add_(averaged, incoming, alpha=1.0 - decay)


@torch.no_grad()
def copy_(target: Mapping[str, Tensor], source: Mapping[str, Tensor]) -> None:
    """Copy ``source`` into ``target`` entry by entry (by name), in place."""
    for name, tensor in target.items():
        tensor.copy_(source[name])
