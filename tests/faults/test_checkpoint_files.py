"""Bad checkpoint files: truncated, corrupt, foreign, malicious, of another version, or cut by a
SIGKILL in the middle of a write."""

from __future__ import annotations

import os
import pickle
import random
import signal
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
from faultkit import (
    ChildRun,
    Fifo,
    TinyModel,
    checkpoint_files,
    fit,
    make_trainer,
    tiny_loss,
)
from hookwise import CheckpointError, ManifestChangedWarning
from hookwise.checkpointing import FORMAT_VERSION, load_checkpoint


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real checkpoint of a one-epoch run of the tiny job."""
    folder = tmp_path_factory.mktemp("good")
    trainer = make_trainer(folder / "run", epochs=1)
    fit(trainer)
    return trainer.save_checkpoint(folder / "good.ckpt")


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _refused(path: Path, match: str) -> CheckpointError:
    """``load_checkpoint(path)`` raises a CheckpointError naming the file and matching."""
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert repr(str(path)) in message, message
    assert match in message, message
    return info.value


def _record_data_offset(raw: bytes, info: zipfile.ZipInfo) -> int:
    """Where a zip record's data starts (after its local header and extra field)."""
    start = info.header_offset
    name_length, extra_length = struct.unpack("<HH", raw[start + 26 : start + 30])
    return start + 30 + name_length + extra_length


def _flip(raw: bytes, start: int, count: int = 8) -> bytes:
    damaged = bytearray(raw)
    for index in range(start, start + count):
        damaged[index] ^= 0xFF
    return bytes(damaged)


