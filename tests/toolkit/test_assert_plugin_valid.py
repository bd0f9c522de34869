"""assert_plugin_valid on real installed plugins: a valid one, and each way one can be broken."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hookwise import hookimpl
from hookwise.testing import PluginCheckFailed, PluginReport, assert_plugin_valid

GOOD = '''
"""Remembers the best validation loss."""
import torch
from hookwise import Callback


class BestLoss(Callback):
    """Remembers the best value of a validation metric.

    :param monitor: the key to watch.
    :param factor: a scale applied to it.
    """

    def __init__(self, monitor: str = "val/loss", factor: float = 1.0) -> None:
        super().__init__()
        self.monitor = monitor
        self.factor = factor
        self.best = torch.tensor(float("inf"))
        self.history: list[float] = []

    def on_validation_end(self, trainer_state, model, metrics):
        if self.monitor in metrics:
            value = metrics[self.monitor] * self.factor
            self.history.append(value)
            self.best = torch.minimum(self.best, torch.tensor(value))

    def state_dict(self):
        return {"best": self.best.clone(), "history": list(self.history), "monitor": self.monitor}

    def load_state_dict(self, state):
        self.best = state["best"].clone()
        self.history = list(state["history"])
'''

HOOKIMPLS = '''
"""Counts training batches (a module of @hookimpl functions)."""
from hookwise import hookimpl

@hookimpl
def on_train_batch_end(batch_idx):
    return {"batch_idx": batch_idx}
'''


def check(
    installed: Callable[..., Path],
    source: str,
    tmp_path: Path,
    target: str = "BestLoss",
    **params: Any,
) -> PluginReport:
    module = f"checked_{tmp_path.name}"[:60].replace("-", "_")
    value = f"{module}:{target}" if target else module
    installed("hookwise-checked", {"checked": value}, {module: source}, version="2.3")
    return assert_plugin_valid("checked", tmp_path=tmp_path / "check", **params)


def problems_of(
    installed: Callable[..., Path],
    source: str,
    tmp_path: Path,
    target: str = "BestLoss",
    **params: Any,
) -> str:
    with pytest.raises(PluginCheckFailed) as info:
        check(installed, source, tmp_path, target, **params)
    assert str(info.value).startswith("assert_plugin_valid('checked') found ")
    return str(info.value)


def test_a_valid_plugin_passes_and_is_reported(
    installed: Callable[..., Path], tmp_path: Path
) -> None:
    report = check(installed, GOOD, tmp_path, factor=2.0)
    assert (report.name, report.distribution, report.version) == (
        "checked",
        "hookwise-checked",
        "2.3",
    )
    assert report.target.endswith(":BestLoss")
    assert report.registered == ["checked"]
    assert report.hooks == {"checked": ["on_validation_end"]}
    assert report.params == ["monitor", "factor"]
    state = report.state["checked"]
    assert len(state["history"]) == 1 and float(state["best"]) == state["history"][0]


def test_a_module_of_hookimpls_passes(installed: Callable[..., Path], tmp_path: Path) -> None:
    installed(
        "hookwise-hookimpls", {"batches": "checked_hookimpls"}, {"checked_hookimpls": HOOKIMPLS}
    )
    report = assert_plugin_valid("batches", tmp_path=tmp_path)
    assert report.hooks == {"batches": ["on_train_batch_end"]}
    assert report.state == {} and report.params == []


def test_the_fixture_fills_tmp_path(
    assert_plugin_valid: Callable[..., PluginReport], installed: Callable[..., Path], tmp_path: Path
) -> None:
    installed(
        "hookwise-checked", {"checked": "checked_fixture:BestLoss"}, {"checked_fixture": GOOD}
    )
    assert assert_plugin_valid("checked", monitor="val/loss").hooks
    assert (tmp_path / "assert_plugin_valid" / "plugin-check" / "plugin-check.ckpt").is_file()


def test_not_installed_names_the_closest(installed: Callable[..., Path], tmp_path: Path) -> None:
    installed("hookwise-checked", {"checked": "checked_x:BestLoss"}, {"checked_x": GOOD})
    with pytest.raises(
        PluginCheckFailed,
        match=r"no installed hookwise plugin is named 'chekced'\. Did you mean 'checked'",
    ):
        assert_plugin_valid("chekced", tmp_path=tmp_path)


def test_an_entry_point_that_fails_to_import(
    installed: Callable[..., Path], tmp_path: Path
) -> None:
    text = problems_of(installed, "import no_such_dependency_xyz\n", tmp_path)
    assert "plugin 'checked' (distribution hookwise-checked 2.3) failed to import" in text
    assert "ModuleNotFoundError: No module named 'no_such_dependency_xyz'" in text


def test_undocumented_and_stale_parameters(installed: Callable[..., Path], tmp_path: Path) -> None:
    source = GOOD.replace(
        "    :param factor: a scale applied to it.\n", "    :param patience: epochs.\n"
    )
    text = problems_of(installed, source, tmp_path)
    assert "found 2 problems" in text
    assert "accepts parameter(s) ['factor'] that its docstring does not document" in text
    assert "':param factor: what it does and its default.'" in text
    assert "documents parameter(s) ['patience'] that it does not accept" in text


def test_other_documentation_styles_count(installed: Callable[..., Path], tmp_path: Path) -> None:
    google = GOOD.replace(
        ":param monitor: the key to watch.", "Args:\n        monitor (str): the key."
    )
    numpy = google.replace(":param factor: a scale applied to it.", "factor : float\n        scale")
    assert check(installed, numpy, tmp_path).params == ["monitor", "factor"]


def test_a_missing_docstring(installed: Callable[..., Path], tmp_path: Path) -> None:
    source = GOOD.replace(
        '''    """Remembers the best value of a validation metric.

    :param monitor: the key to watch.
    :param factor: a scale applied to it.
    """
''',
        "",
    )
    text = problems_of(installed, source, tmp_path)
    assert "class BestLoss" in text and "has no docstring" in text


def test_a_misspelled_hook_method(installed: Callable[..., Path], tmp_path: Path) -> None:
    source = GOOD.replace("def on_validation_end(", "def on_validation_ends(")
    text = problems_of(installed, source, tmp_path)
    assert "method 'on_validation_ends' is not a hookwise hook" in text
    assert "did you mean 'on_validation_end'?" in text
    assert "implements no hook" in text


def test_a_misspelled_hookimpl(installed: Callable[..., Path], tmp_path: Path) -> None:
    text = problems_of(
        installed,
        HOOKIMPLS.replace("def on_train_batch_end", "def on_train_batch_ends"),
        tmp_path,
        target="",
    )
    assert "'on_train_batch_ends' is marked @hookimpl but there is no hook named" in text
    assert "Did you mean 'on_train_batch_end'?" in text


def test_a_hookimpl_asking_for_an_argument_its_hook_lacks(
    installed: Callable[..., Path], tmp_path: Path
) -> None:
    text = problems_of(
        installed, HOOKIMPLS.replace("(batch_idx)", "(batch_index)"), tmp_path, target=""
    )
    assert (
        "hook 'on_train_batch_end': argument(s) ['batch_index'] are not arguments of the hook"
        in text
    )


def test_unknown_parameters(installed: Callable[..., Path], tmp_path: Path) -> None:
    text = problems_of(installed, GOOD, tmp_path, patience=3)
    assert "has no parameter(s) ['patience']. It accepts: ['monitor', 'factor'" in text


def test_state_that_weights_only_loading_refuses(
    installed: Callable[..., Path], tmp_path: Path
) -> None:
    source = GOOD.replace(
        '"monitor": self.monitor}',
        '"monitor": self.monitor, "where": __import__("pathlib").Path("x")}',
    )
    text = problems_of(installed, source, tmp_path)
    assert "state_dict() holds values torch.load(weights_only=True) refuses" in text
    assert "state['where'] is a pathlib." in text
    assert "a path as str(path)" in text


def test_state_that_load_state_dict_does_not_restore(
    installed: Callable[..., Path], tmp_path: Path
) -> None:
    source = GOOD.replace('        self.history = list(state["history"])\n', "")
    text = problems_of(installed, source, tmp_path)
    assert (
        "after a checkpoint round trip, load_state_dict() followed by state_dict() differs" in text
    )
    assert "state['history']: saved [" in text and "got []" in text


def test_a_versioned_state_passes_the_round_trip(
    installed: Callable[..., Path], tmp_path: Path
) -> None:
    """A plugin at state_version 2 reads its own checkpoints without migrate_state."""
    source = GOOD.replace(
        "    def __init__(self, monitor", "    state_version = 2\n\n    def __init__(self, monitor"
    )
    report = check(installed, source, tmp_path)
    assert report.state["checked"]["monitor"] == "val/loss"


def test_state_without_load_state_dict(installed: Callable[..., Path], tmp_path: Path) -> None:
    source = GOOD.replace("def load_state_dict(self, state):", "def _load(self, state):")
    text = problems_of(installed, source, tmp_path)
    assert "has state_dict() but no load_state_dict(state)" in text


def test_a_plugin_that_fails_during_the_fit(installed: Callable[..., Path], tmp_path: Path) -> None:
    source = GOOD.replace(
        "        if self.monitor in metrics:", "        metrics[self.monitor]\n        if True:"
    )
    text = problems_of(installed, source, tmp_path, monitor="val/accuracy")
    assert "plugin 'checked' failed in a one-epoch run_fit" in text
    assert "KeyError: 'val/accuracy'" in text
    assert "plugin 'checked' failed in hook 'on_validation_end' at epoch 0" in text
    assert "pass it as with_plugins=[...]" in text


def test_with_plugins_provides_what_it_needs(
    installed: Callable[..., Path], tmp_path: Path
) -> None:
    source = GOOD.replace(
        "        if self.monitor in metrics:", "        metrics[self.monitor]\n        if True:"
    )
    module = "checked_with"
    installed("hookwise-checked", {"checked": f"{module}:BestLoss"}, {module: source})
    report = assert_plugin_valid(
        "checked",
        with_plugins=[f"{__name__}:Accuracy"],
        monitor="val/accuracy",
        tmp_path=tmp_path,
    )
    assert report.state["checked"]["history"]


class Accuracy:
    """Returns a constant accuracy (a stand-in for an evaluator)."""

    @hookimpl
    def on_test_epoch_end(self) -> dict[str, float]:
        return {"accuracy": 0.5}
