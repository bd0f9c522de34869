"""The ``mlflow`` plugin against a real MLflow tracking server, read back through MLflow's
client: parameters, metric histories with their steps, artifacts, status; resume; a server
that goes away mid-run."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import torch
from hookwise import TrainingInterrupted, hookimpl
from hookwise.testing import FitResult
from hookwise_mlflow import MLflowCallback

# the module's tracking server (a module fixture): slow to start, started once on one worker
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("mlflow-server")]

if TYPE_CHECKING:
    from conftest import MLflowServer

RunFit = Callable[..., FitResult]
LOGGER = "hookwise.mlflow"


class LogSpy:
    """Records every log the trainer merges, with its step: what MLflow must end up with."""

    def __init__(self) -> None:
        self.points: dict[str, list[tuple[int, float]]] = {}
        self.trainer: Any = None

    @hookimpl
    def on_fit_start(self, trainer_state: Any) -> None:
        self.trainer = trainer_state["trainer"]
        self.trainer.add_log_listener(self._listen)

    def _listen(self, logs: Mapping[str, Any]) -> None:
        for key, value in logs.items():
            self.points.setdefault(key, []).append((self.trainer.global_step, float(value)))


class StepValue:
    """Returns a tensor every step (``train/extra``): every step's value must arrive."""

    @hookimpl
    def on_train_batch_end(self, trainer_state: Any) -> Any:
        return {"extra": torch.tensor(trainer_state["global_step"] * 0.25)}


def history(client: Any, run_id: str, key: str) -> list[tuple[int, float]]:
    """A metric's history as ``(step, value)``, in the order MLflow returns it (by step)."""
    points = client.get_metric_history(run_id, key)
    return sorted((p.step, p.value) for p in points)


def mlflow_params(server: MLflowServer, experiment: str, **more: Any) -> tuple[str, dict[str, Any]]:
    return "mlflow", {"tracking_uri": server.uri, "experiment_name": experiment, **more}


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= 30]


# -- a whole run, read back -------------------------------------------------------------------


def test_a_fit_is_tracked_and_read_back(
    run_fit: RunFit, mlflow_server: MLflowServer, client: Any
) -> None:
    spy = LogSpy()
    result = run_fit(
        [
            ("logging", {"plot": True, "progress_bar": False, "refresh_rate": 2}),
            ("evaluator", {"evaluator": "accuracy"}),
            ("evaluator@again", {"evaluator": "accuracy"}),  # the same key twice: a clash
            StepValue(),
            spy,
            mlflow_params(mlflow_server, "read-back", log_every_n_steps=2, log_checkpoints=True),
            "checkpoint",
        ],
        epochs=2,
    )
    run_id = result.pm.get_plugin("mlflow").run_id
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "run"  # the run folder's name
    assert run.data.tags["hookwise.status"] == "finished"
    assert run.data.tags["hookwise.run_dir"] == str(result.output_dir)

    params = run.data.params
    assert params["seed"] == "0"
    assert params["trainer.num_epochs"] == "2"
    assert params["torch.version"] == torch.__version__
    assert params["plugins"].endswith("evaluator@again, StepValue, LogSpy, mlflow, checkpoint")
    assert params["plugin.mlflow"].startswith("hookwise-mlflow==")
    assert params["plugin.evaluator_again"].startswith("hookwise-evaluator==")

    # every logged key, every step: train/ (per step and the logging plugin's means), val/,
    # test/ (the standalone test after the fit logs into the same run); "@" becomes "_"
    expected = {key.replace("@", "_"): points for key, points in spy.points.items()}
    assert "val/accuracy/top1_evaluator_again" in expected
    assert len(expected["train/extra"]) == 6  # 2 epochs of 3 steps
    assert set(run.data.metrics) == set(expected) | {"test/loss", "test/accuracy/top1"} | {
        "test/accuracy/top1_evaluator_again"
    }
    for key, points in expected.items():
        assert history(client, run_id, key) == points, key
    assert history(client, run_id, "test/loss") == [(6, pytest.approx(result.metrics["test/loss"]))]

    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"curves.png", "metrics.csv", "checkpoints"} <= artifacts
    checkpoints = {a.path for a in client.list_artifacts(run_id, "checkpoints")}
    assert "checkpoints/last.ckpt" in checkpoints
    local = client.download_artifacts(run_id, "curves.png", str(result.output_dir.parent))
    assert Path(local).read_bytes() == (result.output_dir / "curves.png").read_bytes()


