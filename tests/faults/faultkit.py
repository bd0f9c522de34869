"""Helpers of the fault-injection suite: a tiny real training job, a hook recorder that writes
to a file, and a driver for training runs in a child process that the test signals or kills.

Importable as ``faultkit`` from the suite's tests (``conftest.py`` puts this folder on
``sys.path``) and from ``child_fit.py``, the program the subprocess tests run.

Synchronisation with a child never relies on sleeping: the child's ``Pause`` plugin writes a
line to a pipe when it reaches the step the test asked for and then blocks reading another pipe,
so the test knows exactly where the child is when it sends a signal, and lets it go on by
writing to the pipe.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from hookwise import Callback, DataConnector, PluginManager
from hookwise.testing import TinyData, tiny_job
from hookwise.trainer import Trainer
from torch import nn
from torch.utils.data import DataLoader

HERE = Path(__file__).resolve().parent
CHILD = HERE / "child_fit.py"

#: Seconds a child may take to reach a pause point or to finish (generous: the machine is shared).
CHILD_TIMEOUT = 120.0

# -- the tiny job ---------------------------------------------------------------------------------


class TinyModel(nn.Module):
    """``inputs [B, 4] -> {"logits": [B, 2]}``, with dropout so that resume must restore RNG
    (``hookwise.testing.TinyModel`` has none). The data is ``hookwise.testing.TinyData``."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(4, 8)
        self.dropout = nn.Dropout(0.2)
        self.out = nn.Linear(8, 2)

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.out(self.dropout(torch.relu(self.hidden(inputs))))}


def tiny_loss(outputs: Mapping[str, Any], batch: Mapping[str, Any]) -> tuple[torch.Tensor, Any]:
    """Cross-entropy, returned with its metrics as the trainer expects."""
    loss = nn.functional.cross_entropy(outputs["logits"], batch["labels"])
    return loss, {"loss": loss.detach()}


def tiny_loader(
    n: int, batch_size: int = 4, seed: int = 0, shuffle: bool = False
) -> DataLoader[dict[str, torch.Tensor]]:
    """A loader over :class:`TinyData` (for configs: ``{target = "faultkit:tiny_loader"}``)."""
    return DataLoader(TinyData(n, seed), batch_size, shuffle=shuffle)


#: A tiny job for ``hookwise fit`` (the child gets this folder on ``PYTHONPATH``).
CLI_CONFIG = tiny_job(
    "faultkit:TinyModel",
    train={"target": "faultkit:tiny_loader", "n": 12, "shuffle": True},
    val={"target": "faultkit:tiny_loader", "n": 8, "seed": 1},
)


def isolated_pm(allowed: Sequence[str] | None = None) -> PluginManager:
    """A plugin manager that sees no installed plugin (an entry-point group nobody declares)."""
    return PluginManager(group="hookwise.faults.no-such-group", allowed=allowed)


def make_trainer(
    output_dir: Path,
    *,
    plugins: Any = None,
    callbacks: Sequence[Callback] = (),
    epochs: int = 2,
    batches: int = 3,
    batch_size: int = 4,
    seed: int = 0,
    num_workers: int = 0,
    **kwargs: Any,
) -> Trainer:
    """A trainer over the tiny job: ``batches`` shuffled training batches, 2 validation batches
    (``num_workers`` loader processes for the training data)."""
    train = DataLoader(
        TinyData(batches * batch_size), batch_size, shuffle=True, num_workers=num_workers
    )
    return Trainer(
        device="cpu",
        output_dir=output_dir,
        train_dataloader=train,
        test_dataloader=DataLoader(TinyData(2 * batch_size, seed=1), batch_size),
        train_data_connector=DataConnector({"inputs": "inputs"}),
        callbacks=list(callbacks),
        num_epochs=epochs,
        plugins=plugins if plugins is not None else isolated_pm(),
        seed=seed,
        **kwargs,
    )


def fit(
    trainer: Trainer, *, resume_from: str | os.PathLike[str] | None = None
) -> tuple[TinyModel, dict[str, float]]:
    """Fit a fresh :class:`TinyModel` (SGD) with ``trainer``; return the model and metrics."""
    torch.manual_seed(0)
    model = TinyModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    metrics = trainer.fit(model, optimizer, loss_module=tiny_loss, resume_from=resume_from)
    return model, metrics


# -- recording hooks to a file ---------------------------------------------------------------------


def _event(hook: str, trainer_state: Mapping[str, Any] | None, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"hook": hook}
    if trainer_state is not None:
        event["epoch"] = trainer_state.get("current_epoch")
        event["step"] = trainer_state.get("global_step")
    event.update(extra)
    return event


