"""The random-kill trials: ``hookwise fit`` killed (SIGKILL or SIGTERM) at a random moment,
resumed with ``--resume last`` until it finishes, and every file of its run folder compared
with an uninterrupted run's.

The job (:data:`JOB`): 3 epochs of 3 steps with validation after each epoch and a final test,
epoch checkpoints (``checkpoint``, ``keep_last=2``, best by accuracy) and step checkpoints
(``checkpoint@steps``, every 2 steps, ``keep_last=2``), ``metrics.csv`` with the curves
(``logging``, a progress row every 2 steps, so a resume lands inside a running mean) and
``metrics.jsonl`` (``logging@jsonl``, which only listens: its own means would be logged
again under ``train/loss@logging@jsonl``). The moment is a hook call drawn from every call of the
run (training steps, validation, the final test) plus a delay of 0-15 ms, so the signal also
lands inside checkpoint writes and file flushes (:mod:`killer`).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hookwise.checkpointing import load_checkpoint
from hookwise.testing import tiny_job
from killer import COUNT_VARIABLE, KILL_VARIABLE

HERE = Path(__file__).resolve().parent

JOB = tiny_job(
    "faultkit:TinyModel",
    train={"target": "faultkit:tiny_loader", "n": 12, "shuffle": True},
    val={"target": "faultkit:tiny_loader", "n": 8, "seed": 1},
    test={"target": "faultkit:tiny_loader", "n": 8, "seed": 2},
)
ARGS = (
    "--epochs", "3", "--seed", "7",
    "-p", "killer:KillAt",
    "-p", "logging:refresh_rate=2",
    "-p", 'logging@jsonl:epoch_based=false,refresh_rate=1000,metrics_file="jsonl"',
    "-p", "checkpoint:keep_last=2",
    "-p", "checkpoint@steps:epoch_based=false,checkpoint_period=2,keep_last=2",
)  # fmt: skip
#: Resumes after which a trial gives up (each resume may be interrupted again only by a bug).
MAX_RESUMES = 3

#: Files compared by content only where they hold no time, process or path of this machine:
#: ``.hookwise.lock`` names the process that held the run (a pid and a time: always differs).
NOT_COMPARED = {".hookwise.lock"}
#: ``run.json`` keys that legitimately differ: ``updated`` is a wall-clock time, ``argv`` has
#: the resume's ``--resume last``, ``resumed_from`` names the checkpoint the trial resumed.
RUN_JSON_VOLATILE = {"updated", "argv", "resumed_from"}


def env(**extra: str) -> dict[str, str]:
    """The child's environment: this folder importable, no HOOKWISE_ setting of the caller."""
    out = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HOOKWISE_") and k not in (KILL_VARIABLE, COUNT_VARIABLE)
    }
    paths = [str(HERE), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    out.update(PYTHONPATH=os.pathsep.join(paths), OMP_NUM_THREADS="1", **extra)
    return out


def fit(work: Path, *extra: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    """``hookwise fit job.toml ARGS --output-dir out EXTRA`` in ``work``."""
    job = work / "job.toml"
    if not job.exists():
        work.mkdir(parents=True, exist_ok=True)
        job.write_text(JOB, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "hookwise", "fit", "job.toml", *ARGS, "--output-dir", "out", *extra],
        cwd=work,
        env=env(**env_extra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def newest_run(work: Path) -> Path:
    runs = sorted(p for p in (work / "out").iterdir() if p.is_dir())
    assert runs, f"no run folder under {work / 'out'}"
    return runs[-1]


@dataclass
class Reference:
    """The uninterrupted run: its folder and how many hook calls the killer counted."""

    run: Path
    calls: int


def reference_run(work: Path) -> Reference:
    count = work / "calls.txt"
    result = fit(work, **{COUNT_VARIABLE: str(count)})
    assert result.returncode == 0, explain(result)
    return Reference(newest_run(work), int(count.read_text(encoding="utf-8")))


@dataclass
class Trial:
    """One trial: the kill, and every command run until the job finished."""

    at: int
    delay_ms: int
    signum: int
    exits: list[int]
    run: Path

    def describe(self) -> str:
        name = signal.Signals(self.signum).name
        return f"{name} at hook call {self.at} + {self.delay_ms} ms, exits {self.exits}"


def run_trial(work: Path, reference: Reference, rng: random.Random, signum: int) -> Trial:
    """Start the job, kill it at a random moment, resume until it finishes."""
    at = rng.randint(1, reference.calls)
    delay = rng.choice([0, 0, rng.randint(1, 15)])
    first = fit(work, **{KILL_VARIABLE: f"{at},{delay},{signum}"})
    exits = [first.returncode]
    for _ in range(MAX_RESUMES):
        if exits[-1] == 0:
            break
        has_run = (work / "out").is_dir() and any((work / "out").iterdir())
        result = fit(work, "--resume", "last") if has_run else fit(work)
        if result.returncode == 2 and "no complete checkpoint" in result.stderr:
            result = fit(work)  # killed before the first checkpoint: start again
        exits.append(result.returncode)
    return Trial(at, delay, signum, exits, newest_run(work))


# -- comparing run folders -------------------------------------------------------------------


def run_files(run: Path) -> set[str]:
    """Every file of a run folder, relative to it (the lock file excluded)."""
    return {
        p.relative_to(run).as_posix()
        for p in run.rglob("*")
        if p.is_file() and p.name not in NOT_COMPARED
    }


def _same(a: Any, b: Any, where: str, diffs: list[str]) -> None:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and torch.equal(a, b)
        ):
            diffs.append(f"{where}: tensors differ")
    elif isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                diffs.append(f"{where}.{key}: only in {'reference' if key in a else 'trial'}")
            else:
                _same(a[key], b[key], f"{where}.{key}", diffs)
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            diffs.append(f"{where}: {len(a)} items vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _same(x, y, f"{where}[{i}]", diffs)
    elif a != b:
        diffs.append(f"{where}: {a!r:.80} vs {b!r:.80}")


def _checkpoint(path: Path, run: Path) -> dict[str, Any]:
    """A checkpoint's content with the run folder's absolute path (in the checkpoint plugins'
    ``folder``: the reference and the trial run in different folders) made relative."""
    content = load_checkpoint(path)
    for state in content.get("plugins", {}).values():
        if isinstance(state, dict) and isinstance(state.get("folder"), str):
            state["folder"] = os.path.relpath(state["folder"], run)
    return content


def differences(reference: Path, trial: Path) -> list[str]:
    """What differs between two run folders: file sets, then each file's content."""
    diffs: list[str] = []
    mine, theirs = run_files(reference), run_files(trial)
    for name in sorted(mine - theirs):
        diffs.append(f"{name}: missing after the resume")
    for name in sorted(theirs - mine):
        diffs.append(f"{name}: only after the resume")
    for name in sorted(mine & theirs):
        a, b = reference / name, trial / name
        if name.endswith(".ckpt"):
            _same(_checkpoint(a, reference), _checkpoint(b, trial), name, diffs)
        elif name == "run.json":
            ra, rb = (json.loads(p.read_text(encoding="utf-8")) for p in (a, b))
            for key in RUN_JSON_VOLATILE:
                ra.pop(key, None)
                rb.pop(key, None)
            _same(ra, rb, name, diffs)
        elif a.read_bytes() != b.read_bytes():
            diffs.append(f"{name}: content differs")
    return diffs
