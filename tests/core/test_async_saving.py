"""Asynchronous checkpoint saving (DESIGN decision 22): the state at the save point, copied to
host memory and written in the background, one write at a time, failures reported by the
trainer, and no write outliving ``fit``.

A slow or failing write is made by replacing the saver's ``atomic_save`` with one that waits
on an event or raises: nothing here sleeps to wait for a write.
"""

from __future__ import annotations

import errno
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import Callback, CheckpointError, Trainer, saving
from hookwise.checkpointing import atomic_save, load_checkpoint
from hookwise.saving import AsyncSaver, SyncSaver, host_copy

Parts = Callable[..., dict[str, Any]]


def _same(a: Any, b: Any, where: str = "") -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype, where
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for key in a:
            _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{index}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


class GatedWrites:
    """Replaces the savers' ``atomic_save``: each write waits until the test opens its gate,
    and the writes in progress are counted."""

    def __init__(self) -> None:
        self.gates: list[threading.Event] = []
        self.started = threading.Semaphore(0)
        self.paths: list[Path] = []
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()

    def gate(self, index: int) -> threading.Event:
        while len(self.gates) <= index:
            self.gates.append(threading.Event())
        return self.gates[index]

    def __call__(self, obj: Any, path: Any) -> Path:
        with self._lock:
            index = len(self.paths)
            self.paths.append(Path(path))
            self.active += 1
            self.most_active = max(self.most_active, self.active)
            gate = self.gate(index)
        self.started.release()
        try:
            assert gate.wait(timeout=60), "the test never opened the gate"
            return atomic_save(obj, path)
        finally:
            with self._lock:
                self.active -= 1


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> Iterator[GatedWrites]:
    writes = GatedWrites()
    monkeypatch.setattr(saving, "atomic_save", writes)
    yield writes
    for gate in writes.gates:  # never leave a writer thread blocked
        gate.set()


def _model_and_adam() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    return model, optimizer


def _train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    optimizer.zero_grad()
    model(torch.randn(3, 4)).pow(2).sum().backward()
    optimizer.step()


def test_host_copy_shares_nothing_and_keeps_shared_storages() -> None:
    weight = torch.arange(6.0).reshape(2, 3)
    state = {"w": weight, "t": weight.t(), "row": weight[1], "n": [1, "x", {"k": (2.5, None)}]}
    copied = host_copy(state)
    weight.add_(100)
    _same(
        copied,
        {
            "w": torch.arange(6.0).reshape(2, 3),
            "t": torch.arange(6.0).reshape(2, 3).t(),
            "row": torch.tensor([3.0, 4.0, 5.0]),
            "n": [1, "x", {"k": (2.5, None)}],
        },
    )
    ptr = copied["w"].untyped_storage().data_ptr()
    assert copied["t"].untyped_storage().data_ptr() == ptr  # one storage, as torch.save keeps
    assert copied["row"].untyped_storage().data_ptr() == ptr
    assert ptr != weight.untyped_storage().data_ptr()


def test_async_save_writes_what_sync_writes(fit_parts: Parts, tmp_path: Path) -> None:
    p = fit_parts()
    trainer = Trainer(**p["trainer"], num_epochs=1, seed=0)
    trainer.fit(p["model"], [p["optimizer"]], [], p["loss"])
    sync = trainer.save_checkpoint(tmp_path / "sync.ckpt")
    done: list[Path] = []
    background = trainer.save_checkpoint(
        tmp_path / "async.ckpt", asynchronous=True, on_done=done.append
    )
    trainer.wait_for_checkpoints()
    assert done == [background]
    _same(load_checkpoint(background), load_checkpoint(sync))


def test_the_state_written_is_the_state_at_the_save_point(
    gated: GatedWrites, tmp_path: Path
) -> None:
    model, optimizer = _model_and_adam()
    _train_step(model, optimizer)
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
    expected = host_copy(state)
    saver = AsyncSaver()
    saver.save(state, tmp_path / "a.ckpt")
    assert gated.started.acquire(timeout=60)
    for _ in range(3):  # training goes on and changes weights and Adam's moments in place
        _train_step(model, optimizer)
    assert not torch.equal(model[0].weight, expected["model"]["0.weight"])
    gated.gate(0).set()
    saver.wait()
    assert saver.take_failure() is None
    _same(torch.load(tmp_path / "a.ckpt", weights_only=True), expected)


