"""torchmetrics in the evaluator: any ``torchmetrics.Metric`` or ``MetricCollection``.

Name a metric by import path where the plugin takes an evaluator, with its parameters::

    [plugins.evaluator]
    evaluator = { target = "torchmetrics.classification:MulticlassAccuracy", num_classes = 10 }

or several under one name (short name ``"torchmetrics"``)::

    [plugins.evaluator]
    evaluator = { target = "torchmetrics", name = "accuracy", metric = {
        top1 = { target = "torchmetrics.classification:MulticlassAccuracy", num_classes = 10 },
        top3 = { target = "torchmetrics.classification:MulticlassAccuracy", num_classes = 10,
                 top_k = 3 } } }

The metric accumulates on the device of the predictions (no host synchronisation per batch);
at the end of a pass every rank calls ``compute()``, in which torchmetrics itself synchronises
the states of every process, and the results are logged as ``<name>/<key>``.
``torchmetrics`` is an optional extra: ``pip install 'hookwise-evaluator[torchmetrics]'``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from hookwise import targets
from hookwise.errors import ConfigError

from hookwise_evaluator.base import Evaluator, MetricLogs

#: The name the results are logged under when none is given: ``torchmetrics/<key>``.
DEFAULT_NAME = "torchmetrics"
#: The command that installs torchmetrics for the evaluator.
INSTALL = "pip install 'hookwise-evaluator[torchmetrics]'"


def is_torchmetrics_object(obj: Any) -> bool:
    """Whether ``obj`` is a ``torchmetrics.Metric`` or ``MetricCollection``.

    Never imports torchmetrics: an object of its classes exists only once it was imported.
    """
    module = sys.modules.get("torchmetrics")
    if module is None:
        return False
    return isinstance(obj, (module.Metric, module.MetricCollection))


def require_torchmetrics(where: str) -> None:
    """Fail with the install command when torchmetrics is not installed."""
    if importlib.util.find_spec("torchmetrics") is None:
        raise ConfigError(
            f"{where}: torchmetrics is not installed. Install the evaluator's extra: {INSTALL}"
        )


class TorchMetricsEvaluator(Evaluator):
    """Runs a ``torchmetrics.Metric`` (or ``MetricCollection``) as an evaluator.

    Short name ``"torchmetrics"``; a metric named directly by import path where the plugin
    takes an evaluator (``evaluator = {target = "torchmetrics.classification:MulticlassAccuracy",
    num_classes = 10}``) is wrapped in one automatically, with the default ``name``.

    Keys are torchmetrics' own names for the results, as a ``MetricCollection`` gives them: the
    class name of a single metric (``MulticlassAccuracy``), the keys of a collection (with its
    ``prefix`` and ``postfix``), the keys of a metric that returns a dict. A result that is a
    1-d tensor (``average=None``: one value per class) gives one key per element,
    ``<key>/<index>``. So the logged names are ``val/<name>/<key>``, e.g.
    ``val/torchmetrics/MulticlassAccuracy``.

    The metric's states follow the predictions to their device at the first batch of a pass.
    At the end of the pass every rank computes (``gather``), and torchmetrics synchronises the
    states of all processes inside ``compute()``; rank 0 reports the values.

    :param metric: a ``torchmetrics.Metric`` or ``MetricCollection``; a table
        ``{target = "package.module:Metric", ...params}``; a table of named members
        ``{top1 = {target = ...}, top3 = {target = ...}}`` or a list of members (both become a
        ``MetricCollection``).
    :param name: the metric name the results are logged under (``<name>/<key>``).

    ``process_batch(preds, target, **kwargs)`` calls ``update(preds, target, **kwargs)``. The
    default connector takes ``preds`` from the model output's ``"logits"`` and ``target`` from
    the batch's ``"labels"``. Saving predictions is not supported (nothing is written).
    """

    default_connector: ClassVar[Mapping[str, Mapping[str, str]] | None] = {
        "preds": {"pred": "logits"},
        "target": {"data": "labels"},
    }

    def __init__(self, metric: Any = None, name: str = DEFAULT_NAME) -> None:
        where = "evaluator 'torchmetrics'"
        require_torchmetrics(where)
        if not isinstance(name, str) or not name or "/" in name:
            raise ConfigError(f"{where}: name must be a non-empty string without '/', got {name!r}")
        self.name = name
        self.collection = _collection(metric, where)
        self._device: torch.device | None = None
        self._results: dict[str, Any] | None = None

    @property
    def metrics(self) -> list[str]:
        """``[name]``: one metric, whose keys are the torchmetrics results."""
        return [self.name]

    def reset(self) -> None:
        """Reset the torchmetrics states (they stay on their device)."""
        self.collection.reset()
        self._results = None

    def process_batch(self, preds: Any, target: Any, **kwargs: Any) -> None:
        """``update(preds, target, **kwargs)`` on the device of ``preds``."""
        device = preds.device if isinstance(preds, torch.Tensor) else None
        if device is not None and device != self._device:
            self.collection.to(device)
            self._device = device
        self.collection.update(preds, target, **kwargs)

    def gather(self, gather_func: Callable[[Any], Any]) -> None:
        """Compute on every rank: torchmetrics synchronises the processes' states itself
        (``gather_func`` is not needed)."""
        self._results = self.collection.compute()

    def evaluate(self, metric: str) -> tuple[MetricLogs, str]:
        """The results as ``{key: value}`` and a short summary."""
        if metric != self.name:
            raise ValueError(f"TorchMetricsEvaluator has the metric {self.name!r}, not {metric!r}")
        results = self._results if self._results is not None else self.collection.compute()
        values = _flatten(results)
        text = ", ".join(f"{key}: {value:.4f}" for key, value in values.items())
        return dict(values), text

    def __repr__(self) -> str:
        members = ", ".join(f"{k}={type(m).__name__}" for k, m in self.collection.items())
        return f"TorchMetricsEvaluator(name={self.name!r}, metric=[{members}])"


def _collection(metric: Any, where: str) -> Any:
    """A ``MetricCollection`` holding what ``metric`` describes."""
    from torchmetrics import Metric, MetricCollection

    if metric is None:
        raise ConfigError(
            f"{where}: give metric, e.g. metric = {{target = "
            f"'torchmetrics.classification:MulticlassAccuracy', num_classes = 10}}"
        )
    if isinstance(metric, MetricCollection):
        return metric
    if targets.is_target(metric):
        metric = targets.instantiate(metric, where=f"{where}.metric")
    elif isinstance(metric, Mapping):
        metric = {
            str(key): targets.instantiate(value, where=f"{where}.metric.{key}")
            for key, value in metric.items()
        }
    elif isinstance(metric, Sequence) and not isinstance(metric, str):
        metric = [
            targets.instantiate(value, where=f"{where}.metric[{index}]")
            for index, value in enumerate(metric)
        ]
    members = list(metric.values()) if isinstance(metric, Mapping) else metric
    members = members if isinstance(members, list) else [members]
    wrong = [m for m in members if not isinstance(m, (Metric, MetricCollection))]
    if wrong or not members:
        raise ConfigError(
            f"{where}: {wrong[0] if wrong else metric!r} is not a torchmetrics Metric or "
            f"MetricCollection; give one, a table {{target = 'package.module:Metric', ...}}, "
            f"or a table or list of them"
        )
    return MetricCollection(metric)


def _flatten(results: Mapping[str, Any]) -> dict[str, Any]:
    """torchmetrics results as scalar values: 1-d tensors give ``<key>/<index>``."""
    values: dict[str, Any] = {}
    for key, value in results.items():
        if isinstance(value, torch.Tensor) and value.dim() == 1:
            for index, item in enumerate(value.detach().cpu().tolist()):
                values[f"{key}/{index}"] = float(item)
        elif isinstance(value, torch.Tensor) and value.numel() == 1:
            values[key] = float(value.detach().cpu().reshape(()).item())
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            values[key] = float(value)
        else:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise TypeError(
                f"torchmetrics result {key!r} is {shape}; only numbers, 0-d and 1-d tensors can "
                f"be logged (reduce it, e.g. average='macro', or choose another metric)"
            )
    return values
