"""The ``mlflow`` plugin without a server: MLflow's local file store (from the command line
and under torchrun), parameter checks, and the sender's rules with a fake MLflow."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from hookwise import ConfigError, HookwiseError, PluginManager
from hookwise.testing import run_torchrun
from hookwise_mlflow._sender import Job, Sender
from hookwise_mlflow._values import Point, safe_key

LOGGER = "hookwise.mlflow"


@pytest.fixture(autouse=True)
def _allow_file_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow refuses its file store unless this is set (the tests read the stores too)."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


def file_client(store: Path) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(store.as_uri())


def only_run(client: Any, experiment: str) -> Any:
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert len(runs) == 1, [r.info.run_id for r in runs]
    return runs[0]


def run_bounded(command: list[str], env: dict[str, str], cwd: Path, timeout: float) -> str:
    """Run ``command`` in a session of its own; a hang is killed with all it started."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail(f"{command[2:4]} did not end in time; output:\n{process.communicate()[0]}")
    assert process.returncode == 0, output
    return output


def clean_env(**extra: str) -> dict[str, str]:
    scrubbed = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "HOOKWISE_PLUGINS")
    env = {k: v for k, v in os.environ.items() if k not in scrubbed and not k.startswith("MLFLOW_")}
    env.update(OMP_NUM_THREADS="1", MLFLOW_ALLOW_FILE_STORE="true", **extra)
    return env


@pytest.mark.slow
def test_hookwise_fit_logs_its_config_into_a_file_store(tmp_path: Path) -> None:
    """``hookwise fit -p mlflow:...`` on the default job: the resolved config's values (plugin
    parameters included) become parameters, the run folder's files artifacts."""
    store = tmp_path / "mlruns"
    plugin = f'mlflow:tracking_uri="{store.as_uri()}",experiment_name=cli'
    command = [sys.executable, "-m", "hookwise", "fit", "--epochs", "1", "-p", plugin]
    run_bounded([*command, "--output-dir", str(tmp_path / "runs")], clean_env(), tmp_path, 400)
    client = file_client(store)
    run = only_run(client, "cli")
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["config.trainer.epochs"] == "1"
    assert params["config.plugins.evaluator.evaluator"] == "accuracy"
    assert params["config.plugins.mlflow.experiment_name"] == "cli"
    assert params["config.model.target"] == "hookwise.examples.digits:DigitsMLP"
    assert {"mlflow", "evaluator", "logging", "checkpoint"} <= set(params["plugins"].split(", "))
    run_dir = Path(run.data.tags["hookwise.run_dir"])
    assert run_dir.parent == tmp_path / "runs"
    assert run.info.run_name == run_dir.name
    assert 0 < run.data.metrics["val/accuracy/top1"] <= 1
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.toml", "metrics.csv", "curves.png"} <= artifacts