def test_at_most_one_write_in_flight(gated: GatedWrites, tmp_path: Path) -> None:
    saver = AsyncSaver()
    done: list[str] = []
    saver.save({"n": 1}, tmp_path / "one.ckpt", on_done=lambda p: done.append(p.name))
    assert gated.started.acquire(timeout=60)
    second = threading.Thread(
        target=saver.save,
        args=({"n": 2}, tmp_path / "two.ckpt", lambda p: done.append(p.name)),
    )
    second.start()
    second.join(timeout=0.2)
    assert second.is_alive(), "the second save did not wait for the first write"
    assert gated.paths == [tmp_path / "one.ckpt"]
    gated.gate(0).set()
    gated.gate(1).set()
    second.join(timeout=60)
    saver.wait()
    assert gated.most_active == 1
    assert done == ["one.ckpt", "two.ckpt"]  # in order, each after its own write


def test_a_sync_save_waits_for_the_write_in_flight(gated: GatedWrites, tmp_path: Path) -> None:
    background, sync = AsyncSaver(), SyncSaver()
    background.save({"n": 1}, tmp_path / "x.ckpt")
    assert gated.started.acquire(timeout=60)
    gated.gate(0).set()
    gated.gate(1).set()
    background.wait()
    sync.save({"n": 2}, tmp_path / "x.ckpt")
    assert torch.load(tmp_path / "x.ckpt", weights_only=True) == {"n": 2}


