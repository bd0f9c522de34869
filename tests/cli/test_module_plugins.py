"""``-p mypkg.hooks``: a module of ``@hookimpl`` functions, by its dotted path (DESIGN decision
26: a dotted name is an entry point if one matches, else a module path); and the current folder
importable from the ``hookwise`` script as under ``python -m hookwise``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from clikit import TINY_CONFIG, explain, hookwise_env
from hookwise import PluginLoadError, PluginManager

HOOKS = """\
from hookwise import hookimpl


@hookimpl
def on_fit_start(trainer_state, model):
    print("fit start from mypkg.hooks")
"""
CALLBACK = """\
from hookwise import Callback


class Hello(Callback):
    def on_fit_start(self, trainer_state, model):
        print("fit start from cb:Hello")
"""


def _project(folder: Path) -> None:
    (folder / "mypkg").mkdir()
    (folder / "mypkg" / "__init__.py").write_text("", encoding="utf-8")
    (folder / "mypkg" / "hooks.py").write_text(HOOKS, encoding="utf-8")
    (folder / "cb.py").write_text(CALLBACK, encoding="utf-8")
    (folder / "job.toml").write_text(TINY_CONFIG, encoding="utf-8")


def _script() -> str:
    script = Path(sys.executable).with_name("hookwise")
    assert script.is_file(), f"the hookwise script is not installed beside {sys.executable}"
    return str(script)


@pytest.mark.slow
def test_the_hookwise_script_enables_modules_and_objects_of_the_current_folder(
    tmp_path: Path,
) -> None:
    _project(tmp_path)
    result = subprocess.run(
        [_script(), "fit", "job.toml", "--epochs", "1", "-p", "mypkg.hooks", "-p", "cb:Hello"],
        cwd=tmp_path,
        env=hookwise_env({"HOOKWISE_DISABLE_PLUGIN_AUTOLOAD": "1"}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, explain(result)
    assert "fit start from mypkg.hooks" in result.stdout
    assert "fit start from cb:Hello" in result.stdout


def test_a_dotted_module_path_is_a_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    pm = PluginManager()
    assert pm.enable("mypkg.hooks") == ["mypkg.hooks"]
    assert pm.hook_order("on_fit_start") == ["mypkg.hooks"]
    sys.modules.pop("mypkg.hooks", None)
    sys.modules.pop("mypkg", None)


def test_a_module_that_does_not_import_says_how_to_fix_it() -> None:
    with pytest.raises(PluginLoadError) as info:
        PluginManager().enable("nopkg_for_sure.hooks")
    message = str(info.value)
    assert "no installed hookwise plugin is named 'nopkg_for_sure.hooks'" in message
    assert "No module named 'nopkg_for_sure'" in message
    assert "PYTHONPATH" in message and "current folder" in message


def test_the_current_folder_is_importable_only_while_the_command_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hookwise.cli.app import current_folder_importable

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    with current_folder_importable():
        assert sys.path[-1] == str(tmp_path)  # after the installed packages
    assert str(tmp_path) not in sys.path
