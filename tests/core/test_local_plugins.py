"""Local plugins: a plugin from a file (``./callbacks.py:GradNorm``) and a project plugins file
(every ``@hookimpl`` function and public class in it), through the one loader: blocks and the
allow-list by path, the ``-p`` grammar, configs (paths relative to the config's folder,
``plugins_file``) and ``Trainer``/``run_fit``."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from hookwise import PluginManager
from hookwise.config import parse_plugin_option, resolve_config
from hookwise.config.specs import PluginBlock, PluginSpec
from hookwise.errors import (
    ConfigError,
    PluginBlockedError,
    PluginLoadError,
    PluginNotFoundError,
)
from hookwise.plugins import files
from hookwise.testing import run_fit

CALLBACKS = '''
from collections import OrderedDict  # an imported class: not a plugin of this file

import torch

from hookwise import Callback, hookimpl, hooks

SEEN = []


@hooks.on_validation_end
def remember_validation(metrics):
    SEEN.append(sorted(metrics))


class GradNorm(Callback):
    """Largest gradient norm.

    :param every: unused here.
    """

    def __init__(self, every: int = 1):
        super().__init__()
        self.every = every
        self.norms = []

    def on_before_optimizer_step(self, trainer_state, model, optimizer):
        norms = [p.grad.norm() for p in model.parameters() if p.grad is not None]
        self.norms.append(float(torch.stack(norms).norm()))


class Counter:
    def __init__(self):
        self.epochs = 0

    @hookimpl
    def on_train_epoch_end(self):
        self.epochs += 1


class _Helper:
    """Private: left out of the project plugins."""

    def __init__(self, needed):
        self.needed = needed
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (the current folder) with ``callbacks.py``."""
    (tmp_path / "callbacks.py").write_text(textwrap.dedent(CALLBACKS), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_names_with_a_slash_or_ending_in_py_are_files() -> None:
    assert files.split_file_spec("./callbacks.py:GradNorm") == ("./callbacks.py", "GradNorm")
    assert files.split_file_spec("callbacks.py") == ("callbacks.py", None)
    assert files.split_file_spec("tools/cb.py:A.B@fast") == ("tools/cb.py", "A.B")
    assert files.split_file_spec("package.module:Object") is None
    assert files.split_file_spec("early_stopping") is None
    assert files.canonical("./tools/../callbacks.py:GradNorm") == "callbacks.py:GradNorm"


def test_a_file_object_is_built_with_its_parameters_and_runs(project: Path) -> None:
    pm = PluginManager()
    assert pm.enable("./callbacks.py:GradNorm", every=3) == ["callbacks.py:GradNorm"]
    plugin = pm.get_plugin("callbacks.py:GradNorm")
    assert plugin.every == 3
    result = run_fit(["./callbacks.py:GradNorm"], epochs=1, batches=3)
    assert len(result.pm.get_plugin("callbacks.py:GradNorm").norms) == 3
    # imported once: both managers' objects come from the same module
    assert type(plugin) is type(result.pm.get_plugin("callbacks.py:GradNorm"))


def test_a_plugins_file_enables_its_functions_and_public_classes_in_file_order(
    project: Path,
) -> None:
    result = run_fit(["./callbacks.py"], epochs=2, batches=2)
    names = [n for n in result.pm.plugin_names() if n.startswith("callbacks.py")]
    assert names == ["callbacks.py", "callbacks.py:GradNorm", "callbacks.py:Counter"]
    assert result.pm.get_plugin("callbacks.py:Counter").epochs == 2
    module = result.pm.get_plugin("callbacks.py")
    assert len(module.SEEN) == 3  # two validations and the test
    assert result.pm.get_plugin("callbacks.py:_Helper") is None


def test_blocks_compare_the_file(project: Path) -> None:
    pm = PluginManager()
    pm.block(str(project / "callbacks.py") + ":GradNorm")  # absolute spelling
    assert pm.enable("callbacks.py") == ["callbacks.py", "callbacks.py:Counter"]
    with pytest.raises(PluginBlockedError, match="blocked"):
        pm.enable("./callbacks.py:GradNorm")
    whole = PluginManager()
    whole.block("./callbacks.py")
    with pytest.raises(PluginBlockedError):
        whole.enable("callbacks.py:Counter")
    assert not PluginManager().is_blocked("callbacks.py")


def test_the_allow_list_compares_the_file(project: Path) -> None:
    one = PluginManager(allowed=["./callbacks.py:GradNorm"])
    assert one.enable("callbacks.py:GradNorm") == ["callbacks.py:GradNorm"]
    with pytest.raises(PluginBlockedError, match="not in the allow-list"):
        one.enable("callbacks.py:Counter")
    with pytest.raises(PluginBlockedError, match="not in the allow-list"):
        one.enable("./callbacks.py")  # the whole file is more than the entry allows
    every = PluginManager(allowed=[str(project / "callbacks.py")])
    assert len(every.enable("./callbacks.py")) == 3
    with pytest.raises(PluginBlockedError):
        PluginManager(allowed=["callbacks"]).enable("./callbacks.py:GradNorm")


def test_errors_name_the_file_and_the_fix(project: Path) -> None:
    pm = PluginManager()
    with pytest.raises(PluginNotFoundError, match=r"plugin file './nope.py' does not exist"):
        pm.enable("./nope.py:X")
    with pytest.raises(PluginLoadError, match=r"has no object 'GradNrm'. Did you mean 'GradNorm'"):
        pm.enable("./callbacks.py:GradNrm")
    (project / "broken.py").write_text("import not_a_module_at_all\n")
    with pytest.raises(PluginLoadError, match=r"broken.py.*failed to import: ModuleNotFoundError"):
        pm.enable("./broken.py")
    (project / "needs.py").write_text("class Needs:\n    def __init__(self, x):\n        pass\n")
    with pytest.raises(PluginLoadError, match=r"class 'Needs' cannot be built without arguments"):
        pm.enable("./needs.py")
    (project / "empty.py").write_text("X = 1\n")
    with pytest.raises(PluginLoadError, match="defines no plugin"):
        pm.enable("./empty.py")
    with pytest.raises(ConfigError, match="takes no parameters"):
        pm.enable("./callbacks.py", every=2)
    assert pm.plugin_names() == []


def test_the_p_grammar_reads_files() -> None:
    option = parse_plugin_option("./callbacks.py:GradNorm:every=2")
    assert option == PluginSpec("./callbacks.py:GradNorm", {"every": 2})
    assert option.key == "callbacks.py:GradNorm"
    assert parse_plugin_option("no:tools/cb.py") == PluginBlock("tools/cb.py")
    assert parse_plugin_option("cb.py") == PluginSpec("cb.py")


def test_a_config_names_files_relative_to_its_folder(project: Path) -> None:
    configs = project / "configs"
    configs.mkdir()
    (configs / "hooks.py").write_text(
        "from hookwise import hooks\n\n@hooks.on_fit_end\ndef end():\n    pass\n"
    )
    config = {
        "plugins_file": "hooks.py",
        "plugins": {"../callbacks.py:GradNorm": {"every": 4}},
        "allowed_plugins": ["hooks.py", "../callbacks.py", "logging"],
    }
    source = str(configs / "run.toml")
    (configs / "run.toml").write_text("")
    resolved = resolve_config(config, source=source)
    names = [spec.name for spec in resolved.plugins.specs]
    assert names[:2] == ["./configs/hooks.py", "./callbacks.py:GradNorm"]
    assert resolved.plugins.specs[1].params == {"every": 4}
    # Written back with absolute paths: the saved config reads the same from anywhere.
    written = resolved.to_dict()
    assert written["plugins"][str(configs / "hooks.py")] == {}
    assert str(project / "callbacks.py") in written["allowed_plugins"]
    blocked = resolve_config(config, source=source, plugin_args=["no:./configs/hooks.py"])
    assert "./configs/hooks.py" not in [s.name for s in blocked.plugins.specs]


def test_plugins_file_must_be_python_files(project: Path) -> None:
    with pytest.raises(ConfigError, match="plugins_file must be the path of a Python file"):
        resolve_config({"plugins_file": "hooks.txt"})
    with pytest.raises(ConfigError, match="plugins_file must be"):
        resolve_config({"plugins_file": ["a.py:Obj"]})


def test_relative_paths_follow_the_current_folder(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    with pytest.raises(PluginNotFoundError, match=str(elsewhere / "callbacks.py")):
        PluginManager().enable("./callbacks.py:GradNorm")
    assert PluginManager().enable(f"{project}/callbacks.py:GradNorm") == [
        f"{project}/callbacks.py:GradNorm"
    ]
