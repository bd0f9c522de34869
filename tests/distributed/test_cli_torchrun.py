"""``hookwise fit`` unchanged under torchrun: ``torchrun --nproc-per-node 2 -m hookwise fit``.

Two ranks on the CPU (gloo), loopback only, one launch. The job is a tiny config
(``torchrun_kit.CLI_CONFIG``) whose targets live in ``dist_worker.py`` (put on
``PYTHONPATH``); the default plugins of ``hookwise fit`` (evaluator, logging with plot,
checkpoint) are on.
"""

from __future__ import annotations

import csv
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from torchrun_kit import CLI_CONFIG, HERE, finish, start

# the module's tests read one launch (a module fixture): --dist loadgroup keeps them together
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("torchrun-cli")]


@dataclass
class CliRun:
    returncode: int
    output: str
    runs: Path


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    folder = tmp_path_factory.mktemp("cli")
    (folder / "job.toml").write_text(CLI_CONFIG)
    process = start(
        ["-m", "hookwise", "fit", "job.toml", "--output-dir", "runs"],
        2,
        cwd=folder,
        # the tests' folder, then the PYTHONPATH given (a checkout under test): not instead
        env={
            "PYTHONPATH": os.pathsep.join(filter(None, (str(HERE), os.environ.get("PYTHONPATH"))))
        },
    )
    returncode, output = finish(process, time.monotonic() + 300)
    return CliRun(returncode, output, folder / "runs")


def _trained_folder(run: CliRun) -> Path:
    trained = [p for p in run.runs.iterdir() if (p / "checkpoints").is_dir()]
    assert len(trained) == 1, (sorted(p.name for p in run.runs.iterdir()), run.output)
    return trained[0]


def test_hookwise_fit_runs_under_torchrun(cli_run: CliRun) -> None:
    assert cli_run.returncode == 0, cli_run.output
    assert "rank 0 of 2" in cli_run.output and "rank 1 of 2" in cli_run.output
    folder = _trained_folder(cli_run)
    checkpoints = sorted(p.name for p in (folder / "checkpoints").glob("*.ckpt"))
    epochs = [name for name in checkpoints if name.startswith("epoch=")]
    assert epochs == ["epoch=0-step=3.ckpt", "epoch=1-step=6.ckpt"]
    # the default job also keeps the best by val/accuracy/top1 (DESIGN decision 28)
    best = [name for name in checkpoints if name.startswith("best-epoch=")]
    assert len(best) == 1, checkpoints
    assert set(checkpoints) <= {*epochs, *best, "best.ckpt", "last.ckpt"}, checkpoints
    assert "last.ckpt" in checkpoints
    # rank 0 alone wrote the metrics file: no step twice, 6 steps (24 samples / 2 ranks / 4)
    with (folder / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    steps = [int(r["step"]) for r in rows if r.get("train/loss")]
    assert steps and steps == sorted(set(steps)) and steps[-1] == 6
    val = [r for r in rows if r.get("val/accuracy/top1")]
    assert len(val) == 2
    assert (folder / "curves.png").is_file()
    # the evaluator gathered every test sample: the printed accuracy is a multiple of 1/13
    printed = re.findall(r"test/accuracy/top1\s+([0-9.]+)", cli_run.output)
    assert printed, cli_run.output
    for value in printed:
        assert min(abs(float(value) - k / 13) for k in range(14)) < 1e-4


def test_hookwise_fit_under_torchrun_makes_one_run_folder(cli_run: CliRun) -> None:
    assert cli_run.returncode == 0, cli_run.output
    assert len(list(cli_run.runs.iterdir())) == 1, sorted(p.name for p in cli_run.runs.iterdir())
    assert cli_run.output.count("Test metrics:") == 1
