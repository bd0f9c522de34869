"""Helpers the shipped evaluators share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor


def counts_file_suffix() -> str:
    """``""`` in one process, ``".rank<r>"`` in a distributed run (each rank writes its own
    prediction file, so no two processes write the same file)."""
    from hookwise.distributed import get_rank, is_distributed

    return f".rank{get_rank()}" if is_distributed() else ""


def sum_gathered(gathered: list[Any] | None, own: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Sum per-process count tensors key by key (1-d tensors of different lengths are padded).

    ``gathered`` is what the gather function returned: every process's part, or ``None`` on a
    rank that receives nothing (vis4d's gather functions give the list to rank 0 only), in which
    case this process's own part is used.
    """
    parts = list(gathered) if gathered is not None else [own]
    total: dict[str, Tensor] = {}
    for part in parts:
        for key, value in (part or {}).items():
            if key not in total:
                total[key] = value.clone()
                continue
            current = total[key]
            if current.dim() == 1 and current.shape != value.shape:
                size = max(current.shape[0], value.shape[0])
                current = torch.nn.functional.pad(current, (0, size - current.shape[0]))
                value = torch.nn.functional.pad(value, (0, size - value.shape[0]))
            total[key] = current + value
    return total
