"""The same faults through the ``hookwise`` command, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from faultkit import CLI_CONFIG, HERE, ChildRun
from hookwise.checkpointing import load_checkpoint

#: Defaults that write files nobody looks at here (the run stays small and fast).
QUIET = "no:logging;no:evaluator"


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HOOKWISE_") and k not in ("PYTHONPATH",)
    }
    env.update(PYTHONPATH=str(HERE), OMP_NUM_THREADS="1", **extra)
    return env


def _hookwise(
    cwd: Path, *args: str | os.PathLike[str], **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hookwise", *map(str, args)],
        cwd=cwd,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(CLI_CONFIG, encoding="utf-8")
    return path


def _only_run(output: Path) -> Path:
    runs = [p for p in output.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.slow
@pytest.mark.fault("signal.cli")
def test_ctrl_c_from_outside_ends_hookwise_fit_with_130(tmp_path: Path, config: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "hookwise",
        "fit",
        str(config),
        "-p",
        "faultkit:Pause:step=4,sync_in={sync_in},sync_out={sync_out}",
        "--output-dir",
        str(tmp_path / "runs"),
    ]
    child = ChildRun(tmp_path / "work", {}, _env(HOOKWISE_PLUGINS=QUIET), command, False)
    with child:
        assert child.wait_paused() == 4  # inside the second epoch
        child.send(signal.SIGINT)
        child.release()
        result = child.finish()
    assert result.returncode == 130, result.describe()
    assert "training interrupted by SIGINT" in result.stderr, result.describe()
    assert "resume with: hookwise fit --resume" in result.stderr
    assert "Traceback" not in result.stderr
    run = _only_run(tmp_path / "runs")
    saved = load_checkpoint(run / "checkpoints" / "interrupted.ckpt")
    assert saved["global_step"] == 5 and saved["epoch"] == 1 and not saved["epoch_complete"]
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"


TERM_IN_FINAL_TEST = """\
import os
import signal

from hookwise import Callback


class TermInFinalTest(Callback):
    def on_test_epoch_start(self, trainer_state, model):
        if trainer_state["stage"] == "test":  # the final test, not a validation pass
            os.kill(os.getpid(), signal.SIGTERM)
"""


@pytest.mark.slow
@pytest.mark.fault("signal.final-test")
def test_sigterm_during_the_final_test_ends_the_run_as_interrupted(tmp_path: Path) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(
        CLI_CONFIG.replace(
            'val = { target = "faultkit:tiny_loader", n = 8, seed = 1 }',
            'val = { target = "faultkit:tiny_loader", n = 8, seed = 1 }\n'
            'test = { target = "faultkit:tiny_loader", n = 8, seed = 2 }',
        ),
        encoding="utf-8",
    )
    (tmp_path / "term.py").write_text(TERM_IN_FINAL_TEST, encoding="utf-8")
    result = _hookwise(
        tmp_path,
        "fit",
        config,
        "-p",
        "./term.py:TermInFinalTest",
        "--output-dir",
        tmp_path / "runs",
        HOOKWISE_PLUGINS=QUIET,
    )
    assert result.returncode == 128 + signal.SIGTERM, _explain(result)
    assert "the final test was interrupted by SIGTERM" in result.stderr, _explain(result)
    assert "Traceback" not in result.stderr
    run = _only_run(tmp_path / "runs")
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"


TERM_WHILE_RECORDING = """\
import os
import signal
import sys

import hookwise.cli.fit as fit
from hookwise.cli import main

write_run_info = fit.finish_run


def finish_run(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGTERM)  # arrives while the run's records are written
    return write_run_info(*args, **kwargs)


fit.finish_run = finish_run
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.fault("signal.after-final-test")
def test_sigterm_after_training_lets_the_run_records_finish(tmp_path: Path, config: Path) -> None:
    (tmp_path / "late_term.py").write_text(TERM_WHILE_RECORDING, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "late_term.py", "fit", str(config), "--output-dir", "runs"],
        cwd=tmp_path,
        env=_env(HOOKWISE_PLUGINS=QUIET),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 128 + signal.SIGTERM, _explain(result)
    assert "SIGTERM arrived after training; the run's records are complete" in result.stderr
    run = _only_run(tmp_path / "runs")
    assert json.loads((run / "run.json").read_text())["status"] == "finished"
    assert "Evaluate these weights again with" in result.stdout, _explain(result)


