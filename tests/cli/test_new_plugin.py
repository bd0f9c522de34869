"""``hookwise new-plugin``: the distribution it writes installs with pip, appears in
``hookwise plugins`` in a fresh process, enables by name, and passes its own tests unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomllib
from clikit import explain, run_hookwise
from hookwise.cli import main
from hookwise.scaffold import names_for


def test_names() -> None:
    assert names_for("grad-norm") == {
        "name": "grad_norm",
        "dash_name": "grad-norm",
        "distribution": "hookwise-grad-norm",
        "package": "hookwise_grad_norm",
        "class_name": "GradNormCallback",
        "title": "Grad norm",
    }
    assert names_for("Probe2")["class_name"] == "Probe2Callback"


@pytest.mark.parametrize("name", ["2fast", "bad name", "a--b", "x/y", "", "class", "x-"])
def test_unusable_names_are_refused(
    name: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["new-plugin", name, "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"new-plugin: {name!r}" in err
    assert not any(tmp_path.iterdir())


def test_writes_a_complete_project_and_refuses_to_overwrite(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["new-plugin", "grad_norm", "--dir", str(tmp_path)]) == 0
    project = tmp_path / "hookwise-grad-norm"
    files = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "pyproject.toml",
        "src/hookwise_grad_norm/__init__.py",
        "tests/test_grad_norm.py",
    ]
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "hookwise-grad-norm"
    assert meta["project"]["entry-points"]["hookwise.plugins"] == {
        "grad_norm": "hookwise_grad_norm:GradNormCallback"
    }
    assert "hookwise" in meta["project"]["dependencies"]
    source = (project / "src/hookwise_grad_norm/__init__.py").read_text()
    assert "class GradNormCallback(Callback):" in source and "get_test_callback_inputs" in source
    compile(source, "plugin", "exec")
    compile((project / "tests/test_grad_norm.py").read_text(), "tests", "exec")
    assert "| `min_confidence` |" in (project / "README.md").read_text()
    assert f"pip install -e {project}" in capsys.readouterr().out

    assert main(["new-plugin", "grad_norm", "--dir", str(tmp_path)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err


@pytest.mark.slow
def test_scaffold_installs_lists_enables_and_passes_its_tests(tmp_path: Path, plugin_venv) -> None:
    made = run_hookwise("new-plugin", "probe", "--dir", "work", cwd=tmp_path)
    assert made.returncode == 0, explain(made)
    project = tmp_path / "work" / "hookwise-probe"
    plugin_venv.install(project)

    # A fresh process of the venv sees it at once, from metadata.
    listed = plugin_venv.run(["-m", "hookwise", "plugins", "--json"], cwd=tmp_path)
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["probe"]["distribution"] == "hookwise-probe"
    assert rows["probe"]["target"] == "hookwise_probe:ProbeCallback"
    inspected = plugin_venv.run(["-m", "hookwise", "plugins", "--inspect"], cwd=tmp_path)
    assert "hooks: on_test_epoch_start, on_test_batch_end, on_test_epoch_end" in inspected.stdout

    # Enabled by name from the command line.
    dry = plugin_venv.run(
        ["-m", "hookwise", "fit", "--dry-run", "-p", "probe:min_confidence=0.8"], cwd=tmp_path
    )
    assert "[plugins.probe]\nmin_confidence = 0.8\n" in dry.stdout
    assert "#   on_test_epoch_end: probe, evaluator\n" in dry.stdout

    # Its own tests pass unchanged, against the installed copy.
    tests = plugin_venv.run(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=project, check=False
    )
    assert tests.returncode == 0, explain(tests)
    assert " passed" in tests.stdout and "failed" not in tests.stdout
