"""The ``-p NAME[:key=value,...]`` / ``HOOKWISE_PLUGINS`` spec parser (DESIGN decision 7)."""

from __future__ import annotations

import contextlib
import math
import string

import pytest
from hookwise.config import (
    PluginBlock,
    PluginSpec,
    format_plugin_option,
    parse_plugin_option,
    parse_value,
    plugin_specs_from_env,
)
from hookwise.errors import ConfigError
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("text", "name", "params"),
    [
        ("early_stopping", "early_stopping", {}),
        ("early-stopping", "early-stopping", {}),
        ("evaluator@top5", "evaluator@top5", {}),
        ("early_stopping:patience=3", "early_stopping", {"patience": 3}),
        (
            "early_stopping:monitor=val/loss,mode=max,min_delta=0.5",
            "early_stopping",
            {"monitor": "val/loss", "mode": "max", "min_delta": 0.5},
        ),
        ("logging:plot=true,tensorboard=false", "logging", {"plot": True, "tensorboard": False}),
        ('x:text="a,b",n=1', "x", {"text": "a,b", "n": 1}),
        ("x:text='it, too',n=1", "x", {"text": "it, too", "n": 1}),
        ("evaluator:top_k=[1, 5],mode=max", "evaluator", {"top_k": [1, 5], "mode": "max"}),
        (
            'evaluator:test_connector={preds = {pred = "logits"}, labels = {data = "labels"}}',
            "evaluator",
            {"test_connector": {"preds": {"pred": "logits"}, "labels": {"data": "labels"}}},
        ),
        ("pkg.mod:Obj", "pkg.mod:Obj", {}),
        ("pkg.mod:Obj:threshold=0.5", "pkg.mod:Obj", {"threshold": 0.5}),
        ("pkg.mod:Outer.Inner@two:k=1", "pkg.mod:Outer.Inner@two", {"k": 1}),
        ("x:color=#ff0000", "x", {"color": "#ff0000"}),
        ("x:k= 3 ", "x", {"k": 3}),
        ("x:k=", "x", {"k": ""}),
        ("x:k=a=b", "x", {"k": "a=b"}),
        ("x:k=1e3", "x", {"k": 1000.0}),
        ("x:k=inf", "x", {"k": math.inf}),
    ],
)
def test_parses_names_and_toml_values(text: str, name: str, params: dict[str, object]) -> None:
    spec = parse_plugin_option(text)
    assert spec == PluginSpec(name, params)
    assert spec.source == "-p"


def test_values_that_are_not_toml_are_strings_and_types_follow_toml() -> None:
    assert parse_value("3") == 3 and type(parse_value("3")) is int
    assert type(parse_value("3.0")) is float
    assert parse_value('"3"') == "3"
    assert parse_value("val/loss") == "val/loss"
    assert parse_value("true") is True
    assert parse_value("True") == "True"  # TOML booleans are lower case
    assert parse_value("[1, 2]") == [1, 2]
    assert parse_value("{a = 1}") == {"a": 1}
    assert parse_value("1\nb = 2") == "1\nb = 2"  # only one value, never a document


def test_no_name_is_a_block() -> None:
    assert parse_plugin_option("no:checkpoint") == PluginBlock("checkpoint")
    assert parse_plugin_option("no:pkg.mod:Obj") == PluginBlock("pkg.mod:Obj")
    assert format_plugin_option(PluginBlock("checkpoint")) == "no:checkpoint"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "plugin name is empty"),
        (":k=1", "plugin name is empty"),
        ("no:checkpoint:k=1", "takes no parameters"),
        ("x:k=1,oops", "'oops' is not key=value"),
        ("x:k=1,k=2", "parameter 'k' is given twice"),
        ("x:k=1,,m=2", "is not key=value"),
        ('x:k="open', 'unterminated " quote'),
        ("x:k=[1, 2", "unclosed"),
        ("x:k=1]", "unbalanced ']'"),
        ("bad name", "is not a plugin name"),
        ("x@", "is not a plugin name"),
        ("-x", "is not a plugin name"),
    ],
)
def test_errors_name_the_spec_and_the_fix(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="-p") as caught:
        parse_plugin_option(text)
    assert message in str(caught.value)
    assert repr(text) in str(caught.value)


def test_environment_specs_are_semicolon_separated_and_name_their_entry() -> None:
    env = {"HOOKWISE_PLUGINS": 'logging:plot=false; no:checkpoint ;x:s="a;b";'}
    options = plugin_specs_from_env(env)
    assert options == [
        PluginSpec("logging", {"plot": False}),
        PluginBlock("checkpoint"),
        PluginSpec("x", {"s": "a;b"}),
    ]
    assert options[2].source == "HOOKWISE_PLUGINS (entry 3)"
    assert plugin_specs_from_env({}) == []
    with pytest.raises(ConfigError, match=r"HOOKWISE_PLUGINS \(entry 2\)"):
        plugin_specs_from_env({"HOOKWISE_PLUGINS": "logging;x:k=1,oops"})


# -- properties -------------------------------------------------------------------------------

_IDENT = st.text(string.ascii_letters + "_", min_size=1, max_size=3).flatmap(
    lambda head: st.text(string.ascii_letters + string.digits + "_", max_size=6).map(
        lambda tail: head + tail
    )
)
_ENTRY_NAME = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,10}[A-Za-z0-9])?", fullmatch=True)
_NAMES = st.one_of(
    _ENTRY_NAME,
    st.builds(
        lambda n, i: f"{n}@{i}", _ENTRY_NAME, st.from_regex(r"[a-z0-9_]{1,6}", fullmatch=True)
    ),
    st.builds(
        lambda m, o: f"{m}:{o}", st.lists(_IDENT, min_size=1, max_size=3).map(".".join), _IDENT
    ),
).filter(lambda name: not name.startswith("no:"))  # 'no:NAME' is a block, not module 'no'
_SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.text(st.characters(exclude_categories=("Cs",)), max_size=6), inner, max_size=3
        ),
    ),
    max_leaves=8,
)


@pytest.mark.slow
@given(name=_NAMES, params=st.dictionaries(_IDENT, _VALUES, max_size=4))
@settings(max_examples=300, deadline=None)
def test_round_trip(name: str, params: dict[str, object]) -> None:
    spec = PluginSpec(name, params)
    text = format_plugin_option(spec)
    assert parse_plugin_option(text) == spec
    assert plugin_specs_from_env({"HOOKWISE_PLUGINS": f"{text};no:other"}) == [
        spec,
        PluginBlock("other"),
    ]


@given(st.text(max_size=60))
@settings(max_examples=500, deadline=None)
def test_arbitrary_text_parses_or_raises_config_error(text: str) -> None:
    try:
        option = parse_plugin_option(text)
    except ConfigError as exc:
        assert str(exc).startswith("-p ")
        return
    # What parses formats back to something that parses to the same option.
    assert parse_plugin_option(format_plugin_option(option)) == option


@given(st.text(alphabet=st.sampled_from(list(":=,;[]{}\"'@ \\#abn0.-/\n")), max_size=40))
@settings(max_examples=500, deadline=None)
def test_spec_punctuation_never_crashes(text: str) -> None:
    for parse in (
        lambda: parse_plugin_option(text),
        lambda: plugin_specs_from_env({"HOOKWISE_PLUGINS": text}),
    ):
        with contextlib.suppress(ConfigError):
            parse()
