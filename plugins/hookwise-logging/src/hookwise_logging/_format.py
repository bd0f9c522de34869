"""vis4d's progress line: ``Epoch 1: 50/200, ETA: 0:01:02, 12.34it/s, loss: 0.6931, ...``."""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from typing import Any

import torch


def format_value(value: Any) -> str:
    """A metric value as vis4d prints it: ``1.2346``, ``1.000e-04`` below 1e-3, else ``str``."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = float(value)
    if isinstance(value, float):
        if math.isfinite(value) and abs(value) < 1e-3:
            return f"{value:.3e}"
        return f"{value:.4f}"
    return f"{value}"


def format_metrics(metrics: Mapping[str, Any]) -> list[str]:
    """``name: value`` items; the name is the last ``/`` part, and ``loss`` comes first."""
    items = [(key.split("/")[-1], value) for key, value in metrics.items()]
    items.sort(key=lambda item: item[0] != "loss")  # stable: only moves "loss" to the front
    return [f"{name}: {format_value(value)}" for name, value in items]


def format_eta(seconds: float) -> str:
    """``h:mm:ss``, or ``---`` when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "---"
    return str(datetime.timedelta(seconds=int(seconds)))


def format_rate(seconds_per_iter: float) -> str:
    """``12.34it/s``, or ``2.50s/it`` when an iteration takes more than a second."""
    if seconds_per_iter > 1.0:
        return f"{seconds_per_iter:.2f}s/it"
    if seconds_per_iter <= 0.0:
        return "---it/s"
    return f"{1.0 / seconds_per_iter:.2f}it/s"


def compose_log_str(
    prefix: str,
    cur_iter: int,
    total_iters: int,
    elapsed: float,
    iters_timed: int,
    metrics: Mapping[str, Any] | None = None,
) -> str:
    """The progress line.

    :param prefix: ``"Epoch 3"``, ``"Iter"``, ``"Testing"``, ``"Validation"``.
    :param cur_iter: the current iteration (1-based).
    :param total_iters: the number of iterations, -1 when unknown (the ETA is then ``---``).
    :param elapsed: seconds the timer counted.
    :param iters_timed: iterations done in ``elapsed`` (differs from ``cur_iter`` after a
        resume in step mode).
    :param metrics: values to append.
    """
    per_iter = elapsed / iters_timed if iters_timed > 0 else 0.0
    eta = per_iter * (total_iters - cur_iter) if total_iters >= 0 else math.inf
    line = f"{prefix}: {cur_iter}/{total_iters}, ETA: {format_eta(eta)}, {format_rate(per_iter)}"
    if metrics:
        line += ", " + ", ".join(format_metrics(metrics))
    return line
