"""hookwise plugin ``evaluator``: evaluate the model on every validation and test pass.

``EvaluatorCallback`` is vis4d's ``EvaluatorCallback``; ``Evaluator`` is vis4d's evaluator
protocol; ``ClassificationEvaluator`` (``"accuracy"``) and ``RegressionEvaluator``
(``"regression"``) ship with it and need nothing beyond torch; ``TorchMetricsEvaluator``
(``"torchmetrics"``) runs any torchmetrics metric (the ``torchmetrics`` extra).
"""

from __future__ import annotations

from hookwise_evaluator.base import Evaluator
from hookwise_evaluator.callback import EvaluatorCallback
from hookwise_evaluator.classification import ClassificationEvaluator
from hookwise_evaluator.registry import EVALUATOR_GROUP, build_evaluator, known_names
from hookwise_evaluator.regression import RegressionEvaluator
from hookwise_evaluator.torchmetrics_evaluator import TorchMetricsEvaluator

__all__ = [
    "EVALUATOR_GROUP",
    "ClassificationEvaluator",
    "Evaluator",
    "EvaluatorCallback",
    "RegressionEvaluator",
    "TorchMetricsEvaluator",
    "build_evaluator",
    "known_names",
]
