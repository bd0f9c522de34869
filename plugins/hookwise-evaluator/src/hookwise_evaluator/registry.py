"""Evaluators by name: the shipped ones, and those other distributions declare.

The ``evaluator`` parameter of :class:`~hookwise_evaluator.EvaluatorCallback` may be

- an evaluator object;
- a short name: ``"accuracy"`` (or ``"classification"``), ``"regression"``, or a name declared
  by an installed distribution in the entry-point group ``hookwise.evaluators``;
- an import path ``"package.module:Evaluator"`` (a class or factory is called without
  arguments);
- a mapping ``{target = NAME_OR_PATH, **params}``: the target is a short name or an import
  path, called with the other keys, e.g. ``{target = "accuracy", top_k = [1, 5]}``.

With a name, an import path or a table, the plugin's other parameters that are not its own go
to the evaluator too: ``evaluator = "accuracy"`` beside ``top_k = [1, 5]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hookwise import targets

from hookwise_evaluator.base import missing_methods

#: The entry-point group in which distributions declare evaluators by short name.
EVALUATOR_GROUP = "hookwise.evaluators"

#: The evaluators that ship with this plugin, by short name.
SHIPPED: dict[str, str] = {
    "accuracy": "hookwise_evaluator.classification:ClassificationEvaluator",
    "classification": "hookwise_evaluator.classification:ClassificationEvaluator",
    "regression": "hookwise_evaluator.regression:RegressionEvaluator",
}

_FORMS = (
    'a short name ("accuracy", "regression"), an import path "package.module:Evaluator", '
    'a table {target = "accuracy", top_k = [1, 5]}, or an evaluator object'
)


def known_names() -> list[str]:
    """Every short name that :func:`build_evaluator` accepts."""
    return targets.known_names(SHIPPED, EVALUATOR_GROUP)


def build_evaluator(
    spec: Any,
    params: Mapping[str, Any] | None = None,
    *,
    where: str = "plugin 'evaluator'",
    plugin_params: Sequence[str] = (),
) -> Any:
    """Turn the ``evaluator`` parameter into an evaluator object (see the module docstring).

    The work is done by :func:`hookwise.targets.build`.

    :param spec: the ``evaluator`` parameter.
    :param params: further parameters for the evaluator a name or a table builds
        (``top_k=[1, 5]`` beside ``evaluator="accuracy"``).
    :param where: names the plugin in error messages.
    :param plugin_params: the plugin's own parameters, suggested when a parameter is unknown.
    :raises ConfigError: an unknown name (the message lists the known ones), an import path
        that does not resolve, parameters the evaluator does not take, or an object that lacks
        ``metrics``, ``reset``, ``process_batch`` or ``evaluate``.
    """
    return targets.build(
        spec,
        params,
        names=SHIPPED,
        group=EVALUATOR_GROUP,
        where=where,
        kind="evaluator",
        forms=_FORMS,
        missing=missing_methods,
        base="hookwise_evaluator.Evaluator",
        plugin_params=plugin_params,
    )
