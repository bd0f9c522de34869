"""One MLflow run: find or create the experiment, start or continue the run, and the requests
(parameters, tags, artifacts, status) the sender makes for it."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hookwise.errors import HookwiseError

from hookwise_mlflow._sender import Job
from hookwise_mlflow._values import Point, safe_key

logger = logging.getLogger("hookwise.mlflow")

#: MLflow's limit of parameters or tags in one request.
MAX_PARAMS_PER_BATCH = 100
#: MLflow's longest tag value.
MAX_TAG_LENGTH = 8000
#: The run statuses this plugin sets: hookwise's name -> MLflow's ``RunStatus``.
STATUSES = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
#: The tag that holds hookwise's status of the run (``running`` while it trains).
STATUS_TAG = "hookwise.status"


def resolve_uri(tracking_uri: str | None) -> str:
    """The tracking URI: the parameter, else MLflow's own (``MLFLOW_TRACKING_URI``, else its
    default)."""
    if tracking_uri:
        return tracking_uri
    import mlflow

    return str(mlflow.get_tracking_uri())


def client_for(uri: str) -> Any:
    """An ``MlflowClient`` for ``uri``, or an error that names the URI and the fix."""
    from mlflow.tracking import MlflowClient

    try:
        return MlflowClient(uri)
    except Exception as exc:
        raise HookwiseError(
            f"mlflow: cannot use the tracking URI {uri!r}: {type(exc).__name__}: {exc}. Give "
            f"tracking_uri (or MLFLOW_TRACKING_URI) as a server (http://host:port), a database "
            f"(sqlite:///path/mlflow.db, needs the full 'mlflow' package) or a folder "
            f"(file:/path, with MLFLOW_ALLOW_FILE_STORE=true)"
        ) from exc


@dataclass
class RunRef:
    """The run the plugin logs into."""

    client: Any
    uri: str
    run_id: str
    resumed: bool

    # -- requests the sender makes -----------------------------------------------------------------

    def log_points(self, points: list[Point]) -> None:
        """``log_batch`` of up to 1000 metric points (synchronously: the sender is the
        background)."""
        from mlflow.entities import Metric

        metrics = [Metric(p.key, p.value, p.timestamp, p.step) for p in points]
        self.client.log_batch(self.run_id, metrics=metrics, synchronous=True)

    def params_jobs(self, params: Mapping[str, str]) -> list[Job]:
        """Requests that log ``params``; a continued run keeps the values it has (MLflow does
        not change a parameter) and the changed ones are reported."""
        from mlflow.entities import Param

        params = {safe_key(k): v for k, v in params.items()}
        if self.resumed:
            params = _new_params(self.client.get_run(self.run_id).data.params, params)
        entries = [Param(k, v) for k, v in params.items()]
        return [
            Job(
                f"{len(chunk)} parameters",
                lambda chunk=chunk: self.client.log_batch(  # type: ignore[misc]
                    self.run_id, params=chunk, synchronous=True
                ),
            )
            for chunk in _chunks(entries, MAX_PARAMS_PER_BATCH)
        ]

    def tags_job(self, tags: Mapping[str, str], what: str = "the tags") -> Job:
        """A request that sets ``tags``."""
        from mlflow.entities import RunTag

        entries = [RunTag(safe_key(k), str(v)[:MAX_TAG_LENGTH]) for k, v in tags.items()]
        return Job(what, lambda: self.client.log_batch(self.run_id, tags=entries, synchronous=True))

    def artifact_job(self, path: Path, root: Path) -> Job:
        """A request that uploads ``path``, under its folder relative to ``root``."""
        relative = path.relative_to(root)
        folder = relative.parent.as_posix()
        return Job(
            f"the artifact {relative.as_posix()}",
            lambda: self.client.log_artifact(
                self.run_id, str(path), None if folder == "." else folder
            ),
        )

    def status_job(self, status: str) -> Job:
        """A request that ends the run with hookwise's ``status`` (tag and MLflow status)."""
        from mlflow.entities import RunTag

        def end() -> None:
            self.client.log_batch(self.run_id, tags=[RunTag(STATUS_TAG, status)], synchronous=True)
            self.client.set_terminated(self.run_id, STATUSES[status])

        return Job(f"the run status {status!r}", end)


def start_run(
    client: Any,
    uri: str,
    *,
    experiment_name: str | None,
    run_name: str | None,
    continue_run: str | None,
    reopen: bool = True,
) -> RunRef:
    """Continue the run ``continue_run`` (a resumed fit: its status goes back to ``RUNNING``
    when ``reopen``), or create one in the experiment.

    :raises HookwiseError: the tracking store does not answer or refuses; the message names
        the URI (the fit has not started training).
    """
    try:
        if continue_run:
            run = _existing_run(client, continue_run)
            if run is not None:
                if reopen:
                    client.update_run(continue_run, status="RUNNING")
                return RunRef(client, uri, continue_run, resumed=True)
        experiment_id = _experiment_id(client, experiment_name)
        run = client.create_run(experiment_id, run_name=run_name)
    except HookwiseError:
        raise
    except Exception as exc:
        raise HookwiseError(
            f"mlflow: could not start a run at {uri!r}: {type(exc).__name__}: {exc}. Is the "
            f"tracking server running, and the URI right (tracking_uri or MLFLOW_TRACKING_URI)?"
        ) from exc
    return RunRef(client, uri, run.info.run_id, resumed=False)


def _existing_run(client: Any, run_id: str) -> Any:
    """The run to continue, or ``None`` (with a warning) when it is gone."""
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        if exc.get_http_status_code() != 404:
            raise
        run = None
    if run is None or run.info.lifecycle_stage != "active":
        logger.warning(
            "mlflow: the checkpoint's run %s is not in the tracking store (deleted?); the "
            "resumed fit logs into a new run",
            run_id,
        )
        return None
    return run


def _experiment_id(client: Any, name: str | None) -> str:
    """The experiment ``name`` (created when missing); MLflow's ``MLFLOW_EXPERIMENT_NAME`` /
    ``MLFLOW_EXPERIMENT_ID`` when no name is given, else its ``Default`` experiment."""
    from mlflow.exceptions import MlflowException

    name = name or os.environ.get("MLFLOW_EXPERIMENT_NAME")
    if not name:
        return os.environ.get("MLFLOW_EXPERIMENT_ID") or "0"
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return str(client.create_experiment(name))
        except MlflowException:  # another process created it meanwhile
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
    if experiment.lifecycle_stage != "active":
        raise HookwiseError(
            f"mlflow: the experiment {name!r} is deleted; restore it (mlflow experiments "
            f"restore) or give another experiment_name"
        )
    return str(experiment.experiment_id)


def _new_params(existing: Mapping[str, str], params: dict[str, str]) -> dict[str, str]:
    """The parameters a continued run does not have yet; changed values are reported."""
    changed = [
        f"{k}: {existing[k]!r} -> {v!r}"
        for k, v in params.items()
        if k in existing and existing[k] != v
    ]
    if changed:
        logger.warning(
            "mlflow: the resumed fit changed %d parameter(s); MLflow keeps a run's first "
            "values: %s",
            len(changed),
            "; ".join(changed),
        )
    return {k: v for k, v in params.items() if k not in existing}


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
