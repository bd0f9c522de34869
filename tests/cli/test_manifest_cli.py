"""The run manifest from the command line: ``run.json`` and the checkpoints of ``hookwise fit``
record it, ``hookwise fit --resume`` warns once naming each change, and ``hookwise show``
prints a run folder's or a checkpoint's manifest and metrics."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from clikit import TINY_CONFIG, explain, run_hookwise
from hookwise.checkpointing import load_checkpoint
from hookwise.cli import main
from hookwise.runs import run_dirs


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished one-epoch run of the tiny job (its folder), by ``hookwise fit``."""
    root = tmp_path_factory.mktemp("manifest")
    config = root / "tiny.toml"
    config.write_text(TINY_CONFIG, encoding="utf-8")
    code = main(
        [
            "fit", str(config), "--epochs", "1", "--output-dir", str(root / "runs"),
            "-p", "checkpoint:keep_last=4", "optimizer.lr=0.05",
        ]
    )  # fmt: skip
    assert code == 0
    (folder,) = run_dirs(root / "runs")
    return folder


def _copy(run: Path, tmp_path: Path) -> Path:
    """A copy of the run in its own output folder, to resume without touching the original."""
    copy = tmp_path / "runs" / run.name
    shutil.copytree(run, copy)
    return copy


def test_run_json_and_every_checkpoint_record_the_manifest(first_run: Path) -> None:
    info = json.loads((first_run / "run.json").read_text(encoding="utf-8"))
    manifest = info["manifest"]
    assert manifest["config"]["optimizer"]["lr"] == 0.05
    assert manifest["config"]["plugins"]["checkpoint"]["keep_last"] == 4
    assert manifest["seed"] == 0 and manifest["versions"]["torch"] == str(torch.__version__)
    checkpoint = next(p for p in manifest["plugins"] if p["name"] == "checkpoint")
    assert checkpoint["distribution"] == "hookwise-checkpoint"
    assert checkpoint["params"]["keep_last"] == 4
    assert manifest["hook_order"]["on_validation_end"][-1] == "checkpoint"
    files = sorted((first_run / "checkpoints").glob("*.ckpt"))
    assert files
    for file in files:
        saved = load_checkpoint(file)["manifest"]
        assert saved["config"] == manifest["config"]
        assert saved["plugins"][-1]["params"]["keep_last"] == 4


def test_resume_with_a_changed_parameter_warns_once_naming_it(
    first_run: Path, tmp_path: Path
) -> None:
    run = _copy(first_run, tmp_path)
    resumed = run_hookwise(
        "fit", "--resume", "last", "--epochs", "2", "--output-dir", "runs",
        "-p", "checkpoint:keep_last=3", "-p", "lr_monitor", "optimizer.lr=0.01",
        cwd=tmp_path,
    )  # fmt: skip
    assert resumed.returncode == 0, explain(resumed)
    assert resumed.stderr.count("warning: resuming from") == 1, explain(resumed)
    assert "a run that differs from this one (3 changes)" in resumed.stderr
    assert "  - plugin 'lr_monitor' added (hookwise-lr-monitor " in resumed.stderr
    assert "  - plugin 'checkpoint': parameter keep_last 4 -> 3" in resumed.stderr
    assert "  - config optimizer.lr: 0.05 -> 0.01" in resumed.stderr
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert info["status"] == "finished" and info["manifest"]["config"]["optimizer"]["lr"] == 0.01


def test_an_unchanged_resume_warns_nothing(
    first_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _copy(first_run, tmp_path)
    code = main(
        ["fit", "--resume", "last", "--epochs", "2", "--output-dir", str(tmp_path / "runs")]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "warning" not in err and "Resumed from" in err


def test_show_a_run_folder(first_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(first_run)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Run folder {first_run}: hookwise fit, finished")
    assert "Versions: hookwise " in out and ", Python " in out and ", torch " in out
    assert "Seed: 0" in out
    assert "hookwise-checkpoint" in out and "keep_last=4" in out
    assert "  on_validation_end: " in out
    assert "  optimizer.lr = 0.05" in out
    assert "Final metrics (run.json):" in out and "val/accuracy/top1" in out
    assert "checkpoints/last.ckpt" in out


def test_show_a_checkpoint_and_json(first_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    last = first_run / "checkpoints" / "last.ckpt"
    assert main(["show", str(last)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Checkpoint {last}: epoch 0, step ")
    assert "keep_last=4" in out and "Metrics at the checkpoint:" in out
    assert main(["show", str(last), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["kind"] == "checkpoint" and shown["epoch"] == 0
    assert shown["manifest"] == load_checkpoint(last)["manifest"]
    assert "val/accuracy/top1" in shown["metrics"]
    assert main(["show", str(first_run / "run.json"), "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["kind"] == "run" and run["status"] == "finished"
    assert run["metrics_csv"]["rows"] > 0


def test_show_a_checkpoint_without_a_manifest(
    first_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = torch.load(first_run / "checkpoints" / "last.ckpt", weights_only=True)
    del data["manifest"]  # as an older hookwise wrote it
    torch.save(data, tmp_path / "old.ckpt")
    assert main(["show", str(tmp_path / "old.ckpt")]) == 0
    out = capsys.readouterr().out
    assert "Manifest: none" in out and "Seed: 0" in out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "does not exist; give a run folder"),
        (lambda p: p, "is not a hookwise run folder"),
        (lambda p: p / "runs", "is not a hookwise run folder; it holds a run folder: show one"),
        (lambda p: p / "runs" / "2024-01-01_00-00-00" / "run.json", "is not valid JSON"),
        (lambda p: p / "bad.ckpt", "is corrupt or was not written by torch.save"),
        (lambda p: p / "other" / "run.json", "is not a hookwise run's record"),
    ],
    ids=["missing", "not-a-run", "output-folder", "bad-run-json", "corrupt", "foreign-json"],
)
def test_show_bad_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, message: str
) -> None:
    run = tmp_path / "runs" / "2024-01-01_00-00-00"
    run.mkdir(parents=True)
    (run / "run.json").write_text("{", encoding="utf-8")
    (tmp_path / "bad.ckpt").write_bytes(b"not a checkpoint")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "run.json").write_text('{"name": "x"}', encoding="utf-8")
    assert callable(make)
    assert main(["show", str(make(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert "hookwise: error: " in err and message in err, err


def test_a_test_run_records_its_manifest_too(first_run: Path, tmp_path: Path) -> None:
    config = first_run.parent.parent / "tiny.toml"
    weights = first_run / "checkpoints" / "last.ckpt"
    output = tmp_path / "runs"
    assert main(["test", str(config), "--weights", str(weights), "--output-dir", str(output)]) == 0
    (folder,) = run_dirs(output)
    info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert info["command"] == "test"
    assert [p["name"] for p in info["manifest"]["plugins"]] == [
        "evaluator",
        "logging",
        "checkpoint",
    ]
    assert info["manifest"]["config"]["trainer"]["epochs"] == 2
