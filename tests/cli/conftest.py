"""Fixtures of the command-line tests (helpers are in ``clikit.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from clikit import TINY_CONFIG, RunHookwise, run_hookwise  # noqa: E402


@pytest.fixture
def hookwise(tmp_path: Path) -> RunHookwise:
    """Run ``python -m hookwise`` in ``tmp_path``: ``hookwise("fit", "--dry-run", env={...})``."""

    def run(
        *args: str | os.PathLike[str], env: Mapping[str, str | None] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_hookwise(*args, cwd=tmp_path, env=env)

    return run


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    """A config file for the tiny job, in ``tmp_path``."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_CONFIG, encoding="utf-8")
    return path
