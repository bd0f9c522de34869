"""hookwise plugin ``mlflow``: track the run in MLflow.

``MLflowCallback`` logs the run's parameters, every logged scalar with its step, artifacts
(the run folder's config, metrics file and curves; checkpoints when asked) and the run's
status, into an MLflow tracking server, database or folder. A resumed fit continues its run.
"""

from __future__ import annotations

from hookwise_mlflow._callback import DEFAULT_ARTIFACTS, MLflowCallback
from hookwise_mlflow._params import run_params

__all__ = ["DEFAULT_ARTIFACTS", "MLflowCallback", "run_params"]
