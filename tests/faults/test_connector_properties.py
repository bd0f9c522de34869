"""Property-based tests (hypothesis) of the connectors on arbitrary nested input.

Promise: a connector returns exactly the values its keys name (the very objects, not copies), or
raises ValueError/TypeError with a message naming the key; it never raises anything else, and
never returns something the keys do not name (a bound method, a private attribute).
"""

from __future__ import annotations

import collections
import inspect
import string
import warnings
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from hookwise import (
    CallbackConnector,
    DataConnector,
    MultiSensorCallbackConnector,
    MultiSensorDataConnector,
    data_key,
    pred_key,
)
from hookwise.connectors import connector_from_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.too_slow],
)

Pair = collections.namedtuple("Pair", ["first", "second"])

#: Names as they appear in key paths (never a dot: a dot separates the parts of a path).
names = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=6)
#: Attribute names that objects have but that are no data: methods and private attributes.
not_data = st.sampled_from(
    [
        "upper",
        "count",
        "index",
        "keys",
        "items",
        "mean",
        "_asdict",
        "_fields",
        "__class__",
        "__dict__",
        "__init__",
        "real",
        "imag",
        "numerator",
        "shape",
        "T",
    ]
)
#: Any key a mapping may have, dotted, empty or not a string at all.
any_keys = st.one_of(names, st.text(max_size=6), st.integers(-3, 3), st.none())
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.binary(max_size=4),
    st.builds(object),
    st.builds(torch.tensor, st.lists(st.floats(-1, 1), max_size=3)),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.dictionaries(any_keys, children, max_size=4),
        st.builds(Pair, children, children),
        st.builds(lambda kw: SimpleNamespace(**kw), st.dictionaries(names, children, max_size=3)),
        st.lists(children, max_size=3),
        st.tuples(children, children),
    )


nested = st.recursive(leaves, _containers, max_leaves=12)


def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_fields")


def _children(value: Any) -> dict[str, Any]:
    """The reachable children of ``value`` by a key part (the spec the oracle follows): a
    mapping's string keys, a namedtuple's fields, another object's public attributes that hold
    data (not methods; attributes whose getter raises are left out)."""
    if isinstance(value, Mapping):
        return {k: v for k, v in value.items() if isinstance(k, str)}
    if _is_namedtuple(value):
        return dict(zip(value._fields, value, strict=True))
    children = {}
    for name in dir(value):
        if name.startswith("_"):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                child = getattr(value, name)
        except Exception:
            continue
        if not inspect.isroutine(child):
            children[name] = child
    return children


def _stored(value: Any) -> dict[str, Any]:
    """The children ``value`` stores (keys, fields, instance attributes): no computed ones."""
    if isinstance(value, SimpleNamespace):
        return {k: v for k, v in vars(value).items() if not k.startswith("_")}
    if isinstance(value, Mapping) or _is_namedtuple(value):
        return _children(value)
    return {}


def _same(found: Any, expected: Any) -> bool:
    """``found`` is ``expected``, or equal to it when a property computed both."""
    if found is expected:
        return True
    if isinstance(found, torch.Tensor) and isinstance(expected, torch.Tensor):
        return torch.equal(found, expected)
    return type(found) is type(expected) and bool(found == expected)


@st.composite
def structure_and_existing_path(draw: st.DrawFn) -> tuple[Any, str, Any]:
    """A nested structure, a dotted path of stored children in it, and the object there."""
    root = draw(nested.filter(lambda v: any("." not in k for k in _stored(v))))
    value, parts = root, []
    while True:
        options = {k: v for k, v in _stored(value).items() if "." not in k}
        if not options or (parts and draw(st.booleans())):
            break
        key = draw(st.sampled_from(sorted(options)))
        parts.append(key)
        value = options[key]
    return root, ".".join(parts), value


@pytest.mark.fault("prop.connectors")
@SETTINGS
@given(structure_and_existing_path())
def test_an_existing_prediction_path_gives_that_very_object(case: tuple[Any, str, Any]) -> None:
    outputs, path, expected = case
    result = CallbackConnector({"out": pred_key(path)})(outputs, {})
    assert result["out"] is expected


@pytest.mark.fault("prop.connectors")
@SETTINGS
@given(nested, st.lists(st.one_of(names, not_data, st.text(max_size=4)), min_size=1, max_size=4))
def test_any_prediction_path_gives_the_named_value_or_a_clear_error(
    outputs: Any, parts: list[str]
) -> None:
    path = ".".join(parts)
    connector = CallbackConnector({"out": pred_key(path)})
    try:
        result = connector(outputs, {})
    except ValueError as exc:
        message = str(exc)
        if message.startswith("reading attribute"):  # a property that raised
            assert "failed:" in message and "of the model output" in message
            return
        assert "Key " in message and "not found in the model output" in message
        assert repr(path) in message
        return
    value = outputs
    for part in path.split("."):  # the oracle: it must have been reachable by the spec
        children = _children(value)
        assert part in children, f"{path!r} resolved although {part!r} is not a key of {value!r}"
        value = children[part]
    assert _same(result["out"], value)


