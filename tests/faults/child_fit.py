"""The training program the fault tests run in a child process: ``python child_fit.py SPEC.json``.

It fits ``faultkit.TinyModel`` through the public API and reports how the run ended:

* exit status 0: the fit finished; 128 + signal number: ``TrainingInterrupted`` (what the
  command line does); anything else: an uncaught exception (its traceback is on stderr).
* ``result`` (a JSON file): ``status``, ``global_step``, ``epoch``, ``metrics``, ``weights`` (a
  checksum of the trained parameters), ``checkpoint`` (the interrupt checkpoint) and the signal
  handlers in place after ``fit`` returned.

SPEC keys (all optional except those ``faultkit.ChildRun`` fills in):

``output_dir``, ``epochs``, ``batches``, ``batch_size``, ``seed``, ``num_workers`` (training
loader processes), ``resume_from``;
``plugins``: ``[[name, params], ...]`` enabled by name from the installed entry points;
``record``: write every hook call to ``events`` (default true);
``pause_at_step``: at ``on_train_batch_start`` with this ``global_step``, write ``paused N`` to
the sync pipe and wait for a line back (the test signals the child in between);
``save_every_epoch``: save ``checkpoints/last.ckpt`` at each ``on_train_epoch_end``, over the
previous one (the core's atomic ``Trainer.save_checkpoint``);
``emergency``: a path; ``on_exception(fatal=True)`` saves a checkpoint there (as the checkpoint
plugin's emergency checkpoint does);
``fail``: ``{"hook": name, "at_step": N, "on_error": policy}`` adds a plugin that raises in that
hook from step N on;
``pause_in_save``: the N-th save of ``save_every_epoch`` stops half way through writing (this
program replaces ``torch.save`` for that save), and the test kills the process;
``pause_in_first_save``: a path; the process's first ``torch.save`` (whoever calls it, the
checkpoint plugin say) stops half way through and creates that file, and the test kills it;
``pause_in_background_write``: the first ``torch.save`` made outside the main thread (an
asynchronous checkpoint write) writes ``paused 0`` to the sync pipe and waits for a line back
before it writes (the test signals the child in between).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import torch
from faultkit import FileRecorder, Pause, fit, isolated_pm, make_trainer
from hookwise import Callback, PluginManager
from hookwise.trainer import TrainingInterrupted
from torch import nn


class EpochSaver(Callback):
    """Saves the complete checkpoint over ``checkpoints/last.ckpt`` after every training epoch;
    optionally pauses the N-th write half way through (:func:`pausing_save`, which announces
    itself by writing to the file ``paused-in-write`` next to the spec)."""

    def __init__(self, pause_in_save: int | None, marker: str) -> None:
        super().__init__()
        self.saves = 0
        self.pause_in_save = pause_in_save
        self.marker = marker

    def on_train_epoch_end(self, trainer_state: Any, model: nn.Module, loss_module: Any) -> None:
        trainer = trainer_state["train_module"]
        self.saves += 1
        if self.saves == self.pause_in_save:
            torch.save = pausing_save(torch.save, self.marker)
        trainer.save_checkpoint(trainer.output_dir / "checkpoints" / "last.ckpt")


def pausing_save(save: Any, marker: str) -> Any:
    """``torch.save`` that writes half of the data, makes it durable, creates ``marker`` and
    waits to be killed: a process killed in the middle of writing a checkpoint."""

    def paused(obj: Any, handle: Any, *args: Any, **kwargs: Any) -> None:
        save(obj, handle, *args, **kwargs)
        handle.truncate(max(1, handle.tell() // 2))
        handle.flush()
        os.fsync(handle.fileno())
        Path(marker).write_text(str(os.getpid()))
        while True:  # the test kills the process here
            time.sleep(0.05)

    return paused


def pausing_background_save(save: Any, sync_in: int, sync_out: int) -> Any:
    """``torch.save`` whose first call outside the main thread waits for the test."""
    paused = threading.Event()

    def pausing(obj: Any, handle: Any, *args: Any, **kwargs: Any) -> None:
        if threading.current_thread() is not threading.main_thread() and not paused.is_set():
            paused.set()
            os.write(sync_out, b"paused 0\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = os.read(sync_in, 1)
                if not chunk:
                    break
                answer += chunk
        save(obj, handle, *args, **kwargs)

    return pausing


class Emergency(Callback):
    """Writes an emergency checkpoint when the run is about to fail."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def on_exception(
        self, trainer_state: Any, model: nn.Module, exception: BaseException, fatal: bool
    ) -> None:
        if fatal:
            trainer_state["train_module"].save_checkpoint(self.path)


