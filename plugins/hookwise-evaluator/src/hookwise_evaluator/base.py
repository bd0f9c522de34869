"""The evaluator protocol (vis4d's ``vis4d.eval.base.Evaluator``).

An evaluator collects what it needs from every evaluation batch and turns it into metrics at the
end of the pass. :class:`~hookwise_evaluator.EvaluatorCallback` drives it in this order, once
per validation or test pass::

    reset()                                   # at the start of the pass
    process_batch(**connector(outputs, batch))  # every batch, on every process
    save_batch(metric, folder)                # every batch, when saving predictions
    gather(all_gather_object)                 # at the end: collect every process's part
    process()                                 # rank 0
    save(metric, folder)                      # rank 0, when saving predictions
    evaluate(metric) -> (logs, text)          # rank 0, for every metric to evaluate
    reset()

Subclass :class:`Evaluator`, or write any class with ``metrics``, ``reset``, ``process_batch``
and ``evaluate`` (the other methods are optional).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

#: Metric values by key, as ``evaluate`` returns them: numbers or 0-d tensors.
MetricLogs = dict[str, Any]

#: The methods an evaluator must have; the others (``gather``, ``process``, ``save_batch``,
#: ``save``) default to doing nothing.
REQUIRED = ("metrics", "reset", "process_batch", "evaluate")


class Evaluator:
    """Base class of evaluators; every method but the four abstract ones does nothing.

    ``default_connector`` (a class attribute, optional) is the test connector
    :class:`~hookwise_evaluator.EvaluatorCallback` uses when none is given, as a mapping
    ``{argument: {"pred": key} | {"data": key}}`` naming the arguments of
    :meth:`process_batch`.
    """

    #: The test connector used when the callback is given none (``None``: it must be given).
    default_connector: ClassVar[Mapping[str, Mapping[str, str]] | None] = None

    @property
    def metrics(self) -> list[str]:
        """The names of the metrics this evaluator can compute."""
        raise NotImplementedError

    def gather(self, gather_func: Callable[[Any], list[Any] | None]) -> None:
        """Collect the state of every process onto this one.

        :param gather_func: called with this process's part, returns every process's part in
            rank order (hookwise's ``all_gather_object`` returns it on every rank).
        """

    def reset(self) -> None:
        """Forget everything processed so far (called before and after every pass)."""
        raise NotImplementedError

    def process_batch(self, *args: Any, **kwargs: Any) -> None:
        """Take one batch's predictions and ground truth (the connector's keys are the
        keyword arguments)."""
        raise NotImplementedError

    def process(self) -> None:
        """Prepare the gathered data for :meth:`evaluate` (once per pass, on rank 0)."""

    def evaluate(self, metric: str) -> tuple[MetricLogs, str]:
        """Compute ``metric``; return ``(logs, text)``: values by key (logged as
        ``<prefix>/<metric>/<key>``) and a human-readable summary."""
        raise NotImplementedError

    def save_batch(self, metric: str, output_dir: str) -> None:
        """Write this batch's predictions for ``metric`` into ``output_dir`` (optional)."""

    def save(self, metric: str, output_dir: str) -> None:
        """Write what the pass produced for ``metric`` into ``output_dir`` (optional)."""


def missing_methods(obj: Any) -> list[str]:
    """The required evaluator members ``obj`` lacks."""
    return [name for name in REQUIRED if not hasattr(obj, name)]
