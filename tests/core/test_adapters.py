"""Adapters (entry-point group ``hookwise.adapters``): foreign callback objects become plugins."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hookwise import (
    Callback,
    ConfigError,
    PluginBlockedError,
    PluginLoadError,
    PluginValidationError,
    Trainer,
    hookimpl,
)
from hookwise.testing import IsolatedPluginManager, run_fit

#: Every object the test adapters were asked about, in order.
offered: list[Any] = []


class ForeignCallback:
    """A callback written for another trainer: hook-named methods, no hookwise marker."""

    def __init__(self, tag: str = "x") -> None:
        self.tag = tag
        self.seen: list[tuple[str, int]] = []

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        self.seen.append(("epoch_end", trainer["current_epoch"]))


class Wrapper:
    """What the test adapter makes of a ``ForeignCallback``."""

    def __init__(self, foreign: ForeignCallback) -> None:
        self.foreign = foreign

    @hookimpl
    def on_train_epoch_end(self, trainer_state: Any, model: Any) -> None:
        self.foreign.on_train_epoch_end(trainer_state, model)


def adapt_foreign(obj: Any) -> Any:
    offered.append(obj)
    return Wrapper(obj) if isinstance(obj, ForeignCallback) else None


def adapt_nothing(obj: Any) -> Any:
    offered.append(obj)
    return None


def adapt_badly(obj: Any) -> Any:
    return object()


def adapt_raising(obj: Any) -> Any:
    raise RuntimeError("adapter exploded")


def adapt_refusing(obj: Any) -> Any:
    raise ConfigError(f"{type(obj).__name__} overrides a hook nobody can call")


class Native(Callback):
    def on_train_epoch_end(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
        pass


@pytest.fixture(autouse=True)
def _clear_offered() -> None:
    offered.clear()


def _pm(*adapters: tuple[str, str], **options: Any) -> IsolatedPluginManager:
    pm = IsolatedPluginManager(**options)
    for name, target in adapters:
        pm.add_adapter(name, f"{__name__}:{target}")
    return pm


def test_an_object_enabled_by_import_path_is_adapted_and_runs(tmp_path: Path) -> None:
    pm = _pm(("foreign", "adapt_foreign"))
    assert pm.enable(f"{__name__}:ForeignCallback", tag="y") == [f"{__name__}:ForeignCallback"]
    wrapper = pm.get_plugin(f"{__name__}:ForeignCallback")
    assert isinstance(wrapper, Wrapper) and wrapper.foreign.tag == "y"
    run_fit(pm=pm, epochs=2, tmp_path=tmp_path, test=False)
    assert wrapper.foreign.seen == [("epoch_end", 0), ("epoch_end", 1)]


def test_trainer_callbacks_and_run_fit_objects_are_adapted(
    fit_parts: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    parts = fit_parts()
    foreign = ForeignCallback()
    with pytest.raises(PluginValidationError, match=r"'ForeignCallback'.*implements no hook"):
        Trainer(**parts["trainer"], num_epochs=1, callbacks=[foreign], plugins=_pm())

    pm = _pm(("foreign", "adapt_foreign"))
    trainer = Trainer(**parts["trainer"], num_epochs=1, callbacks=[foreign], plugins=pm)
    trainer.fit(parts["model"], [parts["optimizer"]], [], parts["loss"])
    assert foreign.seen == [("epoch_end", 0)]

    other = ForeignCallback()
    run_fit([other], pm=_pm(("foreign", "adapt_foreign")), epochs=1, tmp_path=tmp_path)
    assert other.seen == [("epoch_end", 0)]


def test_enable_object_names_and_adapts() -> None:
    pm = _pm(("foreign", "adapt_foreign"))
    assert pm.enable_object(ForeignCallback()) == "ForeignCallback"
    assert pm.enable_object(ForeignCallback()) == "ForeignCallback#2"
    assert pm.enable_object(ForeignCallback(), "mine", on_error="warn") == "mine"
    assert isinstance(pm.get_plugin("mine"), Wrapper)
    assert pm.error_policy("mine") == "warn"


def test_objects_with_hooks_are_never_offered() -> None:
    pm = _pm(("nothing", "adapt_nothing"))
    pm.enable(f"{__name__}:Native")
    pm.enable_object(Native())
    assert offered == []
    foreign = ForeignCallback()
    with pytest.raises(
        PluginValidationError, match=r"implements no hook.*No installed adapter \(nothing\) took it"
    ):
        pm.enable_object(foreign)
    assert offered == [foreign]  # offered, refused: an object without hooks is an error
    assert pm.get_plugin("ForeignCallback") is None


def test_adapters_are_imported_only_for_objects_without_hooks(
    fake_dist: Callable[..., Path],
) -> None:
    fake_dist(
        "demo-adapter",
        {"demo": "demo_adapter_mod:adapt"},
        modules={"demo_adapter_mod": "def adapt(obj):\n    return None\n"},
        group="hookwise.adapters",
    )
    pm = IsolatedPluginManager(entry_points=True)
    assert "demo" in [a.name for a in pm.installed_adapters()]
    pm.enable_object(Native())
    assert "demo_adapter_mod" not in sys.modules
    with pytest.raises(PluginValidationError, match="implements no hook"):
        pm.enable_object(ForeignCallback())
    assert "demo_adapter_mod" in sys.modules
    sys.modules.pop("demo_adapter_mod")


def test_the_first_adapter_that_accepts_wins() -> None:
    pm = _pm(("a_nothing", "adapt_nothing"), ("b_foreign", "adapt_foreign"))
    foreign = ForeignCallback()
    pm.enable_object(foreign)
    assert offered == [foreign, foreign]
    assert isinstance(pm.get_plugin("ForeignCallback"), Wrapper)


def test_blocked_or_unlisted_adapters_are_not_used() -> None:
    pm = _pm(("foreign", "adapt_foreign"))
    pm.block("foreign")
    with pytest.raises(PluginBlockedError, match=r"adapter\(s\) \['foreign'\]"):
        pm.enable_object(ForeignCallback())
    allowed = _pm(("foreign", "adapt_foreign"), allowed=[f"{__name__}:ForeignCallback"])
    with pytest.raises(PluginBlockedError, match="allow-list"):
        allowed.enable(f"{__name__}:ForeignCallback")
    both = _pm(("foreign", "adapt_foreign"), allowed=[f"{__name__}:ForeignCallback", "foreign"])
    assert both.enable(f"{__name__}:ForeignCallback") == [f"{__name__}:ForeignCallback"]


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        ("adapt_badly", PluginLoadError, "into an object with no hookwise hook implementation"),
        ("adapt_raising", PluginLoadError, "RuntimeError: adapter exploded"),
        ("adapt_refusing", ConfigError, "ForeignCallback overrides a hook nobody can call"),
        ("no_such_function", PluginLoadError, "failed to import"),
        ("offered", PluginLoadError, "is not callable"),
    ],
)
def test_adapter_failures_name_the_adapter(
    target: str, error: type[Exception], message: str
) -> None:
    pm = _pm(("bad", target))
    with pytest.raises(error, match=message) as info:
        pm.enable(f"{__name__}:ForeignCallback")
    text = str(info.value) + "\n".join(getattr(info.value, "__notes__", []))
    assert "adapter 'bad'" in text
    assert pm.plugin_names() == []
