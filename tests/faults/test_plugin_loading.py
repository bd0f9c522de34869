"""Plugin loading with a real, broken plugin distribution installed by pip into a throwaway venv.

``hookwise-faulty`` declares seven plugins: ``good`` (works), ``side_effect`` (works, but its
import is noticeable), ``import_error`` (its module raises on import), ``ctor_error`` (its
constructor raises), ``bad_hookimpl`` (a ``@hookimpl`` for a hook that does not exist),
``bad_argument`` (a hookimpl asking for an argument its hook lacks) and ``missing_module`` (an
entry point naming a module that is not there). Each module leaves a marker file when imported.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from faultkit import HERE
from support.venvs import PluginVenv, write_plugin_distribution

_MARK = """
import os, pathlib
_name = __name__.rsplit(".", 1)[-1]
pathlib.Path(os.environ["HOOKWISE_FAULTS_MARKERS"], _name + ".imported").touch()
"""

FILES = {
    "hookwise_faulty/__init__.py": '"""A plugin distribution whose plugins fail in every way."""\n',
    "hookwise_faulty/good.py": _MARK
    + """
from hookwise import Callback

class Plugin(Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, trainer_state, model, loss_module, outputs, batch, batch_idx):
        self.batches += 1
""",
    "hookwise_faulty/side_effect.py": _MARK
    + """
from hookwise import Callback

class Plugin(Callback):
    def on_fit_start(self, trainer_state, model):
        pass
""",
    "hookwise_faulty/import_error.py": _MARK + "\nimport hookwise_faulty_missing_dependency\n",
    "hookwise_faulty/ctor_error.py": _MARK
    + """
from hookwise import Callback

class Plugin(Callback):
    def __init__(self):
        raise RuntimeError("cannot reach the metrics server")
""",
    "hookwise_faulty/bad_hookimpl.py": _MARK
    + """
from hookwise import hookimpl

@hookimpl
def on_train_batch_ended(trainer_state):
    pass
""",
    "hookwise_faulty/bad_argument.py": _MARK
    + """
from hookwise import hookimpl

@hookimpl
def on_train_epoch_end(trainer_state, outputs):
    pass
""",
}
ENTRY_POINTS = {
    "good": "hookwise_faulty.good:Plugin",
    "side_effect": "hookwise_faulty.side_effect:Plugin",
    "import_error": "hookwise_faulty.import_error:Plugin",
    "ctor_error": "hookwise_faulty.ctor_error:Plugin",
    "bad_hookimpl": "hookwise_faulty.bad_hookimpl",
    "bad_argument": "hookwise_faulty.bad_argument",
    "missing_module": "hookwise_faulty.not_there:Plugin",
}


# every test reads one pip install into a venv (the module fixture probe): slow, and built by
# one worker (--dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("faulty-venv")]


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Install ``hookwise-faulty`` with pip into a fresh venv and run ``venv_probe.py`` there."""
    root = tmp_path_factory.mktemp("faulty")
    project = write_plugin_distribution(
        root / "src", "hookwise-faulty", entry_points=ENTRY_POINTS, files=FILES
    )
    venv = PluginVenv(root / "venv")
    venv.install(project)
    markers = root / "markers"
    markers.mkdir()
    result = venv.run(
        [HERE / "venv_probe.py", root / "run", markers],
        env={"PYTHONPATH": str(HERE), "HOOKWISE_FAULTS_MARKERS": str(markers)},
    )
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.fault("load.lazy")
def test_installed_plugins_are_not_imported_until_enabled(probe: dict[str, Any]) -> None:
    assert probe["installed"] == sorted(ENTRY_POINTS)
    assert probe["imported_after_discovery"] == []
    # A whole fit with one of them enabled imported that one only.
    assert probe["good_batches"] == 3
    assert probe["imported_after_fit"] == ["good"]
    # Enabling imports exactly what is enabled.
    assert "side_effect" not in probe["imported_after_blocking"]
    assert probe["side_effect"] == {"error": None, "registered_after": ["side_effect"]}
    assert "side_effect" in probe["imported_at_end"]


@pytest.mark.fault("load.broken-not-enabled")
def test_broken_plugins_break_nothing_while_not_enabled(probe: dict[str, Any]) -> None:
    # Discovery listed every one of them, and the fit with another plugin ran to its end.
    assert {"import_error", "ctor_error", "bad_hookimpl", "missing_module"} <= set(
        probe["installed"]
    )
    assert probe["good_batches"] == 3
    assert probe["imported_after_fit"] == ["good"]


@pytest.mark.fault("load.broken-enabled")
@pytest.mark.parametrize(
    ("name", "error", "fragments"),
    [
        (
            "import_error",
            "PluginLoadError",
            ["'import_error'", "hookwise-faulty 0.1.0", "hookwise_faulty_missing_dependency"],
        ),
        (
            "ctor_error",
            "PluginLoadError",
            ["'ctor_error'", "hookwise-faulty 0.1.0", "cannot reach the metrics server"],
        ),
        (
            "bad_hookimpl",
            "PluginValidationError",
            ["'bad_hookimpl'", "no hook named 'on_train_batch_ended'", "'on_train_batch_end'"],
        ),
        (
            "bad_argument",
            "PluginValidationError",
            ["'bad_argument'", "'on_train_epoch_end'", "['outputs']"],
        ),
        (
            "missing_module",
            "PluginLoadError",
            ["'missing_module'", "hookwise-faulty 0.1.0", "hookwise_faulty.not_there"],
        ),
    ],
)
def test_enabling_a_broken_plugin_names_it_and_registers_nothing(
    probe: dict[str, Any], name: str, error: str, fragments: list[str]
) -> None:
    outcome = probe["enable"][name]
    assert outcome["error"] == error, outcome
    for fragment in fragments:
        assert fragment in outcome["message"], (fragment, outcome["message"])
    assert outcome["registered_after"] == []


@pytest.mark.fault("load.allow-list")
def test_the_allow_list_refuses_other_plugins_without_importing_them(
    probe: dict[str, Any],
) -> None:
    refused = probe["allow_list"]["side_effect"]
    assert refused["error"] == "PluginBlockedError"
    assert "'side_effect' is not in the allow-list ['evaluator', 'good']" in refused["message"]
    assert "HOOKWISE_ALLOWED_PLUGINS" in refused["message"]
    by_path = probe["allow_list"]["import_path"]
    assert by_path["error"] == "PluginBlockedError" and by_path["registered_after"] == []
    assert probe["allow_list"]["good"] == {"error": None, "registered_after": ["good"]}
    assert "side_effect" not in probe["imported_after_blocking"]


@pytest.mark.fault("load.block")
def test_a_blocked_plugin_cannot_be_enabled_nor_imported(probe: dict[str, Any]) -> None:
    for outcome in probe["blocked"]:
        assert outcome["error"] == "PluginBlockedError", outcome
        assert "'side_effect' is blocked" in outcome["message"]
        assert outcome["registered_after"] == []
    assert "side_effect" not in probe["imported_after_blocking"]
