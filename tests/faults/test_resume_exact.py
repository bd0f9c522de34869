"""Exact after resume, to the last row: each way the random-kill trials
(``test_random_kills.py``) found a resumed run's files to differ from an uninterrupted run's,
reproduced on purpose, in process (no timing: the file state a kill leaves is built directly,
or the kill is an exception raised where the process would have died)."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hookwise_checkpoint.callback as checkpoint_module
import pytest
from faultkit import fit, isolated_pm, make_trainer
from hookwise import Callback, PluginManager
from hookwise.checkpointing import load_checkpoint
from hookwise.errors import ManifestChangedWarning
from hookwise.trainer import TrainingInterrupted
from hookwise_checkpoint import CheckpointCallback
from hookwise_logging import LoggingCallback

EPOCHS, BATCHES = 2, 3


class Evaluates(Callback):
    """Logs the sum of the logits it saw in each evaluation pass (a ``val/`` or ``test/``
    row, as an evaluator's)."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0.0

    def on_test_epoch_start(self, trainer_state: Any, model: Any) -> None:
        self.total = 0.0

    def on_test_batch_end(self, trainer_state: Any, *args: Any, **kwargs: Any) -> None:
        self.total += float(kwargs["outputs"]["logits"].sum())

    def on_test_epoch_end(self, trainer_state: Any, model: Any) -> dict[str, float]:
        return {"logit_sum": self.total}


def _plugins(*, keep_last: int = 2, steps: int | None = None, extra: Any = ()) -> PluginManager:
    """logging (a progress row every 2 batches) and epoch checkpoints, optionally step
    checkpoints every ``steps`` steps, as ``hookwise fit`` enables them."""
    pm = isolated_pm()
    pm.register(Evaluates(), "evaluates")
    pm.register(LoggingCallback(refresh_rate=2), "logging")
    pm.register(CheckpointCallback(keep_last=keep_last), "checkpoint")
    if steps is not None:
        every = CheckpointCallback(epoch_based=False, checkpoint_period=steps, keep_last=keep_last)
        pm.register(every, "checkpoint@steps")
    for plugin in extra:  # a plugin, or (plugin, name)
        pm.register(*plugin) if isinstance(plugin, tuple) else pm.register(plugin)
    return pm


def _fit_and_test(output: Path, resume_from: str | Path | None = None, **plugins: Any) -> None:
    """A fit (validating after each epoch) and its final test, as ``hookwise fit`` runs them."""
    trainer = make_trainer(output, plugins=_plugins(**plugins), epochs=EPOCHS, batches=BATCHES)
    model, _ = fit(trainer, resume_from=resume_from)
    trainer.test(model)


def _rows(folder: Path) -> str:
    return (folder / "metrics.csv").read_text(encoding="utf-8")


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[Path]:
    """An uninterrupted run with step checkpoints at every epoch's last step (3)."""
    folder = tmp_path / "reference"
    _fit_and_test(folder, steps=BATCHES)
    yield folder


@pytest.mark.fault("resume.final-test-row")
def test_resuming_after_the_final_test_wrote_its_row_writes_it_once(tmp_path: Path) -> None:
    # A run killed (or stopped by SIGTERM) in its final test after the test row was written
    # is resumed from its last checkpoint: the run's files are those of the whole run.
    run = tmp_path / "run"
    _fit_and_test(run)
    whole = _rows(run)
    assert whole.count("\n") == 2 * 2 + 2 + 1 + 1  # header, train, val, test rows
    _fit_and_test(run, resume_from="last")
    assert _rows(run) == whole  # one test row, not two


@pytest.mark.fault("resume.rows-after-checkpoint")
def test_a_resume_from_any_checkpoint_rewrites_the_rows_after_it(
    reference: Path, tmp_path: Path
) -> None:
    # The killed run wrote rows after its newest complete checkpoint (the validation after a
    # step checkpoint at the epoch's last step, a final test): the resumed run writes them
    # again, so they must go, and the rows before the checkpoint must stay, each once.
    expected = _rows(reference)
    checkpoints = [p for p in sorted(reference.rglob("*.ckpt")) if p.name != "last.ckpt"]
    assert {p.parent.name for p in checkpoints} == {"checkpoints", "checkpoints@steps"}
    for number, checkpoint in enumerate(checkpoints):
        copy = tmp_path / f"copy{number}"
        shutil.copytree(reference, copy)
        resumed_from = copy / checkpoint.relative_to(reference)
        _fit_and_test(copy, resumed_from, steps=BATCHES)
        assert _rows(copy) == expected, f"resumed from {checkpoint.relative_to(reference)}"


@pytest.mark.fault("resume.step-row")
def test_the_row_of_a_step_checkpoints_own_step_survives_a_kill_before_it_was_written(
    tmp_path: Path,
) -> None:
    # A step checkpoint is written inside on_train_batch_end; that step's progress row
    # reaches metrics.csv only after the hook returns. Killed in between, the file ends
    # before that row, and the resumed run (from the next step on) does not log it again.
    reference = tmp_path / "reference"
    _fit_and_test(reference, steps=2, keep_last=3)
    expected = _rows(reference)
    copy = tmp_path / "killed"
    shutil.copytree(reference, copy)
    lines = expected.splitlines(keepends=True)
    before = [line for line in lines[1:] if int(line.split(",")[1]) < 2]
    (copy / "metrics.csv").write_text(lines[0] + "".join(before), encoding="utf-8")
    _fit_and_test(copy, copy / "checkpoints@steps" / "epoch=0-step=2.ckpt", steps=2, keep_last=3)
    assert _rows(copy) == expected


class ReturnsStep(Callback):
    """Returns the step from every ``on_train_batch_end`` (logged as ``train/seen``), as a
    learning-rate monitor returns the rate: a second plugin's part of each step's row."""

    def on_train_batch_end(self, trainer_state: Any, *args: Any, **kwargs: Any) -> Any:
        return {"seen": float(trainer_state["global_step"])}


def _step_logs_plugins() -> list[Any]:
    listener = LoggingCallback(epoch_based=False, refresh_rate=1000, metrics_file="jsonl")
    return [(ReturnsStep(), "returns_step"), (listener, "logging@jsonl")]


def _cut_to_checkpoint(run: Path, checkpoint: Path) -> None:
    """Leave each metrics file as a process killed right after ``checkpoint`` was written
    leaves it: the rows the checkpoint counts (what was pending then is not written)."""
    plugins = load_checkpoint(checkpoint)["plugins"]
    rows = {"metrics.csv": plugins["logging"]["rows"]}
    rows["metrics.jsonl"] = plugins["logging@jsonl"]["rows"]
    for name, count in rows.items():
        lines = (run / name).read_text(encoding="utf-8").splitlines(keepends=True)
        header = 1 if name.endswith(".csv") else 0
        (run / name).write_text("".join(lines[: header + count]), encoding="utf-8")


@pytest.mark.fault("resume.step-logs")
def test_a_step_checkpoint_holds_the_logs_of_its_step_for_every_listener(tmp_path: Path) -> None:
    # Step checkpoints at each epoch's last step (3, 6): written inside on_train_batch_end,
    # before the trainer merges that step's logs (logging's means, ReturnsStep's value).
    reference = tmp_path / "reference"
    _fit_and_test(reference, steps=BATCHES, extra=_step_logs_plugins())
    run = tmp_path / "killed"
    shutil.copytree(reference, run)
    checkpoint = run / "checkpoints@steps" / "epoch=0-step=3.ckpt"
    _cut_to_checkpoint(run, checkpoint)
    _fit_and_test(run, checkpoint, steps=BATCHES, extra=_step_logs_plugins())
    for name in ("metrics.csv", "metrics.jsonl"):
        expected = (reference / name).read_text(encoding="utf-8")
        assert (run / name).read_text(encoding="utf-8") == expected, name
    assert "train/seen" in _rows(run)
    # the trainer's metrics after the resumed step, as saved by the epoch checkpoint after it
    for name in ("epoch=0-step=3.ckpt", "last.ckpt"):
        saved = load_checkpoint(run / "checkpoints" / name)["metrics"]
        assert saved == load_checkpoint(reference / "checkpoints" / name)["metrics"], name


class Killed(BaseException):
    """Where the process dies (a BaseException: no error policy takes it)."""


def _dies_on(name: str, monkeypatch: pytest.MonkeyPatch, at_call: int) -> None:
    """The checkpoint plugin's ``name`` (``link_or_copy``: after a checkpoint's first file is
    written; ``delete_quietly``: after all its names are) raises :class:`Killed` at its
    ``at_call``-th call."""
    original = getattr(checkpoint_module, name)
    calls = [0]

    def dying(*args: Any) -> Any:
        calls[0] += 1
        if calls[0] == at_call:
            raise Killed(name)
        return original(*args)

    monkeypatch.setattr(checkpoint_module, name, dying)


def _checkpoint_folder_state(folder: Path) -> tuple[list[str], int]:
    files = sorted(p.name for p in folder.iterdir())
    return files, load_checkpoint(folder / "last.ckpt")["global_step"]


@pytest.mark.fault("resume.unfinished-save")
@pytest.mark.parametrize(
    ("dies_in", "at_call"),
    [("link_or_copy", 2), ("delete_quietly", 1)],
    ids=["before-last-ckpt-is-linked", "before-keep-last-deletes"],
)
def test_a_save_killed_half_way_is_finished_by_the_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dies_in: str, at_call: int
) -> None:
    # keep_last=1: the second epoch's save links last.ckpt (the 2nd link of the run) and then
    # deletes the first epoch's file (the 1st deletion). Killed in between, last.ckpt stayed
    # at the first epoch and keep_last was exceeded for good.
    reference = tmp_path / "reference"
    _fit_and_test(reference, keep_last=1)
    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        _dies_on(dies_in, patch, at_call)
        with pytest.raises(Killed):
            _fit_and_test(run, keep_last=1)
    _fit_and_test(run, "last", keep_last=1)
    expected = _checkpoint_folder_state(reference / "checkpoints")
    assert expected == (["epoch=1-step=6.ckpt", "last.ckpt"], 6)
    assert _checkpoint_folder_state(run / "checkpoints") == expected


