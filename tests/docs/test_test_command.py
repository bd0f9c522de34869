"""The test command is written once: the README's, which CI and the docs repeat word for word,
runs the suite in parallel with pytest-xdist (installed and pinned by the development
requirements) and groups the tests that share an expensive fixture."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _commands(text: str) -> list[str]:
    return re.findall(r"^(python -m pytest\b.*)$", text, flags=re.MULTILINE)


def test_ci_and_the_docs_run_the_readme_s_test_command() -> None:
    readme = _commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(readme) == 1, readme
    command = readme[0]
    assert " -n auto" in command and "--dist loadgroup" in command, command
    assert _commands((ROOT / ".ci" / "run").read_text(encoding="utf-8")) == [command]
    started = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    assert command in _commands(started)
    assert f"(`{command}`)" in (ROOT / "docs" / "faults.md").read_text(encoding="utf-8")


def test_pytest_xdist_is_a_development_requirement_with_a_pinned_version() -> None:
    requirements = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()
    assert "pytest-xdist" in requirements
    constraints = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    assert re.search(r"^pytest-xdist==\d+\.\d+\.\d+$", constraints, flags=re.MULTILINE)
