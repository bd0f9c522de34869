"""hookwise.targets: import paths, ``{target = ...}`` tables, and :func:`build` by short name."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hookwise.errors import ConfigError
from hookwise.targets import build, declared, instantiate, known_names, resolve

MODULE = '''
class Meter:
    """Has both members of a "meter"; takes one keyword."""

    def __init__(self, scale: int = 1) -> None:
        self.scale = scale

    def read(self) -> int:
        return self.scale

    def reset(self) -> None:
        pass


def make_meter(scale: int = 1, **anything):
    """A factory taking any keyword."""
    meter = Meter(scale)
    meter.extra = anything
    return meter


def picky(level: int) -> Meter:
    if level < 0:
        raise ValueError("level must be >= 0")
    return Meter(level)


READY = Meter(7)


class Half:
    def read(self) -> int:
        return 0
'''


def _missing(obj: Any) -> list[str]:
    return [name for name in ("read", "reset") if not callable(getattr(obj, name, None))]


def _build(spec: Any, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "names": {"meter": "meters_mod:Meter", "ready": "meters_mod:READY"},
        "group": "hookwise_test.meters",
        "where": "plugin 'gauge'",
        "kind": "meter",
        "forms": "a short name, an import path, a table or a meter object",
        "missing": _missing,
        "base": "meters_mod.Meter",
        "plugin_params": ["every_n", "log_prefix"],
    }
    options.update(kwargs)
    return build(spec, params, **options)


@pytest.fixture(autouse=True)
def meters_mod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A module ``meters_mod`` and a distribution declaring ``plugged`` in the test group."""
    (tmp_path / "meters_mod.py").write_text(textwrap.dedent(MODULE))
    dist = tmp_path / "meters_dist-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: meters-dist\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[hookwise_test.meters]\nplugged = meters_mod:make_meter\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("meters_mod", None)
    yield
    sys.modules.pop("meters_mod", None)


def test_resolve_and_instantiate() -> None:
    assert resolve("meters_mod:Meter").__name__ == "Meter"
    assert resolve("meters_mod.Meter").__name__ == "Meter"
    assert instantiate({"target": "meters_mod:Meter", "scale": 3}).scale == 3
    assert instantiate({"target": {"data": "x"}}) == {"target": {"data": "x"}}
    with pytest.raises(ConfigError, match=r"\[m\]\.target: 'meters_mod' has no attribute 'Metre'"):
        instantiate({"target": "meters_mod:Metre"}, where="[m]")
    with pytest.raises(ConfigError, match=r"\[m\]: 'meters_mod:picky' rejected the arguments"):
        instantiate({"target": "meters_mod:picky", "nope": 1}, where="[m]")


def test_declared_and_known_names_read_entry_points() -> None:
    assert declared("hookwise_test.meters") == {"plugged": "meters_mod:make_meter"}
    assert known_names({"meter": "x:y"}, "hookwise_test.meters") == ["meter", "plugged"]
    assert known_names({"b": "x:y", "a": "x:z"}) == ["a", "b"]


def test_every_form_builds_the_object() -> None:
    assert _build("meter").scale == 1
    assert _build("meter", {"scale": 4}).scale == 4
    assert _build("plugged", {"scale": 2, "colour": "red"}).extra == {"colour": "red"}
    assert _build("meters_mod:Meter", {"scale": 5}).scale == 5
    assert _build("meters_mod.make_meter").scale == 1
    assert _build("ready").scale == 7  # a ready object is not called
    assert _build({"target": "meter", "scale": 6}).scale == 6
    assert _build({"target": "meters_mod:picky"}, {"level": 3}).scale == 3
    nested = _build({"target": "plugged", "inner": {"target": "meters_mod:Meter", "scale": 9}})
    assert nested.extra["inner"].scale == 9
    given = _build("meters_mod:Meter")
    assert _build(given) is given


def test_a_shipped_name_wins_over_a_declared_one() -> None:
    built = _build("plugged", names={"plugged": "meters_mod:Meter"})
    assert type(built).__name__ == "Meter" and not hasattr(built, "extra")


def test_unknown_names_list_the_known_ones_with_hints() -> None:
    with pytest.raises(ConfigError) as info:
        _build("metre")
    message = str(info.value)
    assert message.startswith("plugin 'gauge': there is no meter named 'metre'.")
    assert "Did you mean 'meter'" in message
    assert "Known names: meter, plugged, ready." in message
    assert "Or give a short name, an import path, a table or a meter object." in message
    with pytest.raises(ConfigError, match="there is no meter named 'nothing_close'"):
        _build({"target": "nothing_close"})
    with pytest.raises(ConfigError, match=r"plugin 'gauge'\.target: .* has no attribute 'Nope'"):
        _build({"target": "meters_mod:Nope"})


def test_unknown_parameters_suggest_the_factory_and_plugin_parameters() -> None:
    with pytest.raises(ConfigError) as info:
        _build("meter", {"scal": 2, "every": 3})
    message = str(info.value)
    assert "plugin 'gauge': unknown parameter(s) ['scal', 'every']." in message
    assert "Did you mean 'scale', 'every_n'?" in message
    assert "Meter Meter accepts ['scale']" in message
    assert "the plugin's own parameters are ['every_n', 'log_prefix']" in message
    with pytest.raises(ConfigError) as info:
        _build({"target": "meter", "zzz": 1}, plugin_params=())
    assert "Did you mean" not in str(info.value)
    assert "own parameters" not in str(info.value)


def test_a_factory_that_rejects_its_arguments_is_explained() -> None:
    with pytest.raises(ConfigError, match=r"picky could not be built with \{'level': -1\}: level"):
        _build("meters_mod:picky", {"level": -1})
    with pytest.raises(ConfigError, match=r"picky could not be built with \{\}: .* It accepts"):
        _build("meters_mod:picky")


def test_bad_specs_are_explained() -> None:
    with pytest.raises(ConfigError, match="plugin 'gauge': the parameter 'meter' is required"):
        _build(None)
    with pytest.raises(ConfigError, match="a meter table needs a 'target' key; give a short"):
        _build({"scale": 2})
    with pytest.raises(ConfigError, match=r"\['scale'\] given both in the meter table and beside"):
        _build({"target": "meter", "scale": 1}, {"scale": 2})
    with pytest.raises(ConfigError, match="already built, so they cannot go to it either"):
        _build("ready", {"scale": 2})
    with pytest.raises(ConfigError, match=r"is not a meter: it lacks \['reset'\]\. Subclass"):
        _build("meters_mod:Half")
    with pytest.raises(ConfigError, match=r"is not an evaluator: it lacks \['read', 'reset'\]"):
        _build(object(), kind="evaluator")
    with pytest.raises(ConfigError, match="expected an import path"):
        _build({"target": 3})
