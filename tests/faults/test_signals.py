"""SIGTERM and SIGINT during fit, sent for real to a training run in a child process.

The child's ``Pause`` plugin stops inside a chosen step and tells the test so through a pipe;
the test sends the signal while the child is there, then lets it go on. Nothing sleeps.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import torch
from faultkit import CHILD, ChildRun, TinyModel, fit, hooks_of, make_trainer
from hookwise.checkpointing import load_checkpoint

EPOCHS, BATCHES = 3, 3
#: The child is paused inside this step (global_step counts the batches done before it).
PAUSE_STEP = 1
#: Runs a command with SIGINT and SIGTERM ignored, as nohup or a launcher leaves them.
IGNORING_SHELL = ["sh", "-c", 'trap "" INT TERM; exec "$0" "$@"']


def _uninterrupted_weights(tmp_path: Path) -> list[torch.Tensor]:
    model, _ = fit(make_trainer(tmp_path / "straight", epochs=EPOCHS, batches=BATCHES))
    return [p.detach().clone() for p in model.parameters()]


# An expected manifest change: the resume leaves out the child's pausing and recording plugins.
@pytest.mark.filterwarnings("ignore::hookwise.ManifestChangedWarning")
@pytest.mark.slow
@pytest.mark.fault("signal.sigterm", "signal.sigint", "signal.inherited-ignore")
@pytest.mark.fault("signal.resume-exact", "signal.handlers-restored")
@pytest.mark.parametrize(
    ("signum", "inherit_ignored"),
    [(signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["SIGTERM", "SIGINT-with-inherited-SIG_IGN"],
)
def test_a_signal_mid_step_ends_the_run_cleanly_and_resumes_exactly(
    tmp_path: Path, signum: signal.Signals, inherit_ignored: bool
) -> None:
    command = [*IGNORING_SHELL, sys.executable, str(CHILD)] if inherit_ignored else None
    spec = {"epochs": EPOCHS, "batches": BATCHES, "pause_at_step": PAUSE_STEP}
    with ChildRun(tmp_path / "child", spec, command=command) as child:
        assert child.wait_paused() == PAUSE_STEP
        child.send(signum)
        child.release()
        result = child.finish()
    name = signum.name
    assert result.returncode == 128 + signum, result.describe()
    assert result.stderr.count(f"{name} received") == 1, result.describe()
    assert "Traceback" not in result.stderr, result.describe()

    # The step that was running finished; nothing else started; the fit ended normally.
    hooks = hooks_of(result.events)
    assert hooks == [
        "on_fit_start",
        "on_train_epoch_start",
        "on_train_batch_start",
        "on_train_batch_end",
        "on_train_batch_start",  # the step the signal arrived in ...
        "on_train_batch_end",  # ... finished
        "on_fit_end",
    ], result.describe()
    assert result.events[-1]["step"] == PAUSE_STEP + 1

    # The checkpoint holds the state after that step, with the epoch still open.
    assert result.result is not None and result.result["status"] == "interrupted"
    assert result.result["signal"] == signum
    checkpoint = tmp_path / "child" / "run" / "checkpoints" / "interrupted.ckpt"
    assert result.result["checkpoint"] == str(checkpoint)
    saved = load_checkpoint(checkpoint)
    assert saved["global_step"] == PAUSE_STEP + 1 and saved["epoch"] == 0
    assert saved["batch_in_epoch"] == PAUSE_STEP + 1 and not saved["epoch_complete"]

    # fit put back the dispositions it found (inherited SIG_IGN included).
    before = "SIG_IGN" if inherit_ignored else None
    handlers = result.result["handlers"]
    assert handlers["SIGINT"] == (before or "default_int_handler")
    assert handlers["SIGTERM"] == (before or "SIG_DFL")

    # Resuming from it ("last": the newest checkpoint in the run folder) ends exactly where a
    # run that was never interrupted ends.
    resumed_trainer = make_trainer(tmp_path / "child" / "run", epochs=EPOCHS, batches=BATCHES)
    model, _ = fit(resumed_trainer, resume_from="last")
    assert resumed_trainer.global_step == EPOCHS * BATCHES
    for mine, straight in zip(model.parameters(), _uninterrupted_weights(tmp_path), strict=True):
        assert torch.equal(mine.detach(), straight)


@pytest.mark.slow
@pytest.mark.fault("signal.second-sigint")
def test_a_second_ctrl_c_exits_at_once(tmp_path: Path) -> None:
    spec = {"epochs": EPOCHS, "batches": BATCHES, "pause_at_step": PAUSE_STEP}
    with ChildRun(tmp_path / "child", spec) as child:
        child.wait_paused()
        child.send(signal.SIGINT)
        child.wait_stderr("SIGINT received")  # the first one was handled
        child.send(signal.SIGINT)
        result = child.finish()  # it exits without being released
    # Exit by SIGINT, as Python does for an uncaught KeyboardInterrupt.
    assert result.returncode in (-signal.SIGINT, 128 + signal.SIGINT), result.describe()
    assert "KeyboardInterrupt" in result.stderr, result.describe()
    hooks = hooks_of(result.events)
    assert hooks[-1] == "on_train_batch_start", result.describe()  # nothing ran after it
    assert not (tmp_path / "child" / "run" / "checkpoints").exists()
    assert result.result is None


@pytest.mark.slow
@pytest.mark.fault("signal.process-group")
def test_ctrl_c_to_the_process_group_with_loader_workers(tmp_path: Path) -> None:
    spec = {"epochs": EPOCHS, "batches": 6, "pause_at_step": PAUSE_STEP, "num_workers": 2}
    with ChildRun(tmp_path / "child", spec, new_session=True) as child:
        child.wait_paused()
        child.send_group(signal.SIGINT)  # what a terminal's Ctrl-C does
        child.release()
        result = child.finish()
    assert result.returncode == 128 + signal.SIGINT, result.describe()
    # Only the trainer's own process acted on it; the workers did not.
    assert result.stderr.count("SIGINT received") == 1, result.describe()
    assert "Traceback" not in result.stderr and "Exception" not in result.stderr
    assert hooks_of(result.events)[-1] == "on_fit_end"
    assert result.result is not None and result.result["global_step"] == PAUSE_STEP + 1


@pytest.mark.fault("signal.handlers-restored")
def test_handlers_are_restored_after_a_failed_fit_and_not_installed_when_off(
    tmp_path: Path,
) -> None:
    def sentinel(signum: int, frame: Any) -> None:
        raise AssertionError("the test's own handler must not run")

    previous = {s: signal.signal(s, sentinel) for s in (signal.SIGINT, signal.SIGTERM)}
    seen: dict[str, Any] = {}
    try:
        trainer = make_trainer(tmp_path / "a", epochs=1)

        def broken_loss(outputs: Any, batch: Any) -> Any:
            seen["during"] = signal.getsignal(signal.SIGTERM)
            raise ValueError("loss failed")

        model = TinyModel()
        with pytest.raises(ValueError, match="loss failed"):
            trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), loss_module=broken_loss)
        assert seen["during"] is not sentinel  # fit had its own handler in place
        assert signal.getsignal(signal.SIGINT) is sentinel
        assert signal.getsignal(signal.SIGTERM) is sentinel

        off = make_trainer(tmp_path / "b", epochs=1, handle_signals=False)

        def recording_loss(outputs: Any, batch: Any) -> Any:
            seen["off"] = signal.getsignal(signal.SIGTERM)
            raise ValueError("stop here")

        with pytest.raises(ValueError, match="stop here"):
            off.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), loss_module=recording_loss)
        assert seen["off"] is sentinel

        # Outside the main thread Python cannot install handlers: fit runs without them.
        errors: list[BaseException] = []

        def in_thread() -> None:
            try:
                fit(make_trainer(tmp_path / "c", epochs=1))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        thread = threading.Thread(target=in_thread)
        thread.start()
        thread.join()
        assert errors == []
        assert signal.getsignal(signal.SIGTERM) is sentinel
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
