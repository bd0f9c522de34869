"""Regression error: mean squared error, mean absolute error, root mean squared error."""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from hookwise_evaluator._common import counts_file_suffix, sum_gathered
from hookwise_evaluator.base import Evaluator, MetricLogs

REGRESSION = "regression"
ERRORS = ("mse", "mae", "rmse")


class RegressionEvaluator(Evaluator):
    """Errors of real-valued predictions; short name ``"regression"``.

    Sums squared and absolute errors on the device while the pass runs (in float64 where the
    device has it) and adds up the sums of every process at the end.

    Metric ``regression``, with one key per entry of ``errors``:

    - ``mse``: the mean of ``(prediction - target) ** 2`` over every element,
    - ``mae``: the mean of ``|prediction - target|``,
    - ``rmse``: the square root of ``mse``;

    and, with ``report_count``, ``count`` (the number of elements compared).

    :param errors: which errors to report, any of ``"mse"``, ``"mae"``, ``"rmse"``.
    :param report_count: add ``count`` to the metric.

    ``process_batch(prediction, target)``: tensors with the same number of elements per sample
    (``[B]`` and ``[B, 1]`` match). The default connector takes ``prediction`` from the model
    output's ``"preds"`` and ``target`` from the batch's ``"targets"``; give a ``test_connector``
    for other keys.

    Saved predictions (``save_predictions=True`` on the callback):
    ``regression/predictions.csv`` with ``sample,mse,mae`` (each sample's errors) for the
    latest pass.
    """

    default_connector: ClassVar[Mapping[str, Mapping[str, str]] | None] = {
        "prediction": {"pred": "preds"},
        "target": {"data": "targets"},
    }

    def __init__(
        self, errors: str | Sequence[str] = ("mse", "mae"), report_count: bool = False
    ) -> None:
        chosen = [errors] if isinstance(errors, str) else list(errors)
        unknown = [e for e in chosen if e not in ERRORS]
        if not chosen or unknown:
            raise ValueError(f"errors must be a non-empty list of {list(ERRORS)}, got {errors!r}")
        self.errors: tuple[str, ...] = tuple(dict.fromkeys(chosen))
        self.report_count = bool(report_count)
        self.reset()

    @property
    def metrics(self) -> list[str]:
        """``["regression"]``."""
        return [REGRESSION]

    def reset(self) -> None:
        """Clear the sums."""
        self._sums: Tensor | None = None  # [squared, absolute, count]
        self._last: Tensor | None = None  # [B, 2] per-sample (mse, mae)
        self._saved_rows = 0
        self._gathered: dict[str, Tensor] | None = None

    def process_batch(self, prediction: Tensor, target: Tensor) -> None:
        """Add the batch's squared and absolute errors to the sums (no sync)."""
        if not isinstance(target, Tensor):
            target = torch.as_tensor(target)
        if prediction.shape[0] != target.shape[0] or (prediction.numel() != target.numel()):
            raise ValueError(
                f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} do not "
                f"match: they need the same batch size and the same number of values per sample"
            )
        device = prediction.device
        dtype = torch.float32 if device.type == "mps" else torch.float64
        diff = prediction.detach().reshape(prediction.shape[0], -1).to(
            dtype
        ) - target.detach().reshape(target.shape[0], -1).to(device=device, dtype=dtype)
        squared, absolute = diff.square(), diff.abs()
        sums = torch.stack(
            [squared.sum(), absolute.sum(), torch.tensor(diff.numel(), dtype=dtype, device=device)]
        )
        self._sums = sums if self._sums is None else self._sums + sums
        self._last = torch.stack([squared.mean(dim=1), absolute.mean(dim=1)], dim=1)

    def save_batch(self, metric: str, output_dir: str) -> None:
        """Append each sample's ``mse`` and ``mae`` to ``predictions.csv``."""
        if metric != REGRESSION or self._last is None:
            return
        path = Path(output_dir) / f"predictions{counts_file_suffix()}.csv"
        with path.open("a" if self._saved_rows else "w", newline="") as handle:
            writer = csv.writer(handle)
            if not self._saved_rows:
                writer.writerow(["sample", "mse", "mae"])
            for mse, mae in self._last.tolist():
                writer.writerow([self._saved_rows, f"{mse:.8g}", f"{mae:.8g}"])
                self._saved_rows += 1

    def gather(self, gather_func: Callable[[Any], list[Any] | None]) -> None:
        """Add up the sums of every process."""
        part = {"sums": self._sums.cpu()} if self._sums is not None else {}
        self._gathered = sum_gathered(gather_func(part), part)

    def evaluate(self, metric: str) -> tuple[MetricLogs, str]:
        """``regression`` -> ``{"mse": ..., "mae": ..., "rmse": ...}`` (the chosen errors)."""
        if metric != REGRESSION:
            raise ValueError(f"RegressionEvaluator has no metric {metric!r}; it has {self.metrics}")
        if self._gathered is None:
            self.gather(lambda part: [part])
        assert self._gathered is not None
        if "sums" not in self._gathered or float(self._gathered["sums"][2]) == 0:
            raise ValueError(
                "RegressionEvaluator processed no values in this pass: the evaluation loader is "
                "empty, or no batch reached the evaluator"
            )
        squared, absolute, count = self._gathered["sums"].tolist()
        values = {"mse": squared / count, "mae": absolute / count, "rmse": (squared / count) ** 0.5}
        logs: MetricLogs = {name: values[name] for name in self.errors}
        if self.report_count:
            logs["count"] = int(count)
        text = ", ".join(f"{name}: {value:.6g}" for name, value in logs.items())
        return logs, text

    def __repr__(self) -> str:
        return f"RegressionEvaluator(errors={list(self.errors)}, report_count={self.report_count})"
