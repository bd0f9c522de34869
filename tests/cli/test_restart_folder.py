"""``hookwise fit`` after ``torchrun --max-restarts`` restarted the workers, in one process:
the run folder the attempt before recorded in the rendezvous store is reused, and an explicit
``--resume`` gives way to the run folder's newest checkpoint.

The real restart (a worker killed by SIGKILL) is ``tests/distributed/test_elastic.py``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from hookwise import DataConnector, Trainer, distributed
from hookwise.cli.fit import resume_after_restart
from hookwise.cli.outputs import restarted_run_dir
from hookwise.runs import write_run_info
from hookwise.testing import TinyData, TinyModel, tiny_loss
from torch.utils.data import DataLoader


@pytest.fixture
def job_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rendezvous store as torchrun's agent keeps it across attempts."""
    monkeypatch.setattr(distributed, "_job_store", torch.distributed.HashStore())


def test_a_restart_reuses_the_run_folder_of_the_attempt_before(
    tmp_path: Path,
    job_store: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = tmp_path / "runs" / "2026-01-01_00-00-00"
    folder.mkdir(parents=True)
    write_run_info(folder, status="running", command="fit")
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "0")
    assert restarted_run_dir("hookwise fit") is None  # the first attempt: nothing recorded
    distributed.remember_for_restarts("hookwise fit", str(folder))
    assert restarted_run_dir("hookwise fit") is None  # still the first attempt
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    with caplog.at_level(logging.WARNING, logger="hookwise"):
        assert restarted_run_dir("hookwise fit") == folder
        assert restarted_run_dir("hookwise test") is None  # another command's folder
        (folder / "run.json").unlink()
        assert restarted_run_dir("hookwise fit") is None  # no longer a run folder
    assert "continues in the run folder of the attempt before" in caplog.text
    assert "which is no longer a run folder" in caplog.text


def test_an_explicit_resume_gives_way_to_the_newest_checkpoint_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = tmp_path / "given.ckpt"
    folder = tmp_path / "run"
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    assert resume_after_restart(given, folder, True) == given  # the folder holds none yet
    model = TinyModel()
    trainer = Trainer(
        device="cpu",
        output_dir=folder,
        train_dataloader=DataLoader(TinyData(4), batch_size=2),
        train_data_connector=DataConnector({"inputs": "inputs"}),
        num_epochs=1,
    )
    trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), None, tiny_loss())
    trainer.save_checkpoint(folder / "checkpoints" / "last.ckpt")
    assert resume_after_restart(given, folder, True) is None  # the trainer takes the newest
    assert resume_after_restart(given, folder, False) == given  # resume_on_restart off
    assert resume_after_restart(None, folder, True) is None
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "0")
    assert resume_after_restart(given, folder, True) == given  # a first attempt
