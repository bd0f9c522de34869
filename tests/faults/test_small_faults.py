"""Small faults of configs, files and plugins (issue 19, point 8), each through the ``hookwise``
command run in-process: a clear error naming what is wrong, or the right outcome."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultkit import CLI_CONFIG
from hookwise.cli import main

#: A plugin that calls sys.exit(0) in the middle of the first epoch.
QUIT_PLUGIN = """\
import sys
from hookwise import Callback

class Quit(Callback):
    def on_train_batch_end(self, trainer_state, model, loss_module, outputs, batch, batch_idx):
        if trainer_state["global_step"] == 2:
            sys.exit(0)
"""


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for key in ("HOOKWISE_PLUGINS", "HOOKWISE_ALLOWED_PLUGINS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOOKWISE_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


@pytest.mark.fault("input.block-twice")
def test_no_given_twice_is_refused(capsys: pytest.CaptureFixture[str], cli: Path) -> None:
    code, err = _run(capsys, "fit", "--dry-run", "-p", "no:no:logging")
    assert code == 2, err
    assert "-p 'no:no:logging': 'no:' is given twice; block a plugin with one: no:logging" in err


@pytest.mark.fault("input.config-values")
@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("lr = 0.1", "lr = nan", "[optimizer].lr is nan, which is no usable value"),
        ("epochs = 2", "epochs = -5", "[trainer] epochs must be an integer >= 0 (-1: unlimited)"),
    ],
)
def test_nan_and_negative_epochs_are_refused(
    capsys: pytest.CaptureFixture[str], cli: Path, old: str, new: str, expected: str
) -> None:
    config = cli / "job.toml"
    config.write_text(CLI_CONFIG.replace(old, new), encoding="utf-8")
    for dry in (["--dry-run"], []):
        code, err = _run(capsys, "fit", config, *dry)
        assert code == 2 and expected in err, err
    assert not (cli / "hookwise-runs").exists()  # refused before a run folder (no "running")


@pytest.mark.fault("input.toml-encoding-depth")
def test_a_byte_order_mark_is_read_and_deep_nesting_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], cli: Path
) -> None:
    config = cli / "bom.toml"
    config.write_bytes(b"\xef\xbb\xbf" + CLI_CONFIG.encode())
    code, err = _run(capsys, "fit", config, "--dry-run")
    assert code == 0, err
    deep = cli / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    code, err = _run(capsys, "fit", deep, "--dry-run")
    assert code == 2, err
    assert "deep.toml: invalid TOML: arrays or tables are nested too deeply" in err
    assert "RecursionError" not in err


@pytest.mark.fault("ckpt.symlink-loop")
def test_a_symlink_loop_is_reported_as_one(capsys: pytest.CaptureFixture[str], cli: Path) -> None:
    os.symlink(cli / "b.ckpt", cli / "a.ckpt")
    os.symlink(cli / "a.ckpt", cli / "b.ckpt")
    code, err = _run(capsys, "test", "--weights", cli / "a.ckpt")
    assert code == 2, err
    assert "is a symbolic link that loops" in err and "does not exist" not in err
    os.symlink(cli / "gone.ckpt", cli / "dangling.ckpt")
    code, err = _run(capsys, "test", "--weights", cli / "dangling.ckpt")
    assert code == 2 and f"is a symbolic link to {str(cli / 'gone.ckpt')!r}" in err, err


@pytest.mark.fault("policy.system-exit")
@pytest.mark.parametrize("policy", ["raise", "warn"])
def test_sys_exit_in_a_plugin_is_a_failure(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    cli: Path,
    policy: str,
) -> None:
    (cli / "quitting.py").write_text(QUIT_PLUGIN, encoding="utf-8")
    monkeypatch.syspath_prepend(str(cli))
    config = cli / "job.toml"
    config.write_text(CLI_CONFIG, encoding="utf-8")
    code, err = _run(capsys, "fit", config, "-p", f"quitting:Quit:on_error={policy}")
    assert code != 0, err
    assert "SystemExit(0) was raised during fit in " in err, err
    assert "quitting.py:7 (on_train_batch_end)" in err and "counts as failed" in err
    (run,) = (cli / "hookwise-runs").iterdir()
    assert '"status": "failed"' in (run / "run.json").read_text(encoding="utf-8")


#: A plugin whose write fails as on a file system that turned read-only.
READ_ONLY_PLUGIN = """\
import errno
from hookwise import Callback

class ReadOnly(Callback):
    def on_train_batch_end(self, trainer_state, model, loss_module, outputs, batch, batch_idx):
        if trainer_state["global_step"] == 2:
            raise OSError(errno.EROFS, "Read-only file system", "metrics.csv")
"""


@pytest.mark.fault("policy.read-only-disk")
def test_the_cause_is_the_error_shown_when_the_disk_turns_read_only(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cli: Path
) -> None:
    import errno

    from hookwise import runs

    (cli / "readonly.py").write_text(READ_ONLY_PLUGIN, encoding="utf-8")
    monkeypatch.syspath_prepend(str(cli))
    config = cli / "job.toml"
    config.write_text(CLI_CONFIG, encoding="utf-8")
    write = runs.write_run_info

    def read_only_after_start(folder: Path, *, status: str, **info: object) -> Path:
        if status != "running":  # the disk went read-only during the run
            raise OSError(errno.EROFS, "Read-only file system", str(folder / "run.json"))
        return write(folder, status=status, **info)  # type: ignore[arg-type]

    monkeypatch.setattr(runs, "write_run_info", read_only_after_start)
    code, err = _run(capsys, "fit", config, "-p", "readonly:ReadOnly")
    assert code != 0, err
    last = [line for line in err.splitlines() if line.startswith("hookwise: error:")][-1]
    assert "Read-only file system: 'metrics.csv'" in last, err
    assert "could not record the run's end (failed) in" in err and "run.json" in err
