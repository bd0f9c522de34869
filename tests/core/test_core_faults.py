"""The small faults issue 12 found in the core, each pinned by a test that failed before its fix."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import hookwise.checkpointing as checkpointing


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
    import pytest
    from hookwise import ConfigError, LossConnector, LossModule, data_key, pred_key
    from torch import nn

    connector = LossConnector({"input": pred_key("logits"), "target": data_key("labels")})
    with pytest.raises(ConfigError, match=r"Loss definition 1 must contain a connector.*'loss'"):
        LossModule([{"loss": nn.MSELoss(), "connector": connector}, {"loss": nn.L1Loss()}])
    with pytest.raises(ConfigError, match=r"Loss definition 0 must contain a loss"):
        LossModule({"connector": connector})  # type: ignore[typeddict-item]
