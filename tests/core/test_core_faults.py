"""The small faults issue 12 found in the core, each pinned by a test that failed before its fix."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hookwise.checkpointing as checkpointing
import pytest


@pytest.mark.slow
def test_atomic_save_has_no_test_only_switch_in_the_environment(tmp_path: Path) -> None:
    """It used to truncate the file and wait forever when a test-only variable was set; fault
    injection now lives in the tests (tests/faults/child_fit.py replaces torch.save)."""
    assert not hasattr(checkpointing, "PAUSE_ENV")
    script = textwrap.dedent(
        f"""
        from hookwise.checkpointing import FORMAT, FORMAT_VERSION, atomic_save, load_checkpoint
        state = {{"format": FORMAT, "format_version": FORMAT_VERSION, "model": {{}},
                 "epoch": 0, "global_step": 0}}
        path = atomic_save(state, {str(tmp_path / "a.ckpt")!r})
        print(sorted(load_checkpoint(path)))
        """
    )
    env = {**os.environ, "HOOKWISE_TEST_PAUSE_IN_CHECKPOINT_WRITE": str(tmp_path / "marker")}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "global_step" in done.stdout
    assert not (tmp_path / "marker").exists()


def test_loss_module_checks_its_definitions_without_assert() -> None:
    """An ``assert`` disappears under ``python -O``; the check is a ConfigError naming the fix."""
    from hookwise import ConfigError, LossConnector, LossModule, data_key, pred_key
    from torch import nn

    connector = LossConnector({"input": pred_key("logits"), "target": data_key("labels")})
    with pytest.raises(ConfigError, match=r"Loss definition 1 must contain a connector.*'loss'"):
        LossModule([{"loss": nn.MSELoss(), "connector": connector}, {"loss": nn.L1Loss()}])
    with pytest.raises(ConfigError, match=r"Loss definition 0 must contain a loss") as caught:
        LossModule({"connector": connector})  # type: ignore[typeddict-item]
    assert isinstance(caught.value, AssertionError)  # what vis4d's assert raised


def test_fit_resume_reads_the_checkpoint_in_full_once(
    fit_parts: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """``hookwise fit --resume FILE`` checked FILE with a full, verified load, then the trainer
    loaded and verified it again (four reads before the checks were merged); now the command's
    check maps the file and only the trainer's load reads and verifies it."""
    from hookwise import Trainer
    from hookwise.cli.checkpoints import checkpoint_path

    parts = fit_parts(n_train=8)
    first = Trainer(**parts["trainer"], num_epochs=1)
    first.fit(parts["model"], parts["optimizer"], loss_module=parts["loss"])
    file = first.save_checkpoint(tmp_path / "resume.ckpt")

    verified: list[Path] = []
    real_verify = checkpointing._verify_archive
    monkeypatch.setattr(
        checkpointing, "_verify_archive", lambda f: (verified.append(f), real_verify(f))[1]
    )
    args = argparse.Namespace(output_dir=str(tmp_path))
    assert checkpoint_path(str(file), args, "--resume") == file
    second = Trainer(**parts["trainer"], num_epochs=2)
    second.fit(parts["model"], parts["optimizer"], loss_module=parts["loss"], resume_from=file)
    assert verified == [file]
    assert second.global_step == 4
