"""``MLflowCallback``: the run in MLflow, with its parameters, every logged scalar, artifacts
and status."""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from hookwise import Callback, ConfigError, hookimpl

from hookwise_mlflow._params import run_params
from hookwise_mlflow._run import STATUS_TAG, RunRef, client_for, resolve_uri, start_run
from hookwise_mlflow._sender import Sender
from hookwise_mlflow._trainer import TrainerLink
from hookwise_mlflow._values import Event, KeyNames, to_points

if TYPE_CHECKING:
    from hookwise import CallbackConnector, TrainerState
    from torch import nn

logger = logging.getLogger("hookwise.mlflow")

#: Files of the run folder uploaded at the end of fit (when they exist): the resolved config,
#: the logging plugin's metrics file and curves.
DEFAULT_ARTIFACTS = ("config.toml", "metrics.csv", "metrics.jsonl", "curves.png")
#: Events kept unconverted before they are sent anyway (many logs between two flushes).
MAX_PENDING = 1000
#: The version of :meth:`MLflowCallback.state_dict`'s layout.
STATE_VERSION = 1


class MLflowCallback(Callback):
    """Tracks the run in MLflow: parameters, every logged scalar with its step, artifacts, and
    the run's status.

    At the start of fit it creates an MLflow run (or continues the checkpoint's run when the
    fit resumes) and logs the run's parameters: hookwise, torch and Python versions, the seed,
    the trainer settings, the enabled plugins with their distributions and versions, and every
    value of the resolved config (``config.toml`` of a ``hookwise fit`` run, plugin parameters
    included). It sees every value the trainer logs (``train/…``, ``val/…``, ``test/…``, from
    every plugin) and logs it as an MLflow metric at the trainer's ``global_step``. At the end
    of fit it uploads the run folder's ``artifacts`` (and the checkpoints, if asked) and ends
    the run as ``finished`` (MLflow ``FINISHED``), ``interrupted`` (SIGINT/SIGTERM, ``KILLED``)
    or ``failed`` (an exception, ``FAILED``); the tag ``hookwise.status`` says the same.

    No step waits for MLflow: values stay on their device until a flush (every
    ``log_every_n_steps`` steps, after every evaluation pass and epoch, at the end), where
    they are read off in one transfer per device and handed to a background thread that sends
    them in batches. When the tracking server goes away, training goes on: the plugin warns
    once, keeps the values, sends them again at the next flushes and at the end, and then says
    what could not be sent. A standalone test after a fit logs into the fit's run.

    Only rank 0 logs in a distributed run (``rank_zero_only``).

    :param tracking_uri: where the runs go: a tracking server (``http://host:5000``), a
        database (``sqlite:///mlflow.db``, needs the full ``mlflow`` package) or a folder
        (``file:/path/mlruns``, with ``MLFLOW_ALLOW_FILE_STORE=true``). Default: MLflow's own,
        ``MLFLOW_TRACKING_URI`` when it is set.
    :param experiment_name: the experiment (created when missing). Default:
        ``MLFLOW_EXPERIMENT_NAME`` (or ``MLFLOW_EXPERIMENT_ID``), else MLflow's ``Default``.
    :param run_name: the run's name. Default: the name of the run folder.
    :param tags: more tags for the run, ``{name: value}``.
    :param log_every_n_steps: send the values every this many training steps (and after every
        evaluation pass and epoch).
    :param artifacts: files of the run folder (glob patterns relative to it) uploaded at the
        end of fit, each under its relative folder. Default: ``config.toml``, ``metrics.csv``,
        ``metrics.jsonl``, ``curves.png`` (those that exist).
    :param log_checkpoints: also upload every ``*.ckpt`` under the run folder at the end of fit.
    :param finish_timeout: seconds the end of fit waits for the last values, artifacts and the
        status to be sent (``None``: as long as it takes); what is left is reported.
    :param epoch_based: kept for vis4d compatibility (unused).
    :param train_connector: kept for vis4d compatibility (unused).
    :param test_connector: kept for vis4d compatibility (unused).
    """

    #: Only rank 0 logs; the trainer registers the plugin there alone.
    rank_zero_only: ClassVar[bool] = True

    def __init__(
        self,
        *,
        tracking_uri: str | None = None,
        experiment_name: str | None = None,
        run_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        log_every_n_steps: int = 50,
        artifacts: Sequence[str] = DEFAULT_ARTIFACTS,
        log_checkpoints: bool = False,
        finish_timeout: float | None = 120.0,
        epoch_based: bool = True,
        train_connector: CallbackConnector | Mapping[str, Any] | None = None,
        test_connector: CallbackConnector | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(epoch_based, train_connector, test_connector)
        if importlib.util.find_spec("mlflow") is None:
            raise ConfigError(
                "mlflow: the MLflow client is not installed: pip install hookwise-mlflow "
                "(it brings mlflow-skinny)"
            )
        _check_options(tracking_uri, experiment_name, run_name, tags, log_every_n_steps)
        if isinstance(artifacts, str) or not all(isinstance(a, str) for a in artifacts):
            raise ConfigError(
                f"mlflow: artifacts must be a list of glob patterns, got {artifacts!r}"
            )
        if not isinstance(log_checkpoints, bool):
            raise ConfigError(
                f"mlflow: log_checkpoints must be true or false, got {log_checkpoints!r}"
            )
        if finish_timeout is not None and not float(finish_timeout) >= 0:
            raise ConfigError(
                f"mlflow: finish_timeout must be a number of seconds >= 0 or None, got "
                f"{finish_timeout!r}"
            )
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.tags = dict(tags or {})
        self.log_every_n_steps = log_every_n_steps
        self.artifacts = list(artifacts)
        self.log_checkpoints = log_checkpoints
        self.finish_timeout = finish_timeout

        #: The MLflow run of the latest fit (``None`` before one started).
        self.run_id: str | None = None
        self._run: RunRef | None = None
        self._run_uri: str | None = None
        self._resume_run: tuple[str, str] | None = None
        self._link: TrainerLink | None = None
        self._sender: Sender | None = None
        self._names = KeyNames()
        self._events: list[Event] = []
        self._flushed_at = 0
        self._in_fit = False

    # -- state -------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The MLflow run (its id and tracking URI), so that a resumed fit continues it."""
        return {
            "version": STATE_VERSION,
            "run_id": self.run_id or "",
            "tracking_uri": self._run_uri or "",
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Remember the checkpoint's run: the fit that resumes from it continues that run."""
        if state_dict.get("version") != STATE_VERSION:
            logger.warning(
                "mlflow: the checkpoint's state has version %r (this plugin reads %d); the "
                "resumed fit starts a new MLflow run",
                state_dict.get("version"),
                STATE_VERSION,
            )
            return
        run_id, uri = str(state_dict.get("run_id", "")), str(state_dict.get("tracking_uri", ""))
        self.run_id, self._run_uri = run_id or None, uri or None
        self._resume_run = (run_id, uri) if run_id else None

    # -- fit ---------------------------------------------------------------------------------------

    def on_fit_start(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Create the run (or continue the checkpoint's), log the parameters, start listening."""
        self._in_fit = True
        link = self._begin(trainer_state, continue_run=self._take_resume_run())
        run = self._run
        assert run is not None and self._sender is not None
        for job in run.params_jobs(run_params(link)):
            self._sender.add_job(job)
        tags = {STATUS_TAG: "running", "hookwise.run_dir": str(link.output_dir), **self.tags}
        self._sender.add_job(run.tags_job(tags))

    def on_train_epoch_end(
        self, trainer_state: TrainerState, model: nn.Module, loss_module: Any
    ) -> None:
        """Send what the epoch logged."""
        self.flush()

    def on_validation_end(
        self, trainer_state: TrainerState, model: nn.Module, metrics: Mapping[str, float]
    ) -> None:
        """Send the pass's values; a standalone test ends here."""
        self.flush()
        if not self._in_fit and self._sender is not None:
            run = self._require_run()
            self._end(status=None if run.resumed else "finished")

    @hookimpl(trylast=True, after=["checkpoint", "logging", "visualizer"])
    def on_fit_end(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Send the rest, upload the artifacts, end the run (after the other plugins wrote
        their files: ``trylast``, and after those named)."""
        link = self._link
        self._in_fit = False
        if link is None or self._sender is None:
            return
        self._end("interrupted" if link.interrupted else "finished", upload=True)

    @hookimpl(trylast=True, after=["checkpoint"])
    def on_exception(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        exception: BaseException,
        fatal: bool,
    ) -> None:
        """A fatal error ends the run as ``failed`` (``interrupted`` for Ctrl-C), with what was
        logged and the artifacts there are (after the checkpoint plugin wrote
        ``emergency.ckpt``: ``after=["checkpoint"]``)."""
        if not fatal or self._sender is None:
            return
        status = "interrupted" if isinstance(exception, KeyboardInterrupt) else "failed"
        self._in_fit = False
        error = f"{type(exception).__name__}: {exception}"
        self._sender.add_job(self._require_run().tags_job({"hookwise.error": error}))
        self._end(status, upload=True)

    # -- standalone test ---------------------------------------------------------------------------

    def on_test_epoch_start(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """A standalone test logs into the latest fit's run, leaving its status as it is (a
        new run, ended as ``finished``, when there was no fit)."""
        if not self._in_fit and self._sender is None:
            self._begin(trainer_state, continue_run=self.run_id, reopen=False)

    # -- sending -----------------------------------------------------------------------------------

    def flush(self) -> None:
        """Read the pending values off their devices (one transfer per device) and hand them
        to the sender."""
        if self._events and self._sender is not None:
            events, self._events = self._events, []
            self._sender.add_points(to_points(events, self._names))
        if self._link is not None:
            self._flushed_at = self._link.global_step

    def _on_logs(self, logs: Mapping[str, Any]) -> None:
        """The trainer's log listener: keep the values, unconverted, until a flush."""
        link = self._link
        assert link is not None
        step = link.global_step
        self._events.append((step, int(time.time() * 1000), logs))
        if step - self._flushed_at >= self.log_every_n_steps or len(self._events) >= MAX_PENDING:
            self.flush()

    def _begin(
        self, trainer_state: TrainerState, continue_run: str | None, *, reopen: bool = True
    ) -> TrainerLink:
        link = self._link = TrainerLink(trainer_state)
        uri = resolve_uri(self.tracking_uri)
        run = start_run(
            client_for(uri),
            uri,
            experiment_name=self.experiment_name,
            run_name=self.run_name or link.output_dir.name,
            continue_run=continue_run,
            reopen=reopen,
        )
        self._run, self.run_id, self._run_uri = run, run.run_id, uri
        logger.info(
            "mlflow: %s run %s at %s", "continuing" if run.resumed else "started", run.run_id, uri
        )
        self._sender = Sender(run.log_points, uri)
        self._events, self._flushed_at = [], link.global_step
        link.listen(self._on_logs)
        return link

    def _end(self, status: str | None, *, upload: bool = False) -> None:
        """Send the rest (and the artifacts, and the status), wait up to ``finish_timeout``,
        report what was not sent, stop listening."""
        link, sender, run = self._link, self._sender, self._require_run()
        assert link is not None and sender is not None
        self.flush()
        link.stop_listening(self._on_logs)
        if upload:
            for path in self._artifact_files(link.output_dir):
                sender.add_job(run.artifact_job(path, link.output_dir))
        if status is not None:
            sender.add_job(run.status_job(status))
        unsent = sender.close(self.finish_timeout)
        self._sender = self._link = None
        if unsent:
            logger.warning(
                "mlflow: not sent to %s (run %s)%s: %s",
                run.uri,
                run.run_id,
                " (the last request was still waiting for an answer)" if unsent.in_flight else "",
                unsent.describe(),
            )

    def _artifact_files(self, root: Path) -> list[Path]:
        patterns = [*self.artifacts, *(["**/*.ckpt"] if self.log_checkpoints else [])]
        found = {path for pattern in patterns for path in root.glob(pattern) if path.is_file()}
        return sorted(found)

    def _take_resume_run(self) -> str | None:
        """The run to continue: the loaded checkpoint's, when it lives at this tracking URI."""
        saved, self._resume_run = self._resume_run, None
        if saved is None:
            return None
        run_id, uri = saved
        current = resolve_uri(self.tracking_uri)
        if uri != current:
            logger.warning(
                "mlflow: the checkpoint's run %s is at %s, this fit logs to %s: a new run starts",
                run_id,
                uri,
                current,
            )
            return None
        return run_id

    def _require_run(self) -> RunRef:
        assert self._run is not None, "mlflow: no run has started"
        return self._run

    def __repr__(self) -> str:
        return (
            f"MLflowCallback(tracking_uri={self.tracking_uri!r}, "
            f"experiment_name={self.experiment_name!r}, run_id={self.run_id!r})"
        )


def _check_options(
    tracking_uri: Any, experiment_name: Any, run_name: Any, tags: Any, every: Any
) -> None:
    for name, value in (
        ("tracking_uri", tracking_uri),
        ("experiment_name", experiment_name),
        ("run_name", run_name),
    ):
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError(f"mlflow: {name} must be a non-empty string, got {value!r}")
    if tags is not None and not (
        isinstance(tags, Mapping) and all(isinstance(k, str) for k in tags)
    ):
        raise ConfigError(f"mlflow: tags must be a table of names to values, got {tags!r}")
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigError(f"mlflow: log_every_n_steps must be a positive integer, got {every!r}")
