"""Fixtures shared by every test folder under ``tests/``.

``support`` (``tests/support/``) is made importable here, because pytest runs in
``--import-mode=importlib`` and does not put the test folders on ``sys.path``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from support.venvs import PluginVenv  # noqa: E402


@pytest.fixture
def plugin_venv(tmp_path_factory: pytest.TempPathFactory) -> PluginVenv:
    """A fresh throwaway venv that sees this environment's packages (torch, pip, hookwise).

    Install a distribution into it with ``plugin_venv.install(path)`` (pip, no dependencies,
    no build isolation, no index); run its Python with ``plugin_venv.run(["-c", code])``
    (raises with stdout and stderr on a non-zero exit unless ``check=False``); get a console
    script with ``plugin_venv.bin("hookwise")``. The parent environment is never changed.
    ``support.venvs.write_plugin_distribution`` writes a throwaway plugin distribution::

        def test_installed(plugin_venv, tmp_path):
            project = write_plugin_distribution(
                tmp_path / "hello", "hookwise-hello",
                entry_points={"hello": "hookwise_hello:Hello"},
                files={"hookwise_hello/__init__.py": "from hookwise import Callback\\n"
                                                     "class Hello(Callback): ..."},
            )
            plugin_venv.install(project)
            out = plugin_venv.run(["-c", "import hookwise; "
                                   "print([p.name for p in hookwise.PluginManager().installed()])"])
            assert "hello" in out.stdout
    """
    return PluginVenv(tmp_path_factory.mktemp("venv"))
