"""``hookwise fit`` and ``hookwise test`` as a user runs them: the embedded default, configs,
precedence end to end, run folders, ``--dry-run``, ``--resume last``, signals."""

from __future__ import annotations

import csv
import json
import re
import resource
from pathlib import Path

import pytest
import tomllib
from clikit import TINY_CONFIG, explain, run_hookwise
from hookwise.config import default_config, resolve_config
from hookwise.runs import run_dirs

NO_DEFAULTS = {"HOOKWISE_DISABLE_PLUGIN_AUTOLOAD": "1"}
RECORDER = "cli_test_plugins:Recorder"


def only_run(output_dir: Path) -> Path:
    runs = run_dirs(output_dir)
    assert len(runs) == 1, runs
    return runs[0]


def printed_metric(stdout: str, key: str) -> float:
    match = re.search(rf"^  {re.escape(key)}\s+([0-9.]+)$", stdout, re.MULTILINE)
    assert match, stdout
    return float(match.group(1))


# -- the embedded default ---------------------------------------------------------------------


@pytest.mark.slow
def test_default_fit_trains_digits_and_test_last_evaluates_it(tmp_path: Path) -> None:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    fit = run_hookwise("fit", cwd=tmp_path)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert fit.returncode == 0, explain(fit)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # Under a minute on 2 CPU cores: the whole command uses less than a minute of CPU time.
    assert cpu < 60, f"hookwise fit used {cpu:.1f} s of CPU"
    accuracy = printed_metric(fit.stdout, "test/accuracy/top1")
    assert accuracy > 0.9, fit.stdout

    run = only_run(tmp_path / "hookwise-runs")
    checkpoints = sorted(p.name for p in (run / "checkpoints").glob("*.ckpt"))
    assert "last.ckpt" in checkpoints and len(checkpoints) > 1
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(run / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert float(rows[-1]["test/accuracy/top1"]) == pytest.approx(accuracy, abs=5e-5)
    for label, path in [
        ("checkpoints:", run / "checkpoints"),
        ("metrics file:", run / "metrics.csv"),
        ("curves:", run / "curves.png"),
        ("config:", run / "config.toml"),
    ]:
        assert re.search(
            rf"{re.escape(label)}\s+{re.escape(str(path.relative_to(tmp_path)))}", fit.stdout
        ), fit.stdout
    saved = tomllib.loads((run / "config.toml").read_text())
    assert saved == resolve_config(default_config()).to_dict()
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["command"] == "fit"

    test = run_hookwise("test", "--weights", "last", cwd=tmp_path)
    assert test.returncode == 0, explain(test)
    assert printed_metric(test.stdout, "test/accuracy/top1") == accuracy
    # Only the weights are read: the default config (the one this run used) evaluates them.
    assert "Using the config saved with the checkpoint" not in test.stderr
    assert (
        f"Weights: {Path('hookwise-runs') / run.name / 'checkpoints' / 'last.ckpt'}" in test.stdout
    )
    assert len(run_dirs(tmp_path / "hookwise-runs")) == 2  # the test has its own folder


@pytest.mark.slow
def test_dry_run_prints_the_resolved_config_and_hook_order(tmp_path: Path) -> None:
    result = run_hookwise(
        "fit",
        "--dry-run",
        "-p",
        "no:checkpoint",
        "-p",
        "early_stopping:monitor=val/accuracy/top1,mode=max",
        "--epochs",
        "3",
        cwd=tmp_path,
    )
    assert result.returncode == 0, explain(result)
    printed = tomllib.loads(result.stdout)  # the whole output is a usable config
    assert printed["trainer"]["epochs"] == 3
    assert printed["plugins"]["checkpoint"] is False
    assert list(printed["plugins"])[1:] == ["early_stopping", "evaluator", "logging"]
    assert printed["model"]["target"] == "hookwise.examples.digits:DigitsMLP"
    assert "#   on_validation_end: early_stopping, logging\n" in result.stdout
    assert "#   on_test_epoch_end: evaluator\n" in result.stdout
    assert not (tmp_path / "hookwise-runs").exists()  # nothing ran

    result = run_hookwise("fit", "--dry-run", cwd=tmp_path, env=NO_DEFAULTS)
    assert result.returncode == 0, explain(result)
    assert "#   (no plugins enabled)" in result.stdout
    assert tomllib.loads(result.stdout)["plugins"] == {
        "evaluator": False,
        "logging": False,
        "checkpoint": False,
    }


# -- configs and precedence, end to end -------------------------------------------------------


@pytest.mark.slow
def test_precedence_defaults_config_environment_command_line(tmp_path: Path) -> None:
    config = tmp_path / "job.toml"
    config.write_text(
        TINY_CONFIG
        + f'\n[plugins."{RECORDER}"]\nvalue = "config"\ncount = 1\n'
        + 'test_connector = { preds = { pred = "logits" }, target = { data = "labels" } }\n'
        + "[plugins.logging]\nplot = false\n"
    )
    env = {"HOOKWISE_PLUGINS": f'{RECORDER}:value="env",mode=b;no:checkpoint'}
    result = run_hookwise(
        "fit", config, "-p", f"{RECORDER}:count=3", "--epochs", "1", cwd=tmp_path, env=env
    )
    assert result.returncode == 0, explain(result)
    run = only_run(tmp_path / "hookwise-runs")
    recorded = json.loads((run / "recorder-recorder.json").read_text())
    assert recorded == {
        "value": "env",  # environment over config
        "count": 3,  # command line over config
        "mode": "b",  # environment over the default
        "tag": "recorder",
        "test_connector": {
            "preds": {"key": "logits", "source": "prediction"},
            "target": {"key": "labels", "source": "data"},
        },
    }
    assert not (run / "checkpoints").exists()  # no:checkpoint from the environment
    assert not (run / "curves.png").exists() and (run / "metrics.csv").exists()  # plot = false
    saved = tomllib.loads((run / "config.toml").read_text())
    assert saved["trainer"]["epochs"] == 1
    assert saved["plugins"][RECORDER]["value"] == "env"
    assert saved["plugins"]["checkpoint"] is False
    assert "test/accuracy/top1" in result.stdout

    # The saved config runs the same job again, with no environment; --output-dir is obeyed.
    again = run_hookwise("fit", run / "config.toml", "--output-dir", "out", cwd=tmp_path)
    assert again.returncode == 0, explain(again)
    second = only_run(tmp_path / "out")
    assert json.loads((second / "recorder-recorder.json").read_text()) == recorded
    assert only_run(tmp_path / "hookwise-runs") == run


# -- resume, weights and signals --------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_ends_with_128_plus_signal_and_the_run_resumes(
    tmp_path: Path, tiny_config: Path
) -> None:
    env = {"HOOKWISE_PLUGINS": "no:logging;no:evaluator;cli_test_plugins:Steps"}
    killed = run_hookwise(
        "fit", tiny_config, "-p", "cli_test_plugins:KillAt:step=3", cwd=tmp_path, env=env
    )
    assert killed.returncode == 128 + 15, explain(killed)
    run = only_run(tmp_path / "hookwise-runs")
    assert (run / "checkpoints" / "interrupted.ckpt").is_file()
    assert "training interrupted by SIGTERM" in killed.stderr
    assert "resume with: hookwise fit --resume" in killed.stderr
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"

    # --resume last looks only in the output directory it is given.
    elsewhere = run_hookwise("fit", "--resume", "last", "--output-dir", "other", cwd=tmp_path)
    assert elsewhere.returncode == 2, explain(elsewhere)
    assert "no checkpoint for 'last' in the output directory 'other'" in elsewhere.stderr
    assert "Traceback" not in elsewhere.stderr

    # No CONFIG: the run's saved config is used, and the run goes on in its own folder (here
    # for one more epoch than it was started with).
    resumed = run_hookwise("fit", "--resume", "last", "--epochs", "3", cwd=tmp_path, env=env)
    assert resumed.returncode == 0, explain(resumed)
    assert only_run(tmp_path / "hookwise-runs") == run
    last = Path("hookwise-runs") / run.name / "checkpoints" / "interrupted.ckpt"
    assert f"--resume last: {last}" in resumed.stderr
    lines = (run / "steps.txt").read_text().splitlines()
    # Every step exactly once across the two processes; 4 batches per epoch.
    assert lines == [f"{step // 4} {step + 1}" for step in range(12)]
    assert json.loads((run / "run.json").read_text())["status"] == "finished"


@pytest.mark.slow
def test_weights_for_test_and_fit(tmp_path: Path, tiny_config: Path) -> None:
    env = {"HOOKWISE_PLUGINS": "no:logging"}
    fit = run_hookwise("fit", tiny_config, cwd=tmp_path, env=env)
    assert fit.returncode == 0, explain(fit)
    accuracy = printed_metric(fit.stdout, "test/accuracy/top1")
    checkpoint = only_run(tmp_path / "hookwise-runs") / "checkpoints" / "last.ckpt"

    test = run_hookwise("test", tiny_config, "--weights", checkpoint, cwd=tmp_path, env=env)
    assert test.returncode == 0, explain(test)
    assert printed_metric(test.stdout, "test/accuracy/top1") == accuracy

    # Fine-tuning from those weights, zero steps: the test gives the same accuracy.
    tuned = run_hookwise(
        "fit", tiny_config, "--weights", checkpoint, "--steps", "0", cwd=tmp_path, env=env
    )
    assert tuned.returncode == 0, explain(tuned)
    assert printed_metric(tuned.stdout, "test/accuracy/top1") == accuracy
