"""``EvaluatorCallback``: runs an evaluator over every validation and test pass."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from hookwise import Callback, TrainerState
from hookwise.callback import default_output_folder
from hookwise.errors import ConfigError
from hookwise.hookspecs import MetricLogs
from hookwise.paramcheck import keyword_parameters
from hookwise.values import as_scalar
from torch import nn

from hookwise_evaluator.registry import build_evaluator

logger = logging.getLogger("hookwise.evaluator")


_OWN_PARAMS = (
    "evaluator",
    "metrics_to_eval",
    "save_predictions",
    "save_prefix",
    "epoch_based",
    "train_connector",
    "test_connector",
)


class EvaluatorCallback(Callback):
    """Evaluate the model on every evaluation pass; vis4d's ``EvaluatorCallback``.

    The evaluator sees every batch of the pass (``process_batch`` with the test connector's
    values), the parts of every process are gathered at the end, and rank 0 computes each
    metric. The results come back from ``on_test_epoch_end`` as ``<metric>/<key>``, so the
    trainer logs them as ``val/<metric>/<key>`` during fit (``test/...`` for a standalone
    test): ``val/accuracy/top1`` for the ``accuracy`` evaluator. Every rank returns the same
    values.

    Enable it by name with a shipped evaluator::

        hookwise fit -p evaluator:evaluator=accuracy
        hookwise fit -p 'evaluator:evaluator=accuracy,top_k=[1,5]'

    or in a config::

        [plugins.evaluator]
        evaluator = { target = "regression", errors = ["mse", "mae"] }
        test_connector = { prediction = { pred = "preds" }, target = { data = "targets" } }

    :param evaluator: the evaluator: a short name (``"accuracy"``, ``"classification"``,
        ``"regression"``, ``"torchmetrics"``, or one declared in the ``hookwise.evaluators``
        entry-point group), an import path ``"package.module:Evaluator"``, a table
        ``{target = NAME_OR_PATH, **params}``, an object with vis4d's evaluator methods
        (``metrics``, ``reset``, ``process_batch``, ``evaluate``; ``gather``, ``process``,
        ``save_batch``, ``save`` optional), or a ``torchmetrics.Metric`` or
        ``MetricCollection`` (an object, an import path or a table such as ``{target =
        "torchmetrics.classification:MulticlassAccuracy", num_classes = 10}``; needs the
        ``torchmetrics`` extra), logged as ``torchmetrics/<class name>``
        (:class:`~hookwise_evaluator.TorchMetricsEvaluator`).
    :param metrics_to_eval: the metrics to compute, a subset of ``evaluator.metrics``
        (``None``: all of them). An empty list is an error (vis4d silently used all).
    :param save_predictions: also have the evaluator write its predictions
        (``save_batch`` every batch, ``save`` at the end) into
        ``{save_prefix}/eval/<metric>/``.
    :param save_prefix: the folder under which ``eval/`` is written; defaults to the trainer's
        ``output_dir``.
    :param epoch_based: accepted for vis4d compatibility; evaluation follows the trainer's
        validation schedule either way.
    :param train_connector: accepted for vis4d compatibility (unused).
    :param test_connector: selects ``process_batch``'s arguments from the model output and the
        batch, e.g. ``{prediction = {pred = "logits"}, groundtruth = {data = "labels"}}``.
        Defaults to the evaluator's ``default_connector`` (the shipped ``accuracy`` evaluator
        reads the model output's ``"logits"`` and the batch's ``"labels"``).

    :param evaluator_params: any other parameter goes to the evaluator that ``evaluator``
        names (``evaluator = "accuracy"`` beside ``top_k = [1, 5]``); an unknown one is an
        error listing what the evaluator and the plugin accept.

    Shipped evaluators (``hookwise_evaluator.ClassificationEvaluator`` and
    ``RegressionEvaluator``) document their parameters, metrics and default connectors.

    vis4d faults fixed: the evaluator is also reset when a pass starts (an interrupted pass
    never leaks into the next), ``output_dir`` always exists (``None`` when not saving),
    predictions have a default folder, a rank-0 evaluation error reaches every rank instead of
    leaving them waiting, and connector keys that ``process_batch`` does not take are reported
    when the plugin is built.
    """

    #: It reads the outputs and batches, never the model's parameters.
    supports_fsdp = True

    #: Parameters other than the plugin's own go to the evaluator (checked there).
    accepts_extra_params: ClassVar[bool] = True

    def __init__(
        self,
        evaluator: Any = None,
        metrics_to_eval: Sequence[str] | str | None = None,
        save_predictions: bool = False,
        save_prefix: str | os.PathLike[str] | None = None,
        epoch_based: bool = True,
        train_connector: Any = None,
        test_connector: Any = None,
        **evaluator_params: Any,
    ) -> None:
        built = build_evaluator(evaluator, evaluator_params, plugin_params=_OWN_PARAMS)
        self.uses_default_connector = test_connector is None
        if test_connector is None:
            test_connector = getattr(built, "default_connector", None)
        super().__init__(epoch_based, train_connector, test_connector)
        self.evaluator = built
        available = list(built.metrics)
        if metrics_to_eval is None:
            chosen = available
        else:
            chosen = (
                [metrics_to_eval] if isinstance(metrics_to_eval, str) else list(metrics_to_eval)
            )
            unknown = [m for m in chosen if m not in available]
            if not chosen or unknown:
                raise ConfigError(
                    f"plugin 'evaluator': metrics_to_eval={metrics_to_eval!r} must name some of "
                    f"the evaluator's metrics {available} (or be left out for all of them)"
                )
        self.metrics_to_eval: list[str] = chosen
        self.save_predictions = bool(save_predictions)
        self.save_prefix = Path(save_prefix) if save_prefix is not None else None
        #: Where predictions go (``{save_prefix}/eval``); ``None`` when not saving, or until
        #: the first pass when it defaults to the trainer's folder.
        self.output_dir: Path | None = (
            self.save_prefix / "eval" if self.save_predictions and self.save_prefix else None
        )
        #: The results of the latest pass (``{"<metric>/<key>": value}``).
        self.last_results: dict[str, float] = {}
        self._check_connector()

    # -- checks --------------------------------------------------------------------------------

    def _check_connector(self) -> None:
        """Fail early, naming the keys, when the connector does not fit ``process_batch``."""
        if self.test_connector is None:
            raise ConfigError(
                f"plugin 'evaluator': {type(self.evaluator).__name__} has no default connector; "
                f"give test_connector, e.g. test_connector = {{prediction = {{pred = 'logits'}}, "
                f"groundtruth = {{data = 'labels'}}}} naming process_batch's arguments"
            )
        mapping = getattr(self.test_connector, "key_mapping", None)
        found = keyword_parameters(self.evaluator.process_batch)
        if mapping is None or found is None or found.var_keyword:
            return
        extra = [key for key in mapping if key not in found.names]
        missing = [name for name in found.required if name not in mapping]
        if extra or missing:
            origin = (
                "its default test connector" if self.uses_default_connector else "test_connector"
            )
            raise ConfigError(
                f"plugin 'evaluator': {origin} gives {list(mapping)}, but "
                f"{type(self.evaluator).__name__}.process_batch takes {found.names}"
                + (f"; unknown: {extra}" if extra else "")
                + (f"; missing: {missing}" if missing else "")
                + ". Set test_connector with one entry per argument, e.g. "
                + "{"
                + ", ".join(f"{n} = {{pred = '...'}}" for n in found.required[:1])
                + "}"
            )

    # -- hooks ---------------------------------------------------------------------------------

    def setup(self) -> None:
        """Reset the evaluator."""
        self.evaluator.reset()

    def on_test_epoch_start(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Reset the evaluator and, when saving, make the prediction folders."""
        self.evaluator.reset()
        if self.save_predictions and not trainer_state.get("sanity_check"):
            folder = self._prediction_root(trainer_state)
            for metric in self.metrics_to_eval:
                (folder / metric).mkdir(parents=True, exist_ok=True)

    def on_test_batch_end(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Give the batch to ``process_batch`` (and ``save_batch`` when saving)."""
        self.evaluator.process_batch(**self.get_test_callback_inputs(outputs, batch))
        if self.save_predictions and not trainer_state.get("sanity_check"):
            folder = self._prediction_root(trainer_state)
            save_batch = getattr(self.evaluator, "save_batch", None)
            if save_batch is not None:
                for metric in self.metrics_to_eval:
                    save_batch(metric, str(folder / metric))

    def on_test_epoch_end(self, trainer_state: TrainerState, model: nn.Module) -> MetricLogs | None:
        """Gather every process's part, evaluate on rank 0, share the results, reset."""
        from hookwise.distributed import all_gather_object, broadcast, get_rank, is_distributed

        gather = getattr(self.evaluator, "gather", None)
        if gather is not None:
            gather(all_gather_object)
        if is_distributed():
            error: Exception | None = None
            outcome: tuple[str, Any] = ("pending", None)
            if get_rank() == 0:
                try:
                    outcome = ("ok", self.evaluate())
                except Exception as exc:
                    error = exc
                    outcome = ("error", f"{type(exc).__name__}: {exc}")
            outcome = broadcast(outcome)  # every rank learns the results, or the failure
            if error is not None:
                raise error
            if outcome[0] == "error":
                raise RuntimeError(
                    f"evaluator {type(self.evaluator).__name__} failed on rank 0: {outcome[1]}"
                )
            results: dict[str, float] = outcome[1]
        else:
            results = self.evaluate()
        self.evaluator.reset()
        self.last_results = dict(results)
        return dict(results)

    # -- evaluation ----------------------------------------------------------------------------

    def evaluate(self) -> dict[str, float]:
        """Process the gathered data and compute every metric in ``metrics_to_eval``.

        Returns ``{"<metric>/<key>": value}`` and logs each value and the evaluator's summary.
        """
        name = type(self.evaluator).__name__
        # Details at DEBUG (hookwise --debug): the logging plugin prints one line per pass.
        logger.debug("Running evaluator %s...", name)
        process = getattr(self.evaluator, "process", None)
        if process is not None:
            process()
        results: dict[str, float] = {}
        for metric in self.metrics_to_eval:
            if self.save_predictions and self.output_dir is not None:
                save = getattr(self.evaluator, "save", None)
                if save is not None:
                    save(metric, str(self.output_dir / metric))
            answer = self.evaluator.evaluate(metric)
            if not (
                isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[0], Mapping)
            ):
                raise TypeError(
                    f"{name}.evaluate({metric!r}) returned {type(answer).__name__}; an evaluator "
                    f"returns a pair (dict of values, text)"
                )
            values, text = answer
            for key, value in values.items():
                results[f"{metric}/{key}"] = _number(value, name, metric, key)
                logger.debug("%s/%s: %.4f", metric, key, results[f"{metric}/{key}"])
            if text:
                logger.debug("Showing results for metric: %s\n%s", metric, text)
        return results

    def _prediction_root(self, trainer_state: Mapping[str, Any]) -> Path:
        if self.output_dir is None:
            self.output_dir = default_output_folder(
                trainer_state, "eval", plugin="evaluator", setting="save_predictions=True"
            )
        return self.output_dir

    def __repr__(self) -> str:
        return (
            f"EvaluatorCallback(evaluator={self.evaluator!r}, "
            f"metrics_to_eval={self.metrics_to_eval!r}, save_predictions={self.save_predictions})"
        )


def _number(value: Any, evaluator: str, metric: str, key: str) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.detach().cpu().reshape(()).item())
    scalar = as_scalar(value)  # numbers, numpy scalars and one-element arrays
    if scalar is not None:
        return float(scalar)
    raise TypeError(
        f"{evaluator}.evaluate({metric!r}) gave {key!r} = {value!r}; metric values must be "
        f"numbers or 0-d tensors"
    )