@pytest.mark.slow
@pytest.mark.fault("policy.cli")
def test_on_error_on_the_command_line(tmp_path: Path, config: Path) -> None:
    tolerated = _hookwise(
        tmp_path, "fit", config, "-p", "faultkit:Flaky:on_error=warn", HOOKWISE_PLUGINS=QUIET
    )
    assert tolerated.returncode == 0, _explain(tolerated)
    reports = tolerated.stderr.count("warning: plugin 'faultkit:Flaky' failed in hook")
    assert reports == 1, _explain(tolerated)
    assert "plugin 'faultkit:Flaky' failed 6 times in this run" in tolerated.stderr
    assert "Traceback" in tolerated.stderr  # the first failure's, in the report
    run = _only_run(tmp_path / "hookwise-runs")
    assert not (run / "checkpoints" / "emergency.ckpt").exists()
    assert load_checkpoint(run / "checkpoints" / "last.ckpt")["global_step"] == 6

    fatal = _hookwise(
        tmp_path, "fit", config, "-p", "faultkit:Flaky", "--output-dir", "fatal",
        HOOKWISE_PLUGINS=QUIET,
    )  # fmt: skip
    assert fatal.returncode == 1, _explain(fatal)
    assert "flaky plugin failed at step 1" in fatal.stderr
    assert (
        "plugin 'faultkit:Flaky' failed in hook 'on_train_batch_end' at epoch 0, step 1"
        in fatal.stderr
    ), _explain(fatal)
    run = _only_run(tmp_path / "fatal")
    assert load_checkpoint(run / "checkpoints" / "emergency.ckpt")["global_step"] == 1


@pytest.mark.slow
@pytest.mark.fault("load.allow-list-config")
def test_a_config_allow_list_refuses_other_plugins(tmp_path: Path, config: Path) -> None:
    # The job's own targets (faultkit:TinyModel, torch.optim:SGD...) must be allowed too.
    allow = 'allowed_plugins = ["checkpoint", "faultkit", "torch"]\n\n'
    config.write_text(allow + CLI_CONFIG, encoding="utf-8")
    refused = _hookwise(tmp_path, "fit", config, "-p", "lr_monitor", HOOKWISE_PLUGINS=QUIET)
    assert refused.returncode == 2, _explain(refused)
    assert "'lr_monitor'" in refused.stderr and "allow-list" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "hookwise-runs").exists() or not any(
        (tmp_path / "hookwise-runs").rglob("*.ckpt")
    )


@pytest.mark.slow
@pytest.mark.fault("load.disable-autoload")
def test_autoload_off_runs_only_named_plugins(tmp_path: Path, config: Path) -> None:
    result = _hookwise(
        tmp_path, "fit", config, "-p", "checkpoint", HOOKWISE_DISABLE_PLUGIN_AUTOLOAD="1"
    )
    assert result.returncode == 0, _explain(result)
    run = _only_run(tmp_path / "hookwise-runs")
    assert (run / "checkpoints" / "last.ckpt").exists()  # named: it ran
    # The defaults did not: no metrics file of logging, no accuracy of the evaluator.
    assert not list(run.glob("metrics.*"))
    assert "accuracy" not in result.stderr


@pytest.mark.slow
@pytest.mark.fault("input.config-wrong-type")
def test_config_values_of_the_wrong_type(tmp_path: Path, config: Path) -> None:
    config.write_text(CLI_CONFIG.replace("epochs = 2", 'epochs = "three"'), encoding="utf-8")
    result = _hookwise(tmp_path, "fit", config, HOOKWISE_PLUGINS=QUIET)
    assert result.returncode == 2, _explain(result)
    assert "[trainer] epochs must be an integer >= 0 (-1: unlimited), got 'three'" in result.stderr
    assert "tiny.toml" in result.stderr, _explain(result)
    assert "Traceback" not in result.stderr

    config.write_text(CLI_CONFIG, encoding="utf-8")
    result = _hookwise(tmp_path, "fit", config, "-p", "checkpoint:keep_last=many")
    assert result.returncode == 2, _explain(result)
    assert "'checkpoint'" in result.stderr and "keep_last" in result.stderr, _explain(result)
    assert "Traceback" not in result.stderr