class Failing(Callback):
    """Raises in one hook from a given step on."""

    def __init__(self, hook: str, at_step: int) -> None:
        super().__init__()
        self.hook, self.at_step = hook, at_step

    def _maybe_fail(self, hook: str, trainer_state: Any) -> None:
        if hook == self.hook and trainer_state["global_step"] >= self.at_step:
            raise RuntimeError(f"injected failure in {hook} at step {trainer_state['global_step']}")

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self._maybe_fail("on_train_batch_end", trainer_state)

    def on_train_epoch_end(self, trainer_state: Any, model: nn.Module, loss_module: Any) -> None:
        self._maybe_fail("on_train_epoch_end", trainer_state)


def _handler_name(handler: Any) -> str:
    if handler is signal.SIG_IGN:
        return "SIG_IGN"
    if handler is signal.SIG_DFL:
        return "SIG_DFL"
    if handler is signal.default_int_handler:
        return "default_int_handler"
    return repr(handler)


def main(spec_path: str) -> int:
    spec: dict[str, Any] = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    output_dir = Path(spec.get("output_dir", Path(spec_path).parent / "run"))
    pm = PluginManager() if spec.get("plugins") else isolated_pm()
    callbacks: list[Callback] = []
    if spec.get("record", True):
        callbacks.append(FileRecorder(spec["events"]))
    if "pause_at_step" in spec:
        callbacks.append(Pause(spec["pause_at_step"], spec["sync_in"], spec["sync_out"]))
    if spec.get("save_every_epoch"):
        marker = str(Path(spec_path).parent / "paused-in-write")
        callbacks.append(EpochSaver(spec.get("pause_in_save"), marker))
    if "emergency" in spec:
        callbacks.append(Emergency(spec["emergency"]))
    if spec.get("pause_in_background_write"):
        torch.save = pausing_background_save(torch.save, spec["sync_in"], spec["sync_out"])
    if "pause_in_first_save" in spec:
        torch.save = pausing_save(torch.save, spec["pause_in_first_save"])
    for name, params in spec.get("plugins", []):
        pm.enable(name, **params)
    if "fail" in spec:
        fail = spec["fail"]
        pm.register(
            Failing(fail["hook"], fail["at_step"]),
            "failing",
            on_error=fail.get("on_error", "raise"),
        )
    trainer = make_trainer(
        output_dir,
        plugins=pm,
        callbacks=callbacks,
        epochs=spec.get("epochs", 2),
        batches=spec.get("batches", 3),
        batch_size=spec.get("batch_size", 4),
        seed=spec.get("seed", 0),
        num_workers=spec.get("num_workers", 0),
    )
    result: dict[str, Any] = {"status": "running"}
    code = 0
    try:
        model, _ = fit(trainer, resume_from=spec.get("resume_from"))
        result["status"] = "finished"
        result["weights"] = [float(p.detach().double().sum()) for p in model.parameters()]
    except TrainingInterrupted as exc:
        result["status"] = "interrupted"
        result["signal"] = exc.signal_number
        result["checkpoint"] = str(exc.checkpoint) if exc.checkpoint else None
        result["message"] = str(exc)
        code = 128 + exc.signal_number
    result.update(
        global_step=trainer.global_step,
        epoch=trainer.epoch,
        metrics=trainer.metrics,
        failures={name: f.count for name, f in trainer.pm.failures.items()},
        plugins=trainer.pm.plugin_names(),
        handlers={
            "SIGINT": _handler_name(signal.getsignal(signal.SIGINT)),
            "SIGTERM": _handler_name(signal.getsignal(signal.SIGTERM)),
        },
    )
    Path(spec["result"]).write_text(json.dumps(result), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