def test_a_resumed_fit_continues_the_same_run(
    run_fit: RunFit, mlflow_server: MLflowServer, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    mlflow = mlflow_params(mlflow_server, "resume")
    first = run_fit(["checkpoint", StepValue(), mlflow], epochs=1, test=False)
    run_id = first.pm.get_plugin("mlflow").run_id
    assert client.get_run(run_id).info.status == "FINISHED"
    with caplog.at_level(logging.INFO, logger=LOGGER):
        second = run_fit(["checkpoint", StepValue(), mlflow], epochs=2, resume_from="last")
    assert second.pm.get_plugin("mlflow").run_id == run_id
    assert f"continuing run {run_id}" in caplog.text
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert [s for s, _ in history(client, run_id, "val/loss")] == [3, 6]
    assert [s for s, _ in history(client, run_id, "train/extra")] == [1, 2, 3, 4, 5, 6]
    assert [s for s, _ in history(client, run_id, "test/loss")] == [6]
    # MLflow keeps a run's first parameter values; the change is reported
    assert run.data.params["trainer.num_epochs"] == "1"
    assert any("trainer.num_epochs: '1' -> '2'" in m for m in warnings_of(caplog))
    runs = client.search_runs([run.info.experiment_id])
    assert [r.info.run_id for r in runs] == [run_id]


class Raiser:
    @hookimpl
    def on_train_batch_end(self, trainer_state: Any) -> None:
        if trainer_state["global_step"] == 4:
            raise RuntimeError("broken at step 4")


class SigInt:
    @hookimpl
    def on_train_batch_end(self, trainer_state: Any) -> None:
        if trainer_state["global_step"] == 2:
            os.kill(os.getpid(), signal.SIGINT)  # the trainer turns it into a clean stop


def test_failed_and_interrupted_runs_are_tagged(
    run_fit: RunFit, mlflow_server: MLflowServer, client: Any, tmp_path: Path
) -> None:
    spy = LogSpy()
    with pytest.raises(RuntimeError, match="broken at step 4"):
        run_fit([spy, StepValue(), Raiser(), mlflow_params(mlflow_server, "failed")], epochs=3)
    failed = client.search_runs([client.get_experiment_by_name("failed").experiment_id])[0]
    assert failed.info.status == "FAILED"
    assert failed.data.tags["hookwise.status"] == "failed"
    assert failed.data.tags["hookwise.error"] == "RuntimeError: broken at step 4"
    # what was logged before the failure arrived
    assert history(client, failed.info.run_id, "train/extra") == spy.points["train/extra"]
    assert len(spy.points["train/extra"]) == 3

    with pytest.raises(TrainingInterrupted):
        run_fit(
            [SigInt(), mlflow_params(mlflow_server, "interrupted")],
            epochs=3,
            tmp_path=tmp_path / "interrupted",
        )
    interrupted = client.search_runs([client.get_experiment_by_name("interrupted").experiment_id])
    assert interrupted[0].info.status == "KILLED"
    assert interrupted[0].data.tags["hookwise.status"] == "interrupted"


def test_plugin_is_valid(assert_plugin_valid: Any, mlflow_server: MLflowServer) -> None:
    report = assert_plugin_valid("mlflow", tracking_uri=mlflow_server.uri, experiment_name="valid")
    assert report.hooks["mlflow"] == [
        "on_exception",
        "on_fit_end",
        "on_fit_start",
        "on_test_epoch_start",
        "on_train_epoch_end",
        "on_validation_end",
    ]
    assert MLflowCallback.rank_zero_only is True


# -- a server that goes away ------------------------------------------------------------------


class ServerControl:
    """Kills the server at ``kill_at`` (a step); brings it back at the end of fit, before the
    ``mlflow`` plugin's last try (it runs last), when ``restart``."""

    def __init__(self, server: MLflowServer, kill_at: int, restart: bool) -> None:
        self.server, self.kill_at, self.restart = server, kill_at, restart

    @hookimpl
    def on_train_batch_end(self, trainer_state: Any) -> None:
        if trainer_state["global_step"] == self.kill_at:
            self.server.kill()

    @hookimpl
    def on_fit_end(self) -> None:
        if self.restart:
            self.server.start()


@pytest.mark.slow
def test_a_server_killed_mid_run_does_not_stop_training(
    run_fit: RunFit,
    own_mlflow_server: MLflowServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The values of the dead time are kept and sent when the server is back at the end of
    fit; a server that stays away leaves a report of what was not sent."""
    from mlflow.tracking import MlflowClient

    server = own_mlflow_server
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # fail at once, not in minutes
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    mlflow = mlflow_params(server, "killed", log_every_n_steps=1)

    spy = LogSpy()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        result = run_fit([spy, StepValue(), ServerControl(server, 2, True), mlflow], epochs=3)
    assert result.trainer.global_step == 9  # training went on to its end
    failures = warnings_of(caplog)
    assert len(failures) == 1, failures  # one warning, however many flushes failed
    assert failures[0].startswith(f"mlflow: sending to {server.uri} failed")
    assert "answers again" in caplog.text
    client = MlflowClient(server.uri)
    run_id = result.pm.get_plugin("mlflow").run_id
    assert history(client, run_id, "train/extra") == spy.points["train/extra"]
    assert len(spy.points["train/extra"]) == 9
    assert client.get_run(run_id).info.status == "FINISHED"

    caplog.clear()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        result = run_fit(
            [StepValue(), ServerControl(server, 2, False), mlflow],
            epochs=3,
            test=False,
            tmp_path=tmp_path / "stays-away",
        )
    assert result.trainer.global_step == 9
    assert result.metrics["train/extra"] == 9 * 0.25
    failures = warnings_of(caplog)
    assert len(failures) == 2, failures  # the failure, then what was not sent
    report = failures[1]
    assert report.startswith(f"mlflow: not sent to {server.uri} (run ")
    assert "train/extra" in report and "the run status 'finished'" in report
