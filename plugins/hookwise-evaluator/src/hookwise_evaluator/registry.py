"""Evaluators by name: the shipped ones, and those other distributions declare.

The ``evaluator`` parameter of :class:`~hookwise_evaluator.EvaluatorCallback` may be

- an evaluator object;
- a short name: ``"accuracy"`` (or ``"classification"``), ``"regression"``, or a name declared
  by an installed distribution in the entry-point group ``hookwise.evaluators``;
- an import path ``"package.module:Evaluator"`` (a class or factory is called without
  arguments);
- a mapping ``{target = NAME_OR_PATH, **params}``: the target is a short name or an import
  path, called with the other keys, e.g. ``{target = "accuracy", top_k = [1, 5]}``;
- a ``torchmetrics.Metric`` or ``MetricCollection`` (an object, an import path or a table,
  ``{target = "torchmetrics.classification:MulticlassAccuracy", num_classes = 10}``): it is
  wrapped in a :class:`~hookwise_evaluator.TorchMetricsEvaluator` (short name
  ``"torchmetrics"``; needs the ``torchmetrics`` extra).

With a name, an import path or a table, the plugin's other parameters that are not its own go
to the evaluator too: ``evaluator = "accuracy"`` beside ``top_k = [1, 5]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hookwise import targets
from hookwise.errors import ConfigError

from hookwise_evaluator.base import missing_methods
from hookwise_evaluator.torchmetrics_evaluator import (
    TorchMetricsEvaluator,
    is_torchmetrics_object,
    require_torchmetrics,
)

#: The entry-point group in which distributions declare evaluators by short name.
EVALUATOR_GROUP = "hookwise.evaluators"

#: The evaluators that ship with this plugin, by short name.
SHIPPED: dict[str, str] = {
    "accuracy": "hookwise_evaluator.classification:ClassificationEvaluator",
    "classification": "hookwise_evaluator.classification:ClassificationEvaluator",
    "regression": "hookwise_evaluator.regression:RegressionEvaluator",
    "torchmetrics": "hookwise_evaluator.torchmetrics_evaluator:TorchMetricsEvaluator",
}

#: What the ``evaluator`` parameter may name, and how each is built (hookwise.targets.build).
REGISTRY = targets.Registry(
    kind="evaluator",
    names=SHIPPED,
    group=EVALUATOR_GROUP,
    forms=(
        'a short name ("accuracy", "regression"), an import path "package.module:Evaluator", '
        'a table {target = "accuracy", top_k = [1, 5]}, an evaluator object, or a torchmetrics '
        'metric {target = "torchmetrics.classification:MulticlassAccuracy", num_classes = 10}'
    ),
    missing=lambda obj: [] if is_torchmetrics_object(obj) else missing_methods(obj),
    base="hookwise_evaluator.Evaluator",
)


def known_names() -> list[str]:
    """Every short name that :func:`build_evaluator` accepts."""
    return REGISTRY.known_names()


def build_evaluator(
    spec: Any,
    params: Mapping[str, Any] | None = None,
    *,
    where: str = "plugin 'evaluator'",
    plugin_params: Sequence[str] = (),
) -> Any:
    """Turn the ``evaluator`` parameter into an evaluator object (see the module docstring).

    The work is done by ``REGISTRY`` (a ``hookwise.targets.Registry``); a
    torchmetrics metric it builds is wrapped in a
    :class:`~hookwise_evaluator.TorchMetricsEvaluator`.

    :param spec: the ``evaluator`` parameter.
    :param params: further parameters for the evaluator a name or a table builds
        (``top_k=[1, 5]`` beside ``evaluator="accuracy"``).
    :param where: names the plugin in error messages.
    :param plugin_params: the plugin's own parameters, suggested when a parameter is unknown.
    :raises ConfigError: an unknown name (the message lists the known ones), an import path
        that does not resolve, parameters the evaluator does not take, or an object that lacks
        ``metrics``, ``reset``, ``process_batch`` or ``evaluate``.
    """
    try:
        built = REGISTRY.build(spec, params, where=where, plugin_params=plugin_params)
    except ConfigError:
        if _names_torchmetrics(spec):
            require_torchmetrics(where)  # a clearer error: the extra to install
        raise
    return TorchMetricsEvaluator(built) if is_torchmetrics_object(built) else built


def _names_torchmetrics(spec: Any) -> bool:
    target = spec.get(targets.TARGET_KEY) if isinstance(spec, Mapping) else spec
    return isinstance(target, str) and target.split(".")[0].split(":")[0] == "torchmetrics"