def test_the_file_store_needs_mlflows_opt_in(
    run_fit: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    uri = (tmp_path / "mlruns").as_uri()
    with pytest.raises(HookwiseError, match="MLFLOW_ALLOW_FILE_STORE=true") as caught:
        run_fit([("mlflow", {"tracking_uri": uri})], epochs=1)
    assert f"tracking URI {uri!r}" in str(caught.value)


def test_tracking_uri_from_mlflows_environment_variable(
    run_fit: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "from-env"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.as_uri())
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "env")
    result = run_fit(["mlflow"], epochs=1, test=False)
    run = only_run(file_client(store), "env")
    assert run.info.run_id == result.pm.get_plugin("mlflow").run_id
    assert [m.step for m in file_client(store).get_metric_history(run.info.run_id, "val/loss")] == [
        3
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"log_every_n_steps": 0}, "log_every_n_steps must be a positive integer"),
        ({"artifacts": "curves.png"}, "artifacts must be a list of glob patterns"),
        # Types are checked against the constructor's annotations by the loader.
        ({"tags": ["a"]}, r"'tags' must be Mapping\[str, str\] \| None, got \['a'\]"),
        ({"tracking_uri": ""}, "tracking_uri must be a non-empty string"),
        ({"log_checkpoints": "yes"}, "'log_checkpoints' must be bool, got 'yes'"),
        ({"finish_timeout": -1}, "finish_timeout must be a number of seconds"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PluginManager().enable("mlflow", **params)


def test_keys_become_names_mlflow_accepts() -> None:
    assert safe_key("val/accuracy/top1@evaluator@top5") == "val/accuracy/top1_evaluator_top5"
    assert safe_key("train/loss#2") == "train/loss_2"
    assert safe_key("train/lr-SGD") == "train/lr-SGD"
    assert safe_key("/a//b/") == "a/b"
    assert safe_key("..") == "_.."
    assert len(safe_key("k" * 300)) == 250


# -- the sender's rules, with a fake MLflow --------------------------------------------------


class Refused(Exception):
    """What MLflow raises for a request the server refuses (HTTP 400)."""

    def get_http_status_code(self) -> int:
        return 400


class FakeServer:
    """``log_batch`` that fails while ``down`` is set, and records what arrives."""

    def __init__(self) -> None:
        self.down = threading.Event()
        self.received: list[Point] = []
        self.calls = 0

    def log_batch(self, points: list[Point]) -> None:
        self.calls += 1
        if self.down.is_set():
            raise ConnectionError("connection refused")
        if any(p.key == "bad" for p in points):
            raise Refused("invalid metric")
        self.received.extend(points)


def points(keys: str, first_step: int) -> list[Point]:
    return [Point(key, 1.0, 0, first_step + i) for i, key in enumerate(keys.split())]


def test_the_sender_keeps_values_through_an_outage_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeServer()
    fake.down.set()
    sender = Sender(fake.log_batch, "fake://server")
    done: list[str] = []
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for step in range(5):
            sender.add_points(points("a b", step * 10))  # each wakes the thread: a failed try
            assert _wait_for(lambda step=step: fake.calls == step + 1)
        sender.add_job(Job("the status", lambda: done.append("status")))
        unsent = sender.close(timeout=30)  # the last try fails too
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "connection refused" in warnings[0], warnings
    assert fake.calls == 6 and not fake.received and not done
    assert len(unsent.points) == 10 and unsent.jobs == ["the status"]

    sender = Sender(fake.log_batch, "fake://server")
    sender.add_points(points("a", 0))
    sender.add_points(points("b", 1))
    fake.down.clear()  # back before the end: what was kept arrives, in order, then the job
    sender.add_job(Job("the status", lambda: done.append("status")))
    assert not sender.close(timeout=30)
    assert [p.key for p in fake.received] == ["a", "b"] and done == ["status"]


def test_the_sender_reports_what_was_not_sent_and_drops_what_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeServer()
    sender = Sender(fake.log_batch, "fake://server")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        sender.add_points(points("bad ok", 0))  # refused (HTTP 400): not retried
        assert _wait_for(lambda: len(fake.received) == 1)
        fake.down.set()
        sender.add_points(points("x y z", 7))
        sender.add_job(Job("the run status 'finished'", lambda: None))
        unsent = sender.close(timeout=30)
    # the refused batch was sent again key by key: only "bad" is dropped
    assert "refused the 1 value(s) of 'bad', which are dropped: invalid metric" in caplog.text
    assert [p.key for p in fake.received] == ["ok"]
    assert unsent.describe() == "3 values of x, y, z (steps 7-9); the run status 'finished'"
    assert not unsent.in_flight


def _wait_for(condition: Any, timeout: float = 30) -> bool:
    event = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if condition():
            return True
        event.wait(0.05)
    return False


# -- rank 0 only, under torchrun ---------------------------------------------------------------

WORKER = """
import os, sys
from hookwise import hookimpl
from hookwise.testing import run_fit
from torch import tensor

class StepValue:
    @hookimpl
    def on_train_batch_end(self):
        return {"rank": tensor(float(os.environ["RANK"]))}

store = sys.argv[1]
run_fit([StepValue(), ("mlflow", {"tracking_uri": store, "experiment_name": "ddp"})],
        epochs=1, batches=4, tmp_path=sys.argv[2], dist_timeout=60)
"""


@pytest.mark.slow
def test_only_rank_zero_logs_under_torchrun(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    store = tmp_path / "mlruns"
    mlflow_env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("MLFLOW_")}
    run_torchrun(
        [script, store.as_uri(), tmp_path],
        nproc=2,
        env={**mlflow_env, "MLFLOW_ALLOW_FILE_STORE": "true"},
        cwd=tmp_path,
    )
    client = file_client(store)
    run = only_run(client, "ddp")  # one run: rank 1 did not start one
    steps = [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "train/rank")]
    assert sorted(steps) == [(1, 0.0), (2, 0.0)]  # 4 batches over 2 ranks; rank 0's values
    assert run.data.params["trainer.world_size"] == "2"
