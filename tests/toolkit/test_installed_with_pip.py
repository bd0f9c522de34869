"""The toolkit on plugins really installed with pip, in a fresh process of a throwaway venv."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.venvs import PluginVenv, write_plugin_distribution

pytestmark = pytest.mark.slow

PLUGIN = '''
"""Remembers the lowest validation loss."""
from hookwise import Callback


class LowestLoss(Callback):
    """Remembers the lowest value of a validation metric and logs it.

    :param monitor: the key to watch (``val/loss`` by default).
    """

    def __init__(self, monitor: str = "val/loss") -> None:
        super().__init__()
        self.monitor = monitor
        self.lowest = float("inf")

    def on_validation_end(self, trainer_state, model, metrics):
        if self.monitor in metrics:
            self.lowest = min(self.lowest, metrics[self.monitor])

    def on_test_epoch_end(self, trainer_state, model):
        return {"lowest": self.lowest}

    def state_dict(self):
        return {"lowest": self.lowest}

    def load_state_dict(self, state):
        self.lowest = state["lowest"]
'''

BROKEN = '''
"""A plugin with a state a safe load refuses."""
import pathlib
from hookwise import Callback


class KeepsAPath(Callback):
    """Keeps a path in its state."""

    def on_train_epoch_end(self, trainer_state, model, loss_module):
        pass

    def state_dict(self):
        return {"where": pathlib.Path("somewhere")}

    def load_state_dict(self, state):
        pass
'''

TESTS = """
import sys

import pytest

from hookwise.testing import PluginCheckFailed


def test_lowest_loss_is_valid(assert_plugin_valid):
    report = assert_plugin_valid("lowest_loss", monitor="val/loss")
    assert report.distribution == "hookwise-lowest-loss"
    assert report.version == "0.3.0"
    assert report.hooks == {"lowest_loss": ["on_test_epoch_end", "on_validation_end"]}
    assert sys.modules["hookwise_lowest_loss"].__file__.startswith(sys.prefix)


def test_lowest_loss_runs_by_name(run_fit):
    result = run_fit(["lowest-loss"], epochs=2)
    val_losses = [m["val/loss"] for m in result.calls.values("on_validation_end", "metrics")[:2]]
    # The test pass logs the lowest loss of the two validations before it.
    assert result.metrics["test/lowest"] == min(val_losses)
    result.calls.assert_called("on_validation_end", times=3, plugin="lowest_loss")


def test_keeps_a_path_is_reported(assert_plugin_valid):
    with pytest.raises(PluginCheckFailed) as info:
        assert_plugin_valid("keeps_a_path")
    print(info.value)
    assert "state['where'] is a pathlib." in str(info.value)
"""


def test_assert_plugin_valid_on_plugins_installed_with_pip(
    plugin_venv: PluginVenv, tmp_path: Path
) -> None:
    good = write_plugin_distribution(
        tmp_path / "good",
        "hookwise-lowest-loss",
        version="0.3.0",
        entry_points={"lowest_loss": "hookwise_lowest_loss:LowestLoss"},
        files={"hookwise_lowest_loss/__init__.py": PLUGIN},
        dependencies=["hookwise", "torch>=2.1"],
    )
    broken = write_plugin_distribution(
        tmp_path / "broken",
        "hookwise-keeps-a-path",
        entry_points={"keeps_a_path": "hookwise_keeps_a_path:KeepsAPath"},
        files={"hookwise_keeps_a_path.py": BROKEN},
    )
    plugin_venv.install(good, broken)
    assert sorted(plugin_venv.installed_here()) == ["hookwise-keeps-a-path", "hookwise-lowest-loss"]
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_installed.py").write_text(TESTS)
    run = plugin_venv.run(
        ["-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "-s", str(suite)],
        cwd=suite,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "3 passed" in output
    # The failure message a plugin author would read.
    assert "assert_plugin_valid('keeps_a_path') found 1 problem:" in output
    assert "torch.load(weights_only=True) refuses" in output