class SavesAt(Callback):
    """Saves asynchronously in ``on_train_batch_end`` at the given steps; records what the
    trainer reported to ``on_exception``."""

    def __init__(
        self, folder: Path, steps: set[int], release: threading.Event | None = None
    ) -> None:
        super().__init__()
        self.folder, self.steps, self.release = folder, steps, release
        self.exceptions: list[tuple[BaseException, bool, int]] = []
        self.starts: list[int] = []

    def on_train_batch_start(
        self, trainer_state: Any, model: Any, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        self.starts.append(trainer_state["global_step"])
        if self.release is not None and trainer_state["global_step"] in self.steps:
            self.release.set()  # the write fails now, during this step
            trainer_state["train_module"]._async_saver.wait()

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        step = trainer_state["global_step"]
        if step in self.steps:
            trainer_state["train_module"].save_checkpoint(
                self.folder / f"step{step}.ckpt", asynchronous=True
            )

    def on_exception(self, trainer_state: Any, model: Any, exception: Any, fatal: bool) -> None:
        self.exceptions.append((exception, fatal, trainer_state["global_step"]))


def _failing_write(
    monkeypatch: pytest.MonkeyPatch, name: str, gate: threading.Event | None = None
) -> None:
    def write(obj: Any, path: Any) -> Path:
        if Path(path).name == name:
            if gate is not None:
                assert gate.wait(timeout=60)
            raise OSError(errno.ENOSPC, "No space left on device")
        return atomic_save(obj, path)

    monkeypatch.setattr(saving, "atomic_save", write)


def test_a_failed_background_write_fails_the_next_step_naming_the_file(
    fit_parts: Parts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    _failing_write(monkeypatch, "step2.ckpt", gate)
    saver = SavesAt(tmp_path, {2}, release=gate)
    p = fit_parts()
    trainer = Trainer(**p["trainer"], num_epochs=2, seed=0, callbacks=[saver])
    with pytest.raises(CheckpointError, match=r"step2\.ckpt.*No space left") as caught:
        trainer.fit(p["model"], [p["optimizer"]], [], p["loss"])
    assert isinstance(caught.value.__cause__, OSError)
    # reported at the end of the next step (step 3), through the normal error path
    assert saver.starts == [0, 1, 2]
    assert [(e, fatal, step) for e, fatal, step in saver.exceptions] == [(caught.value, True, 3)]
    assert not (tmp_path / "step2.ckpt").exists()
    assert not list(tmp_path.glob(".*tmp"))


def test_a_failed_last_write_fails_fit_at_its_end(
    fit_parts: Parts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _failing_write(monkeypatch, "step3.ckpt")
    saver = SavesAt(tmp_path, {3})
    p = fit_parts()
    trainer = Trainer(**p["trainer"], num_epochs=1, seed=0, callbacks=[saver])
    with pytest.raises(CheckpointError, match=r"step3\.ckpt"):
        trainer.fit(p["model"], [p["optimizer"]], [], p["loss"])
    assert [fatal for _, fatal, _ in saver.exceptions] == [True]


def test_fit_returns_only_after_the_last_write(
    fit_parts: Parts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    finished: list[Path] = []

    def slow_write(obj: Any, path: Any) -> Path:
        threading.Event().wait(0.3)  # a slow disk: fit must wait for it
        written = atomic_save(obj, path)
        finished.append(written)
        return written

    monkeypatch.setattr(saving, "atomic_save", slow_write)
    p = fit_parts()
    trainer = Trainer(**p["trainer"], num_epochs=1, seed=0, callbacks=[SavesAt(tmp_path, {3})])
    trainer.fit(p["model"], [p["optimizer"]], [], p["loss"])
    assert finished == [tmp_path / "step3.ckpt"]
    assert load_checkpoint(tmp_path / "step3.ckpt")["global_step"] == 3
    assert not [t for t in threading.enumerate() if t.name.startswith("hookwise-checkpoint")]


def test_fit_that_fails_waits_for_the_write_in_flight(
    fit_parts: Parts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    finished: list[Path] = []

    def slow_write(obj: Any, path: Any) -> Path:
        threading.Event().wait(0.3)
        finished.append(atomic_save(obj, path))
        return finished[-1]

    monkeypatch.setattr(saving, "atomic_save", slow_write)

    def broken_loss(outputs: Any, batch: Any) -> Any:
        if len(finished) == 0 and saver_calls:
            raise RuntimeError("boom in the step after the save")
        return outputs["logits"].sum()

    saver_calls: list[int] = []

    class Saves(SavesAt):
        def on_train_batch_end(self, trainer_state: Any, *args: Any, **kwargs: Any) -> None:
            super().on_train_batch_end(trainer_state, *args, **kwargs)
            if trainer_state["global_step"] in self.steps:
                saver_calls.append(trainer_state["global_step"])

    p = fit_parts()
    trainer = Trainer(**p["trainer"], num_epochs=1, seed=0, callbacks=[Saves(tmp_path, {1})])
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(p["model"], [p["optimizer"]], [], broken_loss)
    assert finished == [tmp_path / "step1.ckpt"]
    assert not [t for t in threading.enumerate() if t.name.startswith("hookwise-checkpoint")]


def test_a_second_save_reuses_the_first_ones_buffers_and_writes_its_own_state(
    tmp_path: Path,
) -> None:
    model, optimizer = _model_and_adam()
    saver = AsyncSaver()
    expected = []
    for name in ("a.ckpt", "b.ckpt", "c.ckpt"):
        _train_step(model, optimizer)
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
        expected.append(host_copy(state))
        saver.save(state, tmp_path / name)
        saver.wait()
    assert saver.take_failure() is None
    assert sum(len(buffers) for buffers in saver._spare.values()) >= 4  # kept for the next copy
    for name, state in zip(("a.ckpt", "b.ckpt", "c.ckpt"), expected, strict=True):
        _same(torch.load(tmp_path / name, weights_only=True), state, name)
    saver.release()
    assert saver._spare == {}


def test_a_failure_after_the_write_says_the_file_was_written(tmp_path: Path) -> None:
    def link_fails(path: Path) -> None:
        raise OSError(errno.EMLINK, "Too many links")

    saver = AsyncSaver()
    saver.save({"n": 1}, tmp_path / "x.ckpt", on_done=link_fails)
    saver.wait()
    failure = saver.take_failure()
    assert failure is not None and saver.take_failure() is None  # reported once
    assert "x.ckpt' was written, but what follows its write" in str(failure)
    assert "Too many links" in str(failure)
    (tmp_path / "a-file").write_text("not a folder")
    saver.save({"n": 2}, tmp_path / "a-file" / "y.ckpt")
    saver.wait()
    failure = saver.take_failure()
    assert failure is not None and "y.ckpt' could not be written" in str(failure)


def test_a_write_started_in_on_fit_end_is_waited_for_and_its_failure_raised(
    fit_parts: Parts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _failing_write(monkeypatch, "final.ckpt")

    class SavesAtEnd(Callback):
        def on_fit_end(self, trainer_state: Any, model: Any) -> None:
            trainer_state["train_module"].save_checkpoint(
                tmp_path / "final.ckpt", asynchronous=True
            )

    p = fit_parts()
    trainer = Trainer(**p["trainer"], num_epochs=1, seed=0, callbacks=[SavesAtEnd()])
    with pytest.raises(CheckpointError, match=r"final\.ckpt' could not be written"):
        trainer.fit(p["model"], [p["optimizer"]], [], p["loss"])
    assert not trainer._async_saver.in_flight


def test_the_interpreter_exits_only_after_the_write_in_flight(tmp_path: Path) -> None:
    target = tmp_path / "at-exit.ckpt"
    script = f"""
import threading, torch
from hookwise import saving
real = saving.atomic_save

def slow(obj, path):
    threading.Event().wait(0.5)
    return real(obj, path)

saving.atomic_save = slow
saving.AsyncSaver().save({{"w": torch.arange(4.0)}}, saving.Path({str(target)!r}))
print("leaving")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0 and "leaving" in done.stdout, done.stderr
    assert torch.equal(torch.load(target, weights_only=True)["w"], torch.arange(4.0))
