"""The benchmark scripts run (in their ``--quick`` mode) and report what they promise.

Behaviour only: the tables and JSON have their parts, the checks inside the scripts pass.
No assertion here depends on how fast anything ran.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hookwise.testing import tiny_job

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"


def _run(script: str, *args: str, tmp_path: Path, timeout: float = 300) -> tuple[str, Any]:
    out = tmp_path / f"{script}.json"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", "--json", str(out), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout, json.loads(out.read_text(encoding="utf-8"))


def _positive(value: Any) -> bool:
    return isinstance(value, float) and value > 0


def test_dispatch_benchmark_reports_every_path(tmp_path: Path) -> None:
    stdout, data = _run("bench_dispatch.py", tmp_path=tmp_path)
    assert data["benchmark"] == "dispatch" and data["quick"] is True
    assert data["goal"] == 0.8 and data["hook_goal"] == 1.5
    assert set(data["counts"]) == {"1", "10"}
    for result in data["counts"].values():
        assert set(result["ratios_to_kw_loop"]) == {
            "loop",
            "kw-loop",
            "pm.hook",
            "call_ordered",
            "attributed",
            "call_args",
            "pluggy",
        }
        assert result["ratios_to_kw_loop"]["kw-loop"] == 1.0
        assert _positive(result["pm.hook/loop"])
        assert all(_positive(v) for v in result["seconds"].values())
    assert set(data["anatomy"]) == {"instance call", "method call"}
    assert "pm.hook/loop" in stdout and "slot_tp_call" in stdout
    # the per-call trainer state (read-only since DESIGN decision 25) against the plain dict
    assert set(data["state"]) == {
        "function call",
        "dict (before)",
        "ReadOnlyState",
        "10 no-ops + dict (before)",
        "10 no-ops + ReadOnlyState",
    }
    assert all(_positive(v) for v in data["state"].values())
    assert "the state of one batch hook call" in stdout
    assert data["machine"]["pluggy"] and data["machine"]["cores"] >= 1


def test_registration_benchmark_compares_with_pluggy(tmp_path: Path) -> None:
    stdout, data = _run("bench_registration.py", tmp_path=tmp_path)
    assert data["benchmark"] == "registration" and data["goal"] == 1.0
    assert set(data["counts"]) == {"10", "100"}
    for result in data["counts"].values():
        assert result["ratios"]["pluggy"] == 1.0
        assert set(result["ratios"]) == {"pluggy", "hookwise", "hookwise Callback", "enable_object"}
        assert all(_positive(v) for v in result["seconds"].values())
    assert set(data["growth"]) == set(data["counts"]["10"]["ratios"])
    assert "hookwise/pluggy" in stdout and "1.0 = linear" in stdout


@pytest.mark.slow
def test_trainer_benchmark_reports_overhead_and_default_plugin_parts(tmp_path: Path) -> None:
    stdout, data = _run("bench_trainer.py", tmp_path=tmp_path)
    assert data["steps"] == 6  # quick: 2 epochs x 3 steps
    assert set(data["overhead"]["ratios"]) == {"loop", "trainer", "trainer+10"}
    defaults = data["defaults"]
    assert set(defaults["plugins"]) == {"logging", "evaluator", "checkpoint"}
    assert defaults["counts"] == {"eval passes": 2, "checkpoints": 2}
    assert set(defaults["ratios"]) == {"steps", "eval pass", "checkpoint"}
    assert all(_positive(v) for v in defaults["seconds"].values()), defaults["seconds"]
    assert "training steps (6)" in stdout and "trainer+10 no-op plugins" in stdout


@pytest.mark.slow
def test_trainer_benchmark_worker_runs_a_counting_window(tmp_path: Path) -> None:
    """The callgrind worker runs natively too (the window is then just a call)."""
    script = str(BENCHMARKS / "bench_trainer.py")
    options = ["--steps-per-epoch", "2", "--epochs", "1"]
    done = subprocess.run(
        [sys.executable, script, "--worker", "trainer+10", *options],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_discovery_benchmark_finds_fake_plugins_without_importing(tmp_path: Path) -> None:
    stdout, data = _run("bench_discovery.py", tmp_path=tmp_path)
    assert data["check"] == {"found": 3, "imported": []}
    assert set(data["ratios"]) == {
        "python -c pass",
        "bare scan",
        "import hookwise",
        "PluginManager().installed()",
        "hookwise plugins --json",
    }
    assert data["ratios"]["bare scan"] == 1.0
    assert "imported neither torch nor any plugin" in stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_instruction_window_counts_only_the_measured_call(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import _bench
    finally:
        sys.path.remove(str(BENCHMARKS))
    script = tmp_path / "work.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(BENCHMARKS)!r})
            import _bench

            def work():
                total = 0
                for i in range(int(sys.argv[1])):
                    total += i
                return total

            work()  # outside the window: not counted
            _bench.measured(work)
            """
        ),
        encoding="utf-8",
    )
    small = _bench.instructions([str(script), "20000"])
    large = _bench.instructions([str(script), "40000"])
    # Twice the loop, twice the count: the interpreter's start-up (tens of millions of
    # instructions, more than the loop's) is not in the window.
    assert 1.8 < large / small < 2.2


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_an_excluded_gap_inside_the_window_is_not_counted(tmp_path: Path) -> None:
    """What runs in ``_bench.excluded`` inside the window is left out (a nested
    ``measured`` is not: callgrind toggles only on a function's outermost entry)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import _bench
    finally:
        sys.path.remove(str(BENCHMARKS))
    script = tmp_path / "gap.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(BENCHMARKS)!r})
            import _bench

            def work(n):
                total = 0
                for i in range(n):
                    total += i
                return total

            gap = int(sys.argv[1])
            _bench.measured(lambda: (work(20000), _bench.excluded(lambda: work(gap))))
            """
        ),
        encoding="utf-8",
    )
    without = _bench.instructions([str(script), "0"])
    with_gap = _bench.instructions([str(script), "200000"])  # ten times the counted loop
    assert 0.9 < with_gap / without < 1.1


