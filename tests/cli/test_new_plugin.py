"""``hookwise new-plugin``: the distribution it writes is shaped after its name (class,
entry point, package, hooks), refuses a name that is installed, installs with pip, appears in
``hookwise plugins`` in a fresh process, enables by name, and passes its own tests unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomllib
from clikit import explain, run_hookwise
from hookwise.cli import main
from hookwise.hookspecs import HOOK_NAMES
from hookwise.scaffold import names_for
from hookwise.scaffold.recipes import hooks_for


def test_names() -> None:
    assert names_for("grad-norm") == {
        "name": "grad_norm",
        "dash_name": "grad-norm",
        "distribution": "hookwise-grad-norm",
        "package": "hookwise_grad_norm",
        "class_name": "GradNorm",
        "title": "Grad norm",
    }
    assert names_for("Probe2")["class_name"] == "Probe2"


@pytest.mark.parametrize("name", ["2fast", "bad name", "a--b", "x/y", "", "class", "x-"])
def test_unusable_names_are_refused(
    name: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["new-plugin", name, "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"new-plugin: {name!r}" in err
    assert not any(tmp_path.iterdir())


def test_writes_a_project_shaped_after_its_name_and_refuses_to_overwrite(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["new-plugin", "grad_norm", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "plugin 'grad_norm', class GradNorm" in out
    assert "hooks: on_train_batch_end, on_before_optimizer_step" in out
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
        "grad_norm": "hookwise_grad_norm:GradNorm"
    }
    assert "hookwise" in meta["project"]["dependencies"]
    source = (project / "src/hookwise_grad_norm/__init__.py").read_text()
    assert "class GradNorm(Callback):" in source
    assert (
        "    def on_before_optimizer_step(\n        self,\n        trainer_state: TrainerState,"
        in source
    )
    assert "def on_validation_end" not in source
    compile(source, "plugin", "exec")
    tests = (project / "tests/test_grad_norm.py").read_text()
    assert "def test_on_before_optimizer_step(" in tests and 'NAME = "grad_norm"' in tests
    compile(tests, "tests", "exec")
    readme = (project / "README.md").read_text()
    assert "| `window` | `10` |" in readme and "`on_before_optimizer_step`" in readme
    assert f"pip install -e {project}" in out

    assert main(["new-plugin", "grad_norm", "--dir", str(tmp_path)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err


def test_hooks_come_from_the_name_or_from_the_option() -> None:
    assert hooks_for("early_stop") == ["on_validation_end"]
    assert hooks_for("top5_accuracy") == [
        "on_test_epoch_start",
        "on_test_batch_end",
        "on_test_epoch_end",
    ]
    assert hooks_for("lr_watch") == ["on_train_epoch_end"]
    assert hooks_for("widget") == ["on_train_batch_end", "on_validation_end"]
    assert hooks_for("widget", "on_fit_end, setup") == ["setup", "on_fit_end"]
    with pytest.raises(ValueError, match="did you mean 'on_fit_end'"):
        hooks_for("widget", "on_fit_ends")


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_every_hook_has_a_body_and_a_test(hook: str, tmp_path: Path) -> None:
    assert main(["new-plugin", "one", "--hooks", hook, "--dir", str(tmp_path)]) == 0
    source = (tmp_path / "hookwise-one/src/hookwise_one/__init__.py").read_text()
    assert f"    def {hook}(" in source
    compile(source, "plugin", "exec")
    tests = (tmp_path / "hookwise-one/tests/test_one.py").read_text()
    assert f"def test_{hook}(" in tests
    compile(tests, "tests", "exec")


@pytest.mark.parametrize(
    ("name", "named"),
    [
        ("logging", "a plugin named 'logging' is already installed (distribution hookwise-logging"),
        ("Early-Stopping", "a plugin named 'early_stopping' is already installed"),
        ("lightning", "the distribution hookwise-lightning 0.1.0 is already installed"),
    ],
)
def test_a_name_that_is_installed_is_refused(
    name: str, named: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["new-plugin", name, "--dir", str(tmp_path)]) == 2
    assert named in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_scaffold_installs_lists_enables_and_passes_its_tests(tmp_path: Path, plugin_venv) -> None:
    """A plugin with every hook (so every recipe's test runs), installed into a venv."""
    every = ",".join(HOOK_NAMES)
    made = run_hookwise("new-plugin", "probe", "--hooks", every, "--dir", "work", cwd=tmp_path)
    assert made.returncode == 0, explain(made)
    project = tmp_path / "work" / "hookwise-probe"
    plugin_venv.install(project)

    # A fresh process of the venv sees it at once, from metadata.
    listed = plugin_venv.run(["-m", "hookwise", "plugins", "--json"], cwd=tmp_path)
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["probe"]["distribution"] == "hookwise-probe"
    assert rows["probe"]["target"] == "hookwise_probe:Probe"
    inspected = plugin_venv.run(["-m", "hookwise", "plugins", "--inspect"], cwd=tmp_path)
    assert "hooks: setup, on_train_epoch_start, on_train_batch_start," in inspected.stdout

    # Enabled by name from the command line.
    dry = plugin_venv.run(
        ["-m", "hookwise", "fit", "--dry-run", "-p", "probe:window=5"], cwd=tmp_path
    )
    assert "[plugins.probe]\nwindow = 5\n" in dry.stdout
    assert "#   on_before_optimizer_step: probe\n" in dry.stdout

    # Its own tests pass unchanged, against the installed copy: one per hook.
    tests = plugin_venv.run(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=project, check=False
    )
    assert tests.returncode == 0, explain(tests)
    assert f"{len(HOOK_NAMES) + 1} passed" in tests.stdout, tests.stdout

    # A second plugin of the same name is refused now that it is installed.
    again = plugin_venv.run(
        ["-m", "hookwise", "new-plugin", "probe", "--dir", "again"], cwd=tmp_path, check=False
    )
    assert again.returncode == 2
    assert "a plugin named 'probe' is already installed (distribution hookwise-probe" in (
        again.stderr
    )


LOCAL = '''"""Local callbacks."""
from __future__ import annotations

import math
from collections import OrderedDict

from hookwise import Callback

SCALE = 2.0


def _norm(model):
    grads = [float(p.grad.norm()) ** 2 for p in model.parameters() if p.grad is not None]
    return math.sqrt(sum(grads)) * SCALE


class GradNorm(Callback):
    """The largest gradient norm seen.

    :param every: unused, shows a parameter.
    """

    def __init__(self, every: int = 1):
        super().__init__()
        self.every = every
        self.largest = 0.0

    def on_before_optimizer_step(self, trainer_state, model, optimizer):
        self.largest = max(self.largest, _norm(model))

    def state_dict(self):
        return {"largest": self.largest}

    def load_state_dict(self, state_dict):
        self.largest = state_dict["largest"]


class Other(Callback):
    def on_fit_end(self, trainer_state, model):
        print(OrderedDict())
'''


def test_from_moves_the_object_with_what_it_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "callbacks.py").write_text(LOCAL)
    assert main(["new-plugin", "--from", "./callbacks.py:GradNorm:every=2", "--dir", "out"]) == 0
    out = capsys.readouterr().out
    assert "plugin 'grad_norm', GradNorm from ./callbacks.py:GradNorm:every=2" in out
    assert "enable it as -p grad_norm" in out
    project = tmp_path / "out" / "hookwise-grad-norm"
    source = (project / "src/hookwise_grad_norm/__init__.py").read_text()
    assert "from __future__ import annotations\n\nimport math\nfrom hookwise import Callback" in (
        source
    )
    assert "SCALE = 2.0" in source and "def _norm(model):" in source
    assert "class GradNorm(Callback):" in source
    assert "Other" not in source and "OrderedDict" not in source
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["hookwise.plugins"] == {
        "grad_norm": "hookwise_grad_norm:GradNorm"
    }
    tests = (project / "tests/test_grad_norm.py").read_text()
    assert "PARAMS = {'every': 2}" in tests and "HOOKS = ['on_before_optimizer_step']" in tests
    assert (tmp_path / "callbacks.py").read_text() == LOCAL  # the local file is left alone


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("./callbacks.py", "must name one object of a Python file"),
        ("./callbacks.py:Other", "must document what it does in its docstring"),
        ("./callbacks.py:Missing", "has no object 'Missing'"),
        ("./nope.py:GradNorm", "plugin file './nope.py' does not exist"),
    ],
)
def test_from_refuses_what_cannot_be_published(
    spec: str,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "callbacks.py").write_text(LOCAL)
    assert main(["new-plugin", "--from", spec, "--dir", "out"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_local_plugin_published_installs_and_passes_its_tests(
    tmp_path: Path, plugin_venv
) -> None:
    (tmp_path / "callbacks.py").write_text(LOCAL)
    local = plugin_venv.run(
        ["-m", "hookwise", "fit", "--dry-run", "-p", "./callbacks.py:GradNorm"], cwd=tmp_path
    )
    assert "#   on_before_optimizer_step: callbacks.py:GradNorm\n" in local.stdout
    made = run_hookwise("new-plugin", "--from", "./callbacks.py:GradNorm", cwd=tmp_path)
    assert made.returncode == 0, explain(made)
    project = tmp_path / "hookwise-grad-norm"
    plugin_venv.install(project)
    dry = plugin_venv.run(["-m", "hookwise", "fit", "--dry-run", "-p", "grad_norm"], cwd=tmp_path)
    assert "#   on_before_optimizer_step: grad_norm\n" in dry.stdout
    tests = plugin_venv.run(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=project, check=False
    )
    assert tests.returncode == 0, explain(tests)
    assert "2 passed" in tests.stdout