@pytest.mark.fault("ckpt.truncated")
@pytest.mark.parametrize("keep", ["nothing", "10 bytes", "half", "all but the last byte"])
def test_a_truncated_checkpoint_is_refused_naming_the_file(
    good_checkpoint: Path, tmp_path: Path, keep: str
) -> None:
    raw = good_checkpoint.read_bytes()
    size = {"nothing": 0, "10 bytes": 10, "half": len(raw) // 2}.get(keep, len(raw) - 1)
    _refused(_write(tmp_path, "cut.ckpt", raw[:size]), "truncated or corrupt")


@pytest.mark.fault("ckpt.corrupt")
def test_a_corrupt_checkpoint_is_refused_naming_the_file(
    good_checkpoint: Path, tmp_path: Path
) -> None:
    raw = good_checkpoint.read_bytes()
    for seed in range(3):  # random bytes of the same size (a fixed seed: always the same)
        noise = random.Random(seed).randbytes(len(raw))
        _refused(_write(tmp_path, f"random{seed}.ckpt", noise), "corrupt")
    directory = raw[:-200] + b"\0" * 200  # the archive's central directory is gone
    _refused(_write(tmp_path, "directory.ckpt", directory), "truncated or corrupt")
    with zipfile.ZipFile(good_checkpoint) as archive:
        records = {info.filename: info for info in archive.infolist()}
    pickle_record = next(i for n, i in records.items() if n.endswith("data.pkl"))
    damaged = _flip(raw, _record_data_offset(raw, pickle_record) + 20)
    _refused(_write(tmp_path, "pickle.ckpt", damaged), "does not match its data")


@pytest.mark.fault("ckpt.corrupt")
def test_damaged_tensor_data_is_detected_not_loaded_as_other_weights(
    good_checkpoint: Path, tmp_path: Path
) -> None:
    raw = good_checkpoint.read_bytes()
    with zipfile.ZipFile(good_checkpoint) as archive:
        tensor = next(i for i in archive.infolist() if "/data/" in i.filename)
    path = _write(tmp_path, "tensor.ckpt", _flip(raw, _record_data_offset(raw, tensor)))
    # torch.load alone reads it without complaint, with different numbers in a weight ...
    silently = torch.load(path, weights_only=True)["model"]
    original = torch.load(good_checkpoint, weights_only=True)["model"]
    assert any(not torch.equal(silently[k], original[k]) for k in original)
    # ... hookwise checks the archive's checksums and refuses it.
    _refused(path, f"the checksum of its record {tensor.filename!r} does not match")


@pytest.mark.fault("ckpt.foreign")
def test_files_of_other_programs_are_refused(tmp_path: Path) -> None:
    model = TinyModel()
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    _refused(tmp_path / "weights.pt", "is not a hookwise checkpoint")
    torch.save(model, tmp_path / "module.pt")
    _refused(tmp_path / "module.pt", "holds a pickled Python object (faultkit.TinyModel)")
    (tmp_path / "raw.pkl").write_bytes(pickle.dumps({"format": "hookwise-checkpoint"}))
    _refused(tmp_path / "raw.pkl", "was not written by torch.save")
    (tmp_path / "notes.ckpt").write_text("epoch: 3\n")
    _refused(tmp_path / "notes.ckpt", "truncated or corrupt")
    torch.save([1, 2, 3], tmp_path / "list.ckpt")
    _refused(tmp_path / "list.ckpt", "is not a hookwise checkpoint")
    _refused(tmp_path, "is not a file")
    _refused(tmp_path / "missing.ckpt", "does not exist")


class _Payload:
    """Unpickling this creates a folder: proof that code from the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


@pytest.mark.fault("ckpt.malicious")
@pytest.mark.parametrize("kind", ["torch zip", "raw pickle protocol 2", "raw pickle protocol 5"])
def test_loading_never_runs_code_from_the_file(
    good_checkpoint: Path, tmp_path: Path, kind: str
) -> None:
    marker = tmp_path / "code-ran"
    content = load_checkpoint(good_checkpoint)  # a real checkpoint, plus the payload
    content["plugins"] = {"evil": _Payload(marker)}
    path = tmp_path / "evil.ckpt"
    if kind == "torch zip":
        torch.save(content, path)
    else:
        path.write_bytes(pickle.dumps(content, protocol=int(kind[-1])))

    # The payload works: an unsafe load runs it.
    if kind == "torch zip":
        torch.load(path, weights_only=False)
    else:
        pickle.loads(path.read_bytes())
    assert marker.is_dir()
    marker.rmdir()

    error = _refused(path, "evil.ckpt")
    assert "pickled Python object" in str(error) or "a safe load cannot read it" in str(error)
    assert not marker.exists()
    # Resuming goes through the same safe load.
    trainer = make_trainer(tmp_path / "run", epochs=1)
    with pytest.raises(CheckpointError, match=r"evil\.ckpt"):
        fit(trainer, resume_from=path)
    assert not marker.exists()


@pytest.mark.fault("ckpt.format-version")
@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, 0, None, "1"])
def test_another_format_version_is_refused(
    good_checkpoint: Path, tmp_path: Path, version: Any
) -> None:
    content = load_checkpoint(good_checkpoint)
    if version is None:
        del content["format_version"]
    else:
        content["format_version"] = version
    torch.save(content, tmp_path / "other.ckpt")
    _refused(
        tmp_path / "other.ckpt",
        f"has format version {version!r}; this hookwise reads version {FORMAT_VERSION}",
    )


@pytest.mark.fault("ckpt.missing-entries")
def test_missing_or_mistyped_entries_are_named(good_checkpoint: Path, tmp_path: Path) -> None:
    content = load_checkpoint(good_checkpoint)
    del content["model"]
    content["global_step"] = "3"
    content["epoch_complete"] = 1
    torch.save(content, tmp_path / "partial.ckpt")
    error = _refused(tmp_path / "partial.ckpt", "'model' is missing")
    assert "'global_step' is str, not int" in str(error)
    assert "'epoch_complete' is int, not bool" in str(error)
    trainer = make_trainer(tmp_path / "run", epochs=1)
    with pytest.raises(CheckpointError, match="'model' is missing"):
        fit(trainer, resume_from=tmp_path / "partial.ckpt")


@pytest.mark.fault("ckpt.wrong-model")
def test_a_checkpoint_of_another_setup_is_refused(good_checkpoint: Path, tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path / "run", epochs=2)
    other = torch.nn.Sequential(torch.nn.Linear(4, 3))
    with pytest.raises(CheckpointError, match=r"good\.ckpt.*does not fit the model"):
        trainer.fit(
            other,
            torch.optim.SGD(other.parameters(), lr=0.1),
            loss_module=tiny_loss,
            resume_from=good_checkpoint,
        )
    model = TinyModel()
    params = list(model.parameters())
    two = [torch.optim.SGD(params[:2], lr=0.1), torch.optim.SGD(params[2:], lr=0.1)]
    trainer = make_trainer(tmp_path / "run2", epochs=2)
    with pytest.raises(CheckpointError, match="has 1 optimizer states; the run has 2"):
        trainer.fit(model, two, loss_module=tiny_loss, resume_from=good_checkpoint)


@pytest.mark.fault("ckpt.no-last")
def test_resume_last_without_a_checkpoint_names_the_folder(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path / "empty-run", epochs=1)
    (tmp_path / "empty-run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "empty-run" / "checkpoints" / ".last.ckpt.x1.tmp").write_bytes(b"partial")
    with pytest.raises(CheckpointError, match=r"no checkpoint to resume under '.*empty-run'"):
        fit(trainer, resume_from="last")


def _uninterrupted(tmp_path: Path, epochs: int) -> list[torch.Tensor]:
    model, _ = fit(make_trainer(tmp_path / "straight", epochs=epochs))
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.slow
@pytest.mark.fault("ckpt.sigkill-mid-write")
def test_sigkill_while_writing_leaves_the_previous_checkpoint(tmp_path: Path) -> None:
    work = tmp_path / "child"
    work.mkdir()
    fifo = Fifo(work / "paused-in-write")  # the path child_fit's pausing save announces itself at
    spec = {"epochs": 2, "batches": 3, "save_every_epoch": True, "pause_in_save": 2}
    with ChildRun(work, spec) as child:
        pid = fifo.wait(child)  # the child is inside the second write of last.ckpt
        assert int(pid) == child.process.pid  # type: ignore[union-attr]
        folder = work / "run" / "checkpoints"
        partial = list(folder.glob(".last.ckpt.*.tmp"))
        assert len(partial) == 1 and partial[0].stat().st_size > 0
        child.kill()
        result = child.finish()
    fifo.close()
    assert result.returncode == -signal.SIGKILL, result.describe()

    # The previous checkpoint is whole; no partial file passes for a checkpoint.
    assert checkpoint_files(work / "run") == [folder / "last.ckpt"]
    previous = load_checkpoint(folder / "last.ckpt")
    assert previous["epoch"] == 0 and previous["global_step"] == 3
    # "last" picks it, and the resumed run ends as if nothing had happened.
    trainer = make_trainer(work / "run", epochs=2)
    assert trainer.find_last_checkpoint() == folder / "last.ckpt"
    with pytest.warns(ManifestChangedWarning, match="EpochSaver"):  # the child's own plugins
        model, _ = fit(trainer, resume_from="last")
    assert trainer.global_step == 6
    for mine, straight in zip(model.parameters(), _uninterrupted(tmp_path, 2), strict=True):
        assert torch.equal(mine.detach(), straight)


@pytest.mark.slow
@pytest.mark.fault("ckpt.sigkill-checkpoint-plugin")
def test_sigkill_while_the_checkpoint_plugin_writes(tmp_path: Path) -> None:
    run = tmp_path / "child" / "run"
    first = make_trainer(run, plugins=[("checkpoint", {})], epochs=1)
    fit(first)
    before = {p.name: p.read_bytes() for p in checkpoint_files(run)}
    assert "last.ckpt" in before

    work = tmp_path / "child"
    fifo = Fifo(work / "pause-marker")
    spec = {
        "epochs": 2,
        "batches": 3,
        "plugins": [["checkpoint", {}]],
        "resume_from": "last",
        "pause_in_first_save": str(fifo.path),
    }
    with ChildRun(work, spec) as child:
        fifo.wait(child)  # inside the plugin's first write of the resumed run
        child.kill()
        result = child.finish()
    fifo.close()
    assert result.returncode == -signal.SIGKILL, result.describe()

    # Every *.ckpt there is whole, and the ones from before are unchanged.
    after = checkpoint_files(run)
    for path in after:
        load_checkpoint(path)
    for name, content in before.items():
        assert (run / "checkpoints" / name).read_bytes() == content
    resumed = make_trainer(run, plugins=[("checkpoint", {})], epochs=2)
    assert load_checkpoint(resumed.find_last_checkpoint())["global_step"] == 3
    model, _ = fit(resumed, resume_from="last")
    assert resumed.global_step == 6
    for mine, straight in zip(model.parameters(), _uninterrupted(tmp_path, 2), strict=True):
        assert torch.equal(mine.detach(), straight)
