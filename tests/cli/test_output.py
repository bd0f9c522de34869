"""Quiet, consistent output: one line per validation with its metrics, no duplicate metric
names from the default job, epochs counted from 0 everywhere, the hook reference as plain
text; checkpoints kept few by default (DESIGN decision 28) and created like every other file
(mode from the umask)."""

from __future__ import annotations

import csv
import logging
import os
import re
import stat
from pathlib import Path

import pytest
import torch
from hookwise import checkpointing
from hookwise.cli.app import main
from hookwise.config import resolve_config
from hookwise.job import build_loss
from hookwise.plaintext import plain
from hookwise.testing import run_fit


def test_one_line_per_validation_and_one_epoch_numbering(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="hookwise"):
        result = run_fit(
            [("evaluator", {"evaluator": "accuracy"}), ("logging", {"refresh_rate": 1})],
            epochs=2,
            tmp_path=tmp_path,
            eval_loss=False,
        )
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    validations = [m for m in messages if m.startswith("Validation (")]  # not progress lines
    assert [re.sub(r": .*", "", m) for m in validations] == [
        "Validation (epoch 0, step 3)",
        "Validation (epoch 1, step 6)",
    ]
    assert all("accuracy/top1: " in m for m in validations)
    # The metric appears on no other line of a validation (the evaluator's are DEBUG).
    assert not [
        m for m in messages if "accuracy" in m and not m.startswith(("Validation", "Testing"))
    ]
    progress_epochs = {m.split(":")[0] for m in messages if m.startswith("Epoch ")}
    assert progress_epochs == {"Epoch 0", "Epoch 1"}
    with open(result.output_dir / "metrics.csv", newline="") as handle:
        epochs = {row["epoch"] for row in csv.DictReader(handle)}
    assert epochs == {"0", "1"}


def test_the_default_job_logs_its_loss_once() -> None:
    loss = build_loss(resolve_config().job)
    logits = torch.randn(4, 10)
    _, metrics = loss({"logits": logits}, {"labels": torch.tensor([0, 1, 2, 3])})
    assert list(metrics) == ["loss"]


def test_default_retention_is_small() -> None:
    default = {s.name: s.params for s in resolve_config().plugins.specs}["checkpoint"]
    assert default == {"keep_last": 2, "monitor": "val/accuracy/top1", "mode": "max"}
    # Without the evaluator nothing logs that metric: the last 2 are kept, unranked.
    plain_args = resolve_config(plugin_args=["no:evaluator"]).plugins.specs
    assert {s.name: s.params for s in plain_args}["checkpoint"] == {"keep_last": 2}
    chosen = resolve_config(plugin_args=["no:evaluator", "checkpoint:monitor=val/loss"])
    assert {s.name: s.params for s in chosen.plugins.specs}["checkpoint"]["monitor"] == "val/loss"
    from hookwise_checkpoint import CheckpointCallback

    assert CheckpointCallback().keep_last == 3  # the plugin's own default: a few


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_checkpoint_files_follow_the_umask(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        path = checkpointing.atomic_save({"x": 1}, tmp_path / "a.ckpt")
        other = tmp_path / "other.txt"
        other.write_text("x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(other.stat().st_mode)
    assert not list(tmp_path.glob(".*.tmp"))


def test_hooks_prints_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hooks"]) == 0
    out = capsys.readouterr().out
    assert not re.search(r":(param|class|meth|func|attr|returns)[: ]", out), out
    assert "``" not in out
    assert "start of the first Trainer.fit() or Trainer.test()" in out
    assert "    trainer_state: the trainer's state" in out


def test_plain_text_rules() -> None:
    text = (
        ":class:`~hookwise.TrainerState`, :func:`hookwise.testing.run_fit`, "
        ":doc:`the guide <writing-plugins>`, ``x = 1``\n:param a: A.\n:returns: B.\n"
        ":raises ConfigError: C.\n.. versionadded:: 0.2"
    )
    assert plain(text) == (
        "TrainerState, hookwise.testing.run_fit(), the guide, x = 1\na: A.\nReturns: B.\n"
        "Raises ConfigError: C.\n(added in 0.2)"
    )