@pytest.mark.fault("resume.temporaries")
def test_temporary_files_of_killed_checkpoint_writes_are_removed_on_resume(
    tmp_path: Path,
) -> None:
    run = tmp_path / "run"
    trainer = make_trainer(run, plugins=_plugins(), epochs=1, batches=BATCHES)
    fit(trainer)
    folder = run / "checkpoints"
    # what a process killed inside atomic_save and inside link_or_copy leaves
    left = [".epoch=1-step=6.ckpt.0123456789ab.tmp", ".last.ckpt.4242.link.tmp"]
    others = [".notes.tmp", ".epoch=1-step=6.ckpt.not-hex.tmp"]  # not the plugin's: they stay
    for name in left + others:
        (folder / name).write_bytes(b"partial")
    trainer = make_trainer(run, plugins=_plugins(), epochs=EPOCHS, batches=BATCHES)
    fit(trainer, resume_from="last")
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == sorted(others)


class TermAtStep(Callback):
    """Sends SIGTERM to this process in ``on_train_batch_end`` of ``step``."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step

    def on_train_batch_end(self, trainer_state: Any, *args: Any, **kwargs: Any) -> None:
        if trainer_state["global_step"] == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.fault("resume.interrupt-checkpoint")
def test_the_interrupt_checkpoint_goes_once_the_resumed_run_finished(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    _fit_and_test(reference)
    run = tmp_path / "run"
    trainer = make_trainer(
        run, plugins=_plugins(extra=[TermAtStep(4)]), epochs=EPOCHS, batches=BATCHES
    )
    with pytest.raises(TrainingInterrupted):
        fit(trainer)
    assert (run / "checkpoints" / "interrupted.ckpt").is_file()
    with pytest.warns(ManifestChangedWarning, match="removed"):  # the killer is left out
        _fit_and_test(run, "last")
    assert _files(run) == _files(reference)
    assert _rows(run) == _rows(reference)


class TermAtEpochEnd(Callback):
    """Sends SIGTERM to this process in ``on_train_epoch_end`` of the first epoch."""

    def on_train_epoch_end(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
        if trainer_state["current_epoch"] == 0:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.fault("resume.signal-at-epoch-end")
def test_a_signal_in_the_epoch_end_hooks_still_gets_the_epochs_validation(
    tmp_path: Path,
) -> None:
    reference = tmp_path / "reference"
    _fit_and_test(reference)
    run = tmp_path / "run"
    trainer = make_trainer(
        run, plugins=_plugins(extra=[TermAtEpochEnd()]), epochs=EPOCHS, batches=BATCHES
    )
    with pytest.raises(TrainingInterrupted):
        fit(trainer)
    assert (run / "checkpoints" / "epoch=0-step=3.ckpt").is_file()  # written after validation
    with pytest.warns(ManifestChangedWarning, match="removed"):  # the killer is left out
        _fit_and_test(run, "last")
    assert _files(run) == _files(reference)
    assert _rows(run) == _rows(reference)


@pytest.mark.fault("resume.pending-rows")
def test_a_signal_in_an_epochs_last_batch_keeps_its_row_merged_with_the_validation(
    tmp_path: Path,
) -> None:
    """SIGTERM in the last batch of epoch 0: the epoch ends without its end hooks and the
    interrupt checkpoint is written; the resumed fit runs epoch 0's validation. The step's
    row and the validation row are one line, as in the uninterrupted run (the checkpoint
    keeps the logging plugin's pending rows instead of writing them)."""

    def listener() -> tuple[LoggingCallback, str]:  # writes only when it must: metrics.jsonl
        return LoggingCallback(epoch_based=False, refresh_rate=1000, metrics_file="jsonl"), (
            "logging@jsonl"
        )

    reference = tmp_path / "reference"
    _fit_and_test(reference, extra=[listener()])
    run = tmp_path / "run"
    plugins = _plugins(extra=[listener(), TermAtStep(BATCHES)])
    trainer = make_trainer(run, plugins=plugins, epochs=EPOCHS, batches=BATCHES)
    with pytest.raises(TrainingInterrupted):
        fit(trainer)
    assert load_checkpoint(run / "checkpoints" / "interrupted.ckpt")["global_step"] == BATCHES
    with pytest.warns(ManifestChangedWarning, match="removed"):  # the killer is left out
        _fit_and_test(run, "last", extra=[listener()])
    for name in ("metrics.csv", "metrics.jsonl"):
        assert (run / name).read_text() == (reference / name).read_text(), name
