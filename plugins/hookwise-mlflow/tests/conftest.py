"""A real MLflow tracking server for the tests: ``mlflow server`` as a subprocess with a SQLite
store in a temporary folder, on a free loopback port, every wait bounded."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hookwise.testing import free_port

#: How long a server may take to answer after it was started (a loaded 2-core machine).
START_TIMEOUT_S = 180
#: How long a server may take to exit after SIGTERM before it is killed.
STOP_TIMEOUT_S = 15


class MLflowServer:
    """``mlflow server`` on 127.0.0.1 with its SQLite store and artifacts under ``root``.

    It runs in a session of its own, so that stopping it ends every process it started.
    :meth:`kill` ends it the hard way (a server that goes away); :meth:`start` brings it back
    on the same port with the same store.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = root / "server.log"

    def start(self) -> None:
        """Start the server and wait until it answers (or fail the test with its log)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        # no background job runners: a tracking store is all the tests need
        env.update(
            MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
            MLFLOW_SERVER_JOB_ENABLE_PERIODIC_TASKS="false",
        )
        command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--workers", "1"]
        command += ["--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}"]
        command += ["--artifacts-destination", str(self.root / "artifacts")]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"mlflow server did not come up; its log:\n{self.log.read_text()}")
            time.sleep(0.25)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def kill(self) -> None:
        """End the server at once (SIGKILL to its whole session), as a crash would."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """End the server (SIGTERM, then SIGKILL after a while)."""
        self._signal(signal.SIGTERM)

    def _signal(self, signum: int) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        try:
            os.killpg(process.pid, signum)
            process.wait(STOP_TIMEOUT_S)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT_S)
        # the workers it started share its session: make sure none is left
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _serve(root: Path) -> Iterator[MLflowServer]:
    server = MLflowServer(root)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MLflowServer]:
    """One tracking server for a test module (starting one takes seconds)."""
    yield from _serve(tmp_path_factory.mktemp("mlflow-server"))


@pytest.fixture
def own_mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MLflowServer]:
    """A tracking server for one test alone (one the test may kill)."""
    yield from _serve(tmp_path_factory.mktemp("mlflow-own-server"))


@pytest.fixture
def client(mlflow_server: MLflowServer) -> Any:
    """An ``MlflowClient`` of the module's server."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(mlflow_server.uri)