@pytest.mark.fault("prop.connectors")
@SETTINGS
@given(st.dictionaries(any_keys, nested, max_size=5), st.one_of(names, st.text(max_size=5)))
def test_data_keys_are_top_level_lookups(batch: dict[Any, Any], key: str) -> None:
    connector = CallbackConnector({"out": data_key(key)})
    if key in batch:
        assert connector({}, batch)["out"] is batch[key]
    else:
        with pytest.raises(ValueError, match="not found in the batch"):
            connector({}, batch)


@pytest.mark.fault("prop.connectors")
@SETTINGS
@given(nested, nested)
def test_a_batch_that_is_not_a_mapping_is_a_value_error(outputs: Any, batch: Any) -> None:
    connector = CallbackConnector({"out": data_key("labels")})
    if isinstance(batch, Mapping) and "labels" in batch:
        assert connector(outputs, batch)["out"] is batch["labels"]
    else:
        with pytest.raises(ValueError, match="'labels' not found in the batch"):
            connector(outputs, batch)


descriptions = st.one_of(
    st.builds(pred_key, names),
    st.builds(data_key, names),
    st.dictionaries(st.sampled_from(["key", "source", "sensors", "other"]), nested, max_size=4),
    nested,
)


@pytest.mark.fault("prop.connectors")
@SETTINGS
@given(st.one_of(st.dictionaries(any_keys, descriptions, max_size=4), nested), nested, nested)
def test_any_key_mapping_is_refused_when_built_or_works(
    mapping: Any, outputs: Any, batch: Any
) -> None:
    for kind in (CallbackConnector, MultiSensorCallbackConnector):
        try:
            connector = kind(mapping)
        except (TypeError, ValueError) as exc:
            assert str(exc)
            continue
        try:
            result = connector(outputs, batch)
        except (TypeError, ValueError) as exc:
            assert str(exc)
            continue
        assert list(result) == list(mapping)


@pytest.mark.fault("prop.connectors")
@SETTINGS
@given(st.one_of(st.dictionaries(any_keys, nested, max_size=4), nested))
def test_connector_config_is_built_or_refused_clearly(config: Any) -> None:
    try:
        connector = connector_from_config(config, "test_connector")
    except (TypeError, ValueError) as exc:
        assert "test_connector" in str(exc) or "Unknown data source" in str(exc)
        return
    assert connector is None or callable(connector)


@pytest.mark.fault("prop.data-connector")
@SETTINGS
@given(
    st.dictionaries(names, names, max_size=3),
    st.one_of(
        st.dictionaries(any_keys, nested, max_size=4),
        st.lists(st.dictionaries(any_keys, nested, max_size=3), max_size=3),
        nested,
    ),
)
def test_data_connector_returns_the_named_values_or_names_the_key(
    mapping: dict[str, str], batch: Any
) -> None:
    connector = DataConnector(mapping)
    try:
        result = connector(batch)
    except ValueError as exc:
        assert "not found in the batch" in str(exc)
        missing = [
            key
            for item in (batch if isinstance(batch, list) else [batch])
            for key in mapping.values()
            if not (isinstance(item, Mapping) and key in item)
        ]
        assert missing, "a ValueError although every key was there"
        return
    for argument, key in mapping.items():
        if isinstance(batch, list):
            assert all(a is b[key] for a, b in zip(result[argument], batch, strict=True))
        else:
            assert result[argument] is batch[key]


@pytest.mark.slow
@pytest.mark.fault("prop.data-connector")
@SETTINGS
@given(
    st.lists(names, min_size=1, max_size=3, unique=True),
    names,
    st.dictionaries(names, st.one_of(st.dictionaries(names, nested, max_size=3), nested)),
)
def test_multi_sensor_data_values_come_from_each_sensor(
    sensors: list[str], key: str, batch: dict[str, Any]
) -> None:
    connector = MultiSensorDataConnector({"x": data_key(key, sensors=sensors)})
    try:
        result = connector(batch)
    except ValueError as exc:
        assert "not found in the batch" in str(exc)
        assert any(not (isinstance(batch.get(s), Mapping) and key in batch[s]) for s in sensors)
        return
    assert all(a is batch[s][key] for a, s in zip(result["x"], sensors, strict=True))


@pytest.mark.fault("prop.data-connector")
@SETTINGS
@given(st.one_of(nested, st.dictionaries(any_keys, nested, max_size=3)))
def test_data_connector_mapping_of_any_shape(mapping: Any) -> None:
    try:
        connector = DataConnector(mapping)
    except TypeError as exc:
        assert "DataConnector takes a mapping" in str(exc)
        return
    try:
        connector({"inputs": 1})
    except ValueError as exc:
        assert "not found in the batch" in str(exc)
