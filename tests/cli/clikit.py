"""Helpers for the command-line tests: run ``hookwise`` as a user would, in a subprocess.

Importable as ``clikit`` (``tests/cli/conftest.py`` puts this folder on ``sys.path``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from hookwise.testing import tiny_job

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

#: The source folders of the tree under test (core and every bundled plugin). They go on each
#: child's PYTHONPATH after the test's own entries, so that the child runs this tree's code
#: even when the installed (editable) hookwise is another checkout, such as a second worktree.
SOURCES = [str(ROOT / "core"), *sorted(str(src) for src in (ROOT / "plugins").glob("*/src"))]

#: A tiny job (cli_test_plugins.py): trains in well under a second.
TINY_CONFIG = tiny_job(
    "cli_test_plugins:TinyModel",
    train={"target": "cli_test_plugins:tiny_loader", "n": 32},
    val={"target": "cli_test_plugins:tiny_loader", "n": 16, "seed": 1},
    test={"target": "cli_test_plugins:tiny_loader", "n": 16, "seed": 2},
    num_threads=1,
)

_SCRUBBED = (
    "HOOKWISE_PLUGINS",
    "HOOKWISE_ALLOWED_PLUGINS",
    "HOOKWISE_DISABLE_PLUGIN_AUTOLOAD",
    "PYTHONPATH",
)

RunHookwise = Callable[..., subprocess.CompletedProcess[str]]


def _source_folders() -> list[str]:
    """The folders of this environment's ``PYTHONPATH`` that hold hookwise's own packages
    (``hookwise``, ``hookwise_*``: a checkout put before the installed copy), so that the
    command runs the code under test."""
    folders = []
    for folder in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        path = Path(folder)
        if folder and path.is_dir() and any(path.glob("hookwise*/__init__.py")):
            folders.append(folder)
    return folders


def explain(result: subprocess.CompletedProcess[str]) -> str:
    """The exit code, stdout and stderr of a run, for assertion messages."""
    return (
        f"exit {result.returncode}\n--- stdout ---\n{result.stdout}\n"
        f"--- stderr ---\n{result.stderr}"
    )


def hookwise_env(extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """This environment without hookwise's variables, with the test plugins importable and
    this tree's sources (:data:`SOURCES`) after the test's own ``PYTHONPATH`` entries."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), *_source_folders()])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["OMP_NUM_THREADS"] = "1"
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    entries = [entry for entry in env.get("PYTHONPATH", "").split(os.pathsep) if entry]
    env["PYTHONPATH"] = os.pathsep.join([*entries, *SOURCES])
    return env


def run_hookwise(
    *args: str | os.PathLike[str],
    cwd: Path,
    env: Mapping[str, str | None] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``python -m hookwise ARGS`` in ``cwd``; stdout and stderr are text."""
    return subprocess.run(
        [sys.executable, "-m", "hookwise", *map(str, args)],
        cwd=cwd,
        env=hookwise_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
