"""The ``plugin_venv`` fixture: a throwaway venv that sees this one's packages."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from support.venvs import PluginVenv, write_plugin_distribution

HELLO = """
from hookwise import Callback

class Hello(Callback):
    '''Says hello at the start of a fit.'''

    def on_fit_start(self, trainer_state, model):
        print("hello from the plugin")
"""


@pytest.mark.slow
def test_child_sees_parent_packages_but_not_the_reverse(
    plugin_venv: PluginVenv, tmp_path: Path
) -> None:
    probe = (
        "import json, sys, hookwise, pip, pluggy; "
        "print(json.dumps([sys.prefix, hookwise.__file__]))"
    )
    prefix, hookwise_file = json.loads(plugin_venv.run(["-c", probe]).stdout)
    assert Path(prefix) == plugin_venv.root
    import hookwise

    assert Path(hookwise_file) == Path(hookwise.__file__)  # the editable install, inherited

    project = write_plugin_distribution(
        tmp_path / "hello",
        "hookwise-venv-probe",
        entry_points={"venv_probe": "hookwise_venv_probe:Hello"},
        files={"hookwise_venv_probe/__init__.py": HELLO},
    )
    plugin_venv.install(project)
    assert plugin_venv.installed_here() == ["hookwise-venv-probe"]
    listing = plugin_venv.run(
        [
            "-c",
            "import hookwise; print([p.name for p in hookwise.PluginManager().installed()])",
        ]
    )
    assert "venv_probe" in listing.stdout
    # The parent environment did not change.
    from hookwise.discovery import installed_plugins

    assert "venv_probe" not in [p.name for p in installed_plugins()]
    with pytest.raises(ModuleNotFoundError):
        __import__("hookwise_venv_probe")


def test_run_reports_a_failure_with_its_output(plugin_venv: PluginVenv) -> None:
    with pytest.raises(AssertionError, match=r"exit code 3(.|\n)*boom on stderr"):
        plugin_venv.run(["-c", "import sys; sys.stderr.write('boom on stderr'); sys.exit(3)"])
    result = plugin_venv.run(["-c", "raise SystemExit(2)"], check=False)
    assert result.returncode == 2


def test_environment_is_scrubbed_and_extendable(
    plugin_venv: PluginVenv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOKWISE_ALLOWED_PLUGINS", "nothing")
    monkeypatch.setenv("KEEP_ME", "kept")
    code = "import os, json; print(json.dumps({k: os.environ.get(k) for k in "
    code += "['HOOKWISE_ALLOWED_PLUGINS', 'KEEP_ME', 'ADDED', 'VIRTUAL_ENV']}))"
    seen = json.loads(plugin_venv.run(["-c", code], env={"ADDED": "1", "KEEP_ME": None}).stdout)
    assert seen == {
        "HOOKWISE_ALLOWED_PLUGINS": None,
        "KEEP_ME": None,
        "ADDED": "1",
        "VIRTUAL_ENV": str(plugin_venv.root),
    }


@pytest.mark.slow
def test_console_script_of_an_inherited_distribution_runs_in_the_child(
    plugin_venv: PluginVenv, tmp_path: Path
) -> None:
    script = plugin_venv.bin("hookwise")
    assert script.parent == plugin_venv.bin_dir
    first = script.read_text().splitlines()[0]
    assert first == f"#!{plugin_venv.python}"
    project = write_plugin_distribution(
        tmp_path / "tool",
        "venv-tool",
        entry_points={},
        files={"venv_tool.py": "import sys\ndef main():\n    print(sys.prefix)\n"},
        scripts={"venv-tool": "venv_tool:main"},
    )
    # A distribution installed into the child gets its console script from pip.
    plugin_venv.install(project)
    tool = plugin_venv.bin("venv-tool")
    out = plugin_venv.run_command([tool])
    assert Path(out.stdout.strip()) == plugin_venv.root
    with pytest.raises(LookupError, match="no console script 'no-such-tool'"):
        plugin_venv.bin("no-such-tool")


def test_uninstall_never_touches_inherited_distributions(plugin_venv: PluginVenv) -> None:
    with pytest.raises(ValueError, match="never uninstalled"):
        plugin_venv.uninstall("hookwise")


def test_write_plugin_distribution_refuses_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="files is empty"):
        write_plugin_distribution(tmp_path / "a", "a", entry_points={}, files={})
    with pytest.raises(ValueError, match="relative path inside src"):
        write_plugin_distribution(tmp_path / "b", "b", entry_points={}, files={"../x.py": ""})
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        write_plugin_distribution(tmp_path / "c", "c", entry_points={}, files={"c.py": ""})


def test_the_fixture_runs_under_this_interpreter_version(plugin_venv: PluginVenv) -> None:
    out = plugin_venv.run(["-c", "import sys; print(sys.version_info[:2])"]).stdout
    assert out.strip() == str(sys.version_info[:2])