def test_async_save_benchmark_reports_both_ways_and_the_ratio(tmp_path: Path) -> None:
    stdout, data = _run("bench_async_save.py", tmp_path=tmp_path)
    assert data["benchmark"] == "async_save" and data["quick"] is True
    assert set(data["seconds"]) == {
        "sync",
        "async, blocked",
        "async, until durable",
        "step",
        "step during a write",
    }
    assert all(_positive(v) for v in data["seconds"].values())
    assert _positive(data["async_blocked_over_sync"]) and data["checkpoint_bytes"] > 0
    assert "async / sync" in stdout
    assert not list(tmp_path.glob("tmp*"))  # the checkpoints were removed


def test_tox_bench_runs_every_benchmark_script() -> None:
    text = (ROOT / "tox.ini").read_text(encoding="utf-8")
    section = text.split("[testenv:bench]", 1)[1].split("\n[", 1)[0]
    scripts = sorted(p.name for p in BENCHMARKS.glob("bench_*.py"))
    assert scripts == [
        "bench_async_save.py",
        "bench_discovery.py",
        "bench_dispatch.py",
        "bench_fsdp_memory.py",
        "bench_registration.py",
        "bench_resume.py",
        "bench_trainer.py",
        "bench_triggers.py",
    ]
    for script in scripts:
        assert f"benchmarks/{script}" in section, f"tox -e bench does not run {script}"


@pytest.mark.slow
def test_cli_profile_hooks_logs_the_report(tmp_path: Path) -> None:
    (tmp_path / "tinyjob.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch import nn
            from torch.utils.data import DataLoader, Dataset
            from hookwise import Callback

            class Data(Dataset):
                def __init__(self, n, seed):
                    generator = torch.Generator().manual_seed(seed)
                    self.x = torch.randn(n, 4, generator=generator)
                    self.y = (self.x.sum(1) > 0).long()
                def __len__(self):
                    return len(self.x)
                def __getitem__(self, i):
                    return {"inputs": self.x[i], "labels": self.y[i]}

            def loader(split, batch_size=4):
                train = split == "train"
                return DataLoader(Data(12 if train else 8, 0 if train else 1),
                                  batch_size=batch_size, shuffle=train)

            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.linear = nn.Linear(4, 2)
                def forward(self, inputs):
                    return {"logits": self.linear(inputs)}

            class Marker(Callback):
                def on_train_batch_end(self, trainer_state, model, loss_module, outputs,
                                       batch, batch_idx):
                    return None
            """
        ),
        encoding="utf-8",
    )
    (tmp_path / "job.toml").write_text(
        tiny_job(
            "tinyjob:Model",
            train={"target": "tinyjob:loader", "split": "train"},
            val={"target": "tinyjob:loader", "split": "val"},
            seed=0,
        ),
        encoding="utf-8",
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path), HOOKWISE_DISABLE_PLUGIN_AUTOLOAD="1")
    env.pop("HOOKWISE_PLUGINS", None)
    options = ["-p", "tinyjob:Marker", "--profile-hooks", "--output-dir", str(tmp_path / "runs")]
    done = subprocess.run(
        [sys.executable, "-m", "hookwise", "fit", "job.toml", *options],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "hookwise hook profile: fit " in done.stderr
    # the sanity pass before training (DESIGN decision 24) and two validations
    assert "6 training steps" in done.stderr and "3 evaluation passes" in done.stderr
    (row,) = [line for line in done.stderr.splitlines() if "on_train_batch_end" in line]
    assert row.split()[:3] == ["tinyjob:Marker", "on_train_batch_end", "6"]


def test_cli_flag_maps_to_the_trainer_switch() -> None:
    from hookwise import cli

    parser = cli.build_parser()
    for command in (["fit"], ["test", "--weights", "last"]):
        on = parser.parse_args([*command, "--profile-hooks"])
        off = parser.parse_args(command)
        assert cli._trainer_flag_kwargs(on) == {"profile_hooks": True}
        assert cli._trainer_flag_kwargs(off) == {}
