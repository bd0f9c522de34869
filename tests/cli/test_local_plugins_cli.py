"""Local plugins from the command line: ``-p ./file.py:Object``, a config's ``plugins_file``,
``-p no:`` and the allow-list by path, and ``hookwise plugins CONFIG`` listing them with their
paths; a real ``hookwise fit`` runs them."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from clikit import TINY_CONFIG, explain, run_hookwise

NO_DEFAULTS = {"HOOKWISE_DISABLE_PLUGIN_AUTOLOAD": "1"}

MARKS = '''
import json
from pathlib import Path

from hookwise import Callback, hooks


class Mark(Callback):
    """Writes the epochs it saw into ``marks.json`` (in the current folder) at the end.

    :param label: written with them.
    """

    def __init__(self, label: str = "mark"):
        super().__init__()
        self.label = label
        self.epochs = []

    def on_train_epoch_end(self, trainer_state, model, loss_module):
        self.epochs.append(trainer_state["current_epoch"])

    def on_fit_end(self, trainer_state, model):
        Path("marks.json").write_text(json.dumps({"label": self.label, "epochs": self.epochs}))


@hooks.on_validation_end
def note_validation(metrics):
    with open("validations.txt", "a") as out:
        out.write(f"{len(metrics)}\\n")
'''


def _project(tmp_path: Path) -> Path:
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "marks.py").write_text(textwrap.dedent(MARKS), encoding="utf-8")
    (tmp_path / "run.toml").write_text(TINY_CONFIG, encoding="utf-8")
    return tmp_path


@pytest.mark.slow
def test_fit_runs_a_plugin_from_a_file(tmp_path: Path) -> None:
    project = _project(tmp_path)
    fit = run_hookwise(
        "fit", "run.toml", "-p", "./local/marks.py:Mark:label=here", cwd=project, env=NO_DEFAULTS
    )
    assert fit.returncode == 0, explain(fit)
    assert json.loads((project / "marks.json").read_text()) == {"label": "here", "epochs": [0, 1]}
    assert not (project / "validations.txt").exists()  # only the object named


@pytest.mark.slow
def test_a_plugins_file_named_in_the_config_and_blocked_by_path(tmp_path: Path) -> None:
    project = _project(tmp_path)
    configs = project / "configs"
    configs.mkdir()
    text = 'plugins_file = "../local/marks.py"\n' + TINY_CONFIG
    (configs / "run.toml").write_text(text, encoding="utf-8")
    fit = run_hookwise("fit", "configs/run.toml", cwd=project, env=NO_DEFAULTS)
    assert fit.returncode == 0, explain(fit)
    assert json.loads((project / "marks.json").read_text())["epochs"] == [0, 1]
    # the sanity pass before training (DESIGN decision 24), two validations, the final test
    assert len((project / "validations.txt").read_text().splitlines()) == 4

    (project / "marks.json").unlink()
    blocked = run_hookwise(
        "fit", "configs/run.toml", "-p", "no:local/marks.py:Mark", cwd=project, env=NO_DEFAULTS
    )
    assert blocked.returncode == 0, explain(blocked)
    assert not (project / "marks.json").exists()

    dry = run_hookwise("fit", "configs/run.toml", "--dry-run", cwd=project, env=NO_DEFAULTS)
    assert f'[plugins."{project}/local/marks.py"]' in dry.stdout, dry.stdout
    assert "#   on_validation_end: local/marks.py\n" in dry.stdout
    assert "#   on_fit_end: local/marks.py:Mark\n" in dry.stdout


@pytest.mark.slow
def test_the_allow_list_names_files_by_path(tmp_path: Path) -> None:
    project = _project(tmp_path)
    # the job's own module is allowed too: the allow-list covers every import (docs/security.md)
    allowed_names = "./local/marks.py:Mark,cli_test_plugins,torch.optim:SGD,torch.nn"
    env = {**NO_DEFAULTS, "HOOKWISE_ALLOWED_PLUGINS": allowed_names}
    args = ("fit", "run.toml", "--dry-run", "-p")
    refused = run_hookwise(*args, "./local/marks.py", cwd=project, env=env)
    assert refused.returncode == 2
    assert "plugin './local/marks.py' is not in the allow-list" in refused.stderr
    allowed = run_hookwise(*args, "local/marks.py:Mark", cwd=project, env=env)
    assert allowed.returncode == 0, explain(allowed)


@pytest.mark.slow
def test_plugins_lists_the_config_s_local_plugins_with_their_paths(tmp_path: Path) -> None:
    project = _project(tmp_path)
    text = '[plugins."local/marks.py:Mark"]\nlabel = "x"\n\n' + TINY_CONFIG
    (project / "local.toml").write_text(text, encoding="utf-8")
    listed = run_hookwise("plugins", "local.toml", cwd=project)
    assert listed.returncode == 0, explain(listed)
    line = next(row for row in listed.stdout.splitlines() if row.startswith("local/marks.py:Mark"))
    assert f"{project}/local/marks.py:Mark" in line and "local file, enabled by local.toml" in line
    rows = json.loads(run_hookwise("plugins", "local.toml", "--json", cwd=project).stdout)
    assert rows[0]["path"] == f"{project}/local/marks.py"
    inspected = run_hookwise("plugins", "local.toml", "--inspect", cwd=project)
    assert "    hooks: on_train_epoch_end, on_fit_end" in inspected.stdout, explain(inspected)
    plain = run_hookwise("plugins", cwd=project)
    assert "marks.py" not in plain.stdout  # nothing is picked up unnamed