class FileRecorder(Callback):
    """Appends one JSON line per hook call to ``path`` (written at once, so a killed process
    leaves every event it reached). ``on_exception`` records the exception, its notes and
    ``fatal``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)

    def _write(self, event: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(event) + "\n")

    def on_fit_start(self, trainer_state: Any, model: nn.Module) -> None:
        self._write(_event("on_fit_start", trainer_state))

    def on_train_epoch_start(self, trainer_state: Any, model: nn.Module, loss_module: Any) -> None:
        self._write(_event("on_train_epoch_start", trainer_state))

    def on_train_batch_start(
        self, trainer_state: Any, model: nn.Module, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        self._write(_event("on_train_batch_start", trainer_state, batch_idx=batch_idx))

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self._write(_event("on_train_batch_end", trainer_state, batch_idx=batch_idx))

    def on_train_epoch_end(self, trainer_state: Any, model: nn.Module, loss_module: Any) -> None:
        self._write(_event("on_train_epoch_end", trainer_state))

    def on_validation_end(
        self, trainer_state: Any, model: nn.Module, metrics: Mapping[str, float]
    ) -> None:
        self._write(_event("on_validation_end", trainer_state))

    def on_fit_end(self, trainer_state: Any, model: nn.Module) -> None:
        self._write(_event("on_fit_end", trainer_state))

    def on_exception(
        self, trainer_state: Any, model: nn.Module, exception: BaseException, fatal: bool
    ) -> None:
        self._write(
            _event(
                "on_exception",
                trainer_state,
                fatal=fatal,
                exception=type(exception).__name__,
                message=str(exception),
                notes=list(getattr(exception, "__notes__", [])),
            )
        )


class Pause(Callback):
    """Stops in one step and waits for the test: at ``on_train_batch_start`` of global step
    ``step`` it writes ``paused N`` to file descriptor ``sync_out`` and reads a line from
    ``sync_in`` (signals arrive while it blocks there). Enabled by import path
    ``faultkit:Pause`` in command-line runs.

    :param step: the global step (batches done before it) to stop in.
    :param sync_in: the descriptor to read the go-ahead from.
    :param sync_out: the descriptor to announce the pause on.
    """

    def __init__(self, step: int, sync_in: int, sync_out: int) -> None:
        super().__init__()
        self.step, self.sync_in, self.sync_out = step, sync_in, sync_out
        self.done = False

    def on_train_batch_start(
        self, trainer_state: Any, model: nn.Module, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.done or trainer_state["global_step"] != self.step:
            return
        self.done = True
        os.write(self.sync_out, f"paused {self.step}\n".encode())
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = os.read(self.sync_in, 1)
            if not chunk:
                break
            answer += chunk


class ReadsInputs(Callback):
    """Builds its inputs with its connectors in every batch hook, as vis4d callbacks do
    (``faultkit:ReadsInputs`` by import path)."""

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self.train_connector is not None:
            self.get_train_callback_inputs(outputs, batch)

    def on_test_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self.test_connector is not None:
            self.get_test_callback_inputs(outputs, batch)


class Flaky(Callback):
    """Raises ``ValueError`` in every ``on_train_batch_end`` (enabled by import path
    ``faultkit:Flaky`` in the tests)."""

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        raise ValueError(f"flaky plugin failed at step {trainer_state['global_step']}")


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events a :class:`FileRecorder` wrote (none if it never ran)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def hooks_of(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """The hook names of ``events``, in order."""
    return [str(e["hook"]) for e in events]


# -- runs in a child process -----------------------------------------------------------------------


def _default_sigint() -> None:
    """In the child, before it starts: SIGINT at its default, as under a terminal, also when
    the suite runs as a background job (which ignores SIGINT and passes that on to children,
    and Python then leaves it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class ChildResult:
    """How a child run ended."""

    returncode: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]]
    result: dict[str, Any] | None

    def describe(self) -> str:
        """Everything the child said, for assertion messages."""
        return (
            f"exit status {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )


@dataclass
class ChildRun:
    """A training run in a child process (``child_fit.py``), driven through pipes.

    ``spec`` is written to ``work/spec.json``; see ``child_fit.py`` for its keys. When the spec
    has ``pause_at_step``, :meth:`wait_paused` returns once the child is inside that step, and
    :meth:`release` lets it go on.
    """

    work: Path
    spec: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    command: Sequence[str] | None = None
    #: Whether the spec file's path is the command's last argument (``child_fit.py`` reads
    #: it); ``{sync_in}`` and ``{sync_out}`` in the command become the pipe descriptors.
    append_spec: bool = True
    #: Start the child in a session (and process group) of its own, for :meth:`send_group`.
    new_session: bool = False
    process: subprocess.Popen[str] | None = None
    _to_child: int = -1
    _from_child: int = -1
    _stderr_seen: list[str] = field(default_factory=list)

    @property
    def events_path(self) -> Path:
        return self.work / "events.jsonl"

    @property
    def result_path(self) -> Path:
        return self.work / "result.json"

    def start(self) -> ChildRun:
        """Start the child; its stdin is closed, its output captured."""
        self.work.mkdir(parents=True, exist_ok=True)
        child_reads, self._to_child = os.pipe()
        self._from_child, child_writes = os.pipe()
        spec = {
            "events": str(self.events_path),
            "result": str(self.result_path),
            "sync_in": child_reads,
            "sync_out": child_writes,
            **self.spec,
        }
        spec_path = self.work / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        for name in ("HOOKWISE_PLUGINS", "HOOKWISE_ALLOWED_PLUGINS"):
            if name not in self.env:
                env.pop(name, None)
        command = [
            part.format(sync_in=child_reads, sync_out=child_writes)
            for part in (self.command or [sys.executable, str(CHILD)])
        ]
        if self.append_spec:
            command.append(str(spec_path))
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            pass_fds=(child_reads, child_writes),
            cwd=self.work,
            start_new_session=self.new_session,
            preexec_fn=_default_sigint,
        )
        os.close(child_reads)
        os.close(child_writes)
        return self

    def wait_line(self, timeout: float = CHILD_TIMEOUT) -> str:
        """Wait for the next line the child writes on its sync pipe (or for it to exit)."""
        assert self.process is not None
        data = b""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self._from_child, selectors.EVENT_READ)
            while not data.endswith(b"\n"):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    self.kill()
                    raise AssertionError(
                        f"the child did not answer in time:\n{self.finish().describe()}"
                    )
                chunk = os.read(self._from_child, 1)
                if not chunk:
                    raise AssertionError(
                        f"the child exited before reaching its sync point:\n"
                        f"{self.finish().describe()}"
                    )
                data += chunk
        return data.decode().strip()

    def wait_paused(self) -> int:
        """Wait until the child pauses; return the global step it paused in."""
        line = self.wait_line()
        kind, _, step = line.partition(" ")
        assert kind == "paused", f"unexpected sync line {line!r}"
        return int(step)

    def wait_stderr(self, text: str, timeout: float = CHILD_TIMEOUT) -> None:
        """Read the child's stderr until ``text`` appears (the child's own report that it
        reached a state); what was read is kept for :meth:`finish`."""
        assert self.process is not None and self.process.stderr is not None
        fd = self.process.stderr.fileno()  # read the pipe itself: communicate() does too
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while text not in "".join(self._stderr_seen):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    self.kill()
                    raise AssertionError(
                        f"the child never wrote {text!r} on stderr:\n{self.finish().describe()}"
                    )
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError(
                        f"the child exited before writing {text!r}:\n{self.finish().describe()}"
                    )
                self._stderr_seen.append(chunk.decode(errors="replace"))

    def release(self) -> None:
        """Let a paused child go on."""
        os.write(self._to_child, b"go\n")

    def send(self, signum: int) -> None:
        """Send a real signal to the child."""
        assert self.process is not None
        self.process.send_signal(signum)

    def send_group(self, signum: int) -> None:
        """Send a real signal to the child's whole process group (it and its loader workers),
        as a terminal's Ctrl-C or a cluster scheduler does; needs ``new_session``."""
        assert self.process is not None and self.new_session
        os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL the child (no cleanup of any kind runs)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)

    def finish(self, timeout: float = CHILD_TIMEOUT) -> ChildResult:
        """Wait for the child to exit; return what it said and recorded."""
        assert self.process is not None
        try:
            stdout, stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            stdout, stderr = self.process.communicate()
            stderr += "\n[the test killed the child: it did not exit in time]"
        stderr = "".join(self._stderr_seen) + stderr
        for fd in (self._to_child, self._from_child):
            if fd >= 0:
                os.close(fd)
        self._to_child = self._from_child = -1
        result = None
        if self.result_path.exists():
            result = json.loads(self.result_path.read_text(encoding="utf-8"))
        return ChildResult(
            self.process.returncode, stdout, stderr, read_events(self.events_path), result
        )

    def __enter__(self) -> ChildRun:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()
            self.finish()


