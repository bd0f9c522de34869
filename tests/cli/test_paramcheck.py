"""Configured plugin parameters checked against the constructor's annotations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pytest
from hookwise import Callback
from hookwise.errors import ConfigError
from hookwise.paramcheck import annotations_of, check_param_types, matches


class Plugin(Callback):
    def __init__(
        self,
        patience: int = 3,
        min_delta: float = 0.0,
        mode: Literal["min", "max"] = "min",
        monitor: str | None = None,
        top_k: Sequence[int] = (1,),
        weights: dict[str, float] | None = None,
        flag: bool = False,
        anything: Any = None,
        thing: Unresolvable = None,  # type: ignore[name-defined]  # noqa: F821
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"patience": "three"}, "parameter 'patience' must be int, got 'three' (str)"),
        ({"patience": 2.5}, "parameter 'patience' must be int"),
        ({"patience": True}, "parameter 'patience' must be int, got True (bool)"),
        ({"min_delta": "small"}, "parameter 'min_delta' must be float"),
        ({"mode": "maxx"}, "parameter 'mode' must be one of 'min', 'max', got 'maxx'"),
        ({"monitor": 5}, "parameter 'monitor' must be str | None, got 5 (int)"),
        ({"top_k": [1, "5"]}, "parameter 'top_k' must be Sequence[int]"),
        ({"top_k": 5}, "parameter 'top_k' must be Sequence[int]"),
        ({"weights": {"a": "x"}}, "parameter 'weights' must be dict[str, float] | None"),
        ({"flag": 1}, "parameter 'flag' must be bool"),
        ({"epoch_based": "yes"}, "parameter 'epoch_based' must be bool"),
    ],
)
def test_ill_typed_parameters_are_named_with_what_they_take(
    params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        check_param_types(Plugin, params, "my_plugin")
    text = str(caught.value)
    assert text.startswith("plugin 'my_plugin': ") and message in text
    assert "It accepts: patience, min_delta, mode, monitor" in text
    assert "epoch_based, train_connector, test_connector" in text


def test_values_that_fit_or_cannot_be_checked_pass() -> None:
    check_param_types(
        Plugin,
        {
            "patience": 4,
            "min_delta": 1,  # an int is a fine float
            "mode": "max",
            "monitor": "val/loss",
            "top_k": [1, 5],
            "weights": {"a": 1.0},
            "flag": True,
            "anything": {"target": "x:y"},
            "thing": [1],  # the annotation does not resolve: not checked
            "test_connector": {"preds": {"pred": "logits"}},  # an unresolvable annotation
            "unknown": 1,  # unknown names are the plugin manager's business
        },
        "my_plugin",
    )
    assert "thing" not in annotations_of(Plugin)
    assert set(annotations_of(Plugin)) >= {"patience", "epoch_based"}
    # Callback's connector annotations name a class imported only for type checking.
    assert "train_connector" not in annotations_of(Plugin)


def test_matches_says_when_it_cannot_tell() -> None:
    assert matches(3, int) is True
    assert matches("x", int) is False
    assert matches(object(), Plugin) is None
    assert matches("abc", Sequence[str]) is None  # a string is a sequence of strings
    assert matches({"a": 1}, Mapping[str, int]) is True
    assert matches([1, "a"], tuple[int, str]) is True
    assert matches([1, 2, 3], tuple[int, str]) is False
    assert matches("x", Literal["x", 1]) is True and matches(True, Literal[1]) is False


def test_factories_are_checked_too() -> None:
    def factory(threshold: float = 0.5, *, name: str = "x") -> list[Any]:
        return []

    with pytest.raises(ConfigError, match="parameter 'threshold' must be float"):
        check_param_types(factory, {"threshold": "high"}, "made")
    check_param_types(factory, {"threshold": 1, "name": "y"}, "made")