def run_child(
    work: Path, spec: dict[str, Any], env: Mapping[str, str] | None = None
) -> ChildResult:
    """Run ``child_fit.py`` to the end without any interaction."""
    with ChildRun(work, spec, dict(env or {})) as child:
        return child.finish()


def checkpoint_files(folder: Path) -> list[Path]:
    """Every ``*.ckpt`` under ``folder``, sorted."""
    return sorted(folder.rglob("*.ckpt"))


class Fifo:
    """A named pipe the child writes to once it reached a point (the core's test-only pause
    point in a checkpoint write writes the marker file it is given): :meth:`wait` returns
    what was written, with no polling. Opened read-write by the test, so that it never sees
    end-of-file before the child opened it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self._fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)

    def wait(self, child: ChildRun, timeout: float = CHILD_TIMEOUT) -> str:
        """Wait until something was written (or fail with the child's output)."""
        assert child.process is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self._fd, selectors.EVENT_READ)
            if child._from_child >= 0:  # the child closing its sync pipe: it has exited
                selector.register(child._from_child, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                ready = selector.select(remaining) if remaining > 0 else []
                if not ready:
                    child.kill()
                    raise AssertionError(f"the child never paused:\n{child.finish().describe()}")
                for key, _ in ready:
                    if key.fd == self._fd:
                        return os.read(self._fd, 4096).decode()
                    if not os.read(key.fd, 4096):
                        raise AssertionError(
                            f"the child exited before pausing:\n{child.finish().describe()}"
                        )

    def close(self) -> None:
        os.close(self._fd)
