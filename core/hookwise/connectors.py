"""Data connectors: which values of the model output and the batch a component receives.

Matches vis4d's ``vis4d.engine.connectors``. A key description says where a value comes from:
``data_key("images")`` is ``batch["images"]`` (a top-level lookup, never split at dots) and
``pred_key("boxes.scores")`` is ``outputs["boxes"]["scores"]`` (a dotted path through nested
dicts, namedtuples and attributes). A connector maps new names to descriptions::

    connector = CallbackConnector({"preds": pred_key("logits"), "labels": data_key("labels")})
    connector(outputs, batch)  # {"preds": outputs["logits"], "labels": batch["labels"]}

A key that is missing raises :class:`ValueError` naming the key, its source and the keys that
exist; while dispatching a hook, a note names the plugin and the hook too.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from typing_extensions import NotRequired

DictData = dict[str, Any]

DATA = "data"
PREDICTION = "prediction"


class SourceKeyDescription(TypedDict):
    """Where a connector takes one value from: ``key`` in the ``source`` (data or prediction)."""

    key: str
    source: str
    sensors: NotRequired[Sequence[str]]


def data_key(key: str, sensors: Sequence[str] | None = None) -> SourceKeyDescription:
    """Describe ``batch[key]`` (``sensors`` selects per-sensor entries, multi-sensor only)."""
    if sensors is None:
        return SourceKeyDescription(key=key, source=DATA)
    return SourceKeyDescription(key=key, source=DATA, sensors=sensors)


def pred_key(key: str) -> SourceKeyDescription:
    """Describe a value of the model output; ``"a.b"`` is ``outputs["a"]["b"]``."""
    return SourceKeyDescription(key=key, source=PREDICTION)


def remap_pred_keys(
    info: Mapping[str, SourceKeyDescription], parent_key: str
) -> dict[str, SourceKeyDescription]:
    """Return a copy of ``info`` with every prediction key prefixed by ``parent_key + "."``."""
    remapped: dict[str, SourceKeyDescription] = copy.deepcopy(dict(info))
    for description in remapped.values():
        if description["source"] == PREDICTION:
            description["key"] = f"{parent_key}.{description['key']}"
    return remapped


def _available(container: Any) -> list[str]:
    if isinstance(container, Mapping):
        return [str(k) for k in container]
    if _is_namedtuple(container):
        return list(container._fields)
    names = []
    for name in dir(container):
        if name.startswith("_"):
            continue
        try:
            attribute = inspect.getattr_static(container, name)
        except AttributeError:
            continue
        if not (inspect.isroutine(attribute) or isinstance(attribute, (classmethod, staticmethod))):
            names.append(name)
    return names if len(names) <= 20 else [*names[:20], "..."]


_MISSING = object()


def _child(value: Any, part: str, where: str) -> Any:
    """``value``'s child ``part``: a mapping's key, a namedtuple's field, or another object's
    public attribute holding data (never a method or a private attribute); ``_MISSING`` when
    there is none."""
    if isinstance(value, Mapping):
        return value.get(part, _MISSING)
    if _is_namedtuple(value):
        return getattr(value, part) if part in value._fields else _MISSING
    if part.startswith("_"):
        return _MISSING
    try:
        child = getattr(value, part, _MISSING)
    except Exception as exc:  # a property that raises
        raise ValueError(
            f"reading attribute {part!r} of the {where} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return _MISSING if inspect.isroutine(child) else child


def _is_namedtuple(obj: Any) -> bool:
    return isinstance(obj, tuple) and hasattr(obj, "_asdict") and hasattr(obj, "_fields")


def get_field_from_prediction(prediction: Any, description: SourceKeyDescription) -> Any:
    """Walk the dotted ``description["key"]`` through dicts, namedtuples and attributes."""
    value = prediction
    walked: list[str] = []
    for part in description["key"].split("."):
        where = "model output" + "".join(f"[{p!r}]" for p in walked)
        next_value = _child(value, part, where)
        if next_value is _MISSING:
            raise ValueError(
                f"Key {part!r} (of prediction key {description['key']!r}) not found in the "
                f"{where}. Available keys: {_available(value)}"
            )
        value = next_value
        walked.append(part)
    return value


def _data_value(data: Any, key: str) -> Any:
    if not isinstance(data, Mapping) or key not in data:
        available = _available(data) if isinstance(data, Mapping) else type(data).__name__
        raise ValueError(
            f"Key {key!r} not found in the batch (source 'data'). Available keys: {available}"
        )
    return data[key]


def _unknown_source(source: str) -> ValueError:
    return ValueError(f"Unknown data source {source!r}. Available: ['prediction', 'data']")


def get_inputs_for_pred_and_data(
    connection_dict: Mapping[str, SourceKeyDescription], prediction: Any, data: Any
) -> DictData:
    """Build ``{new_key: value}`` from the model output and the batch, in mapping order."""
    out: DictData = {}
    for new_key, description in connection_dict.items():
        source, key = description["source"], description["key"]
        # a plain dict holding the key directly: one lookup (the general walk names what is
        # missing); a prediction key with a dot is a path, never a key
        if source == DATA:
            value = data.get(key, _MISSING) if type(data) is dict else _MISSING
            out[new_key] = _data_value(data, key) if value is _MISSING else value
        elif source == PREDICTION:
            direct = type(prediction) is dict and "." not in key
            value = prediction.get(key, _MISSING) if direct else _MISSING
            if value is _MISSING:
                value = get_field_from_prediction(prediction, description)
            out[new_key] = value
        else:
            raise _unknown_source(source)
    return out


def get_multi_sensor_inputs(
    connection_dict: Mapping[str, SourceKeyDescription], prediction: Any, data: Any
) -> DictData:
    """Like :func:`get_inputs_for_pred_and_data`; data keys with ``sensors`` give one value per
    sensor: ``[batch[sensor][key] for sensor in sensors]``."""
    out: DictData = {}
    for new_key, description in connection_dict.items():
        source = description["source"]
        if source == DATA and "sensors" in description:
            out[new_key] = [
                _data_value(_data_value(data, sensor), description["key"])
                for sensor in description["sensors"]
            ]
        elif source in (DATA, PREDICTION):
            out[new_key] = get_inputs_for_pred_and_data({new_key: description}, prediction, data)[
                new_key
            ]
        else:
            raise _unknown_source(source)
    return out


def _check_mapping(key_mapping: Any, owner: str) -> None:
    if not isinstance(key_mapping, Mapping):
        raise TypeError(
            f"{owner} takes a mapping of names to key descriptions, got {key_mapping!r}"
        )
    for name, description in key_mapping.items():
        if not isinstance(description, Mapping) or not isinstance(description.get("key"), str):
            raise TypeError(
                f"{owner}: entry {name!r} must be a key description such as data_key('x') or "
                f"pred_key('y'), got {description!r}"
            )
        if description.get("source") not in (DATA, PREDICTION):
            raise _unknown_source(str(description.get("source")))
        sensors = description.get("sensors", ())
        if isinstance(sensors, str) or not isinstance(sensors, Sequence):
            raise TypeError(f"{owner}: entry {name!r}: sensors must be a list of names")
        if not all(isinstance(sensor, str) for sensor in sensors):
            raise TypeError(f"{owner}: entry {name!r}: sensors must be names, got {sensors!r}")


class CallbackConnector:
    """Builds a callback's inputs from the model output and the batch.

    :param key_mapping: ``{name: data_key(...) | pred_key(...)}``.

    Calling it, ``connector(outputs, batch)``, returns ``{name: value}``.
    """

    def __init__(self, key_mapping: Mapping[str, SourceKeyDescription]) -> None:
        _check_mapping(key_mapping, type(self).__name__)
        self.key_mapping: dict[str, SourceKeyDescription] = dict(key_mapping)

    def __call__(self, prediction: Any, data: Any) -> DictData:
        return get_inputs_for_pred_and_data(self.key_mapping, prediction, data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key_mapping!r})"


class LossConnector(CallbackConnector):
    """Builds a loss's inputs from the model output and the batch (same as a callback's)."""


class MultiSensorCallbackConnector(CallbackConnector):
    """A :class:`CallbackConnector` whose data keys may select several sensors."""

    def __call__(self, prediction: Any, data: Any) -> DictData:
        return get_multi_sensor_inputs(self.key_mapping, prediction, data)


class MultiSensorLossConnector(LossConnector):
    """A :class:`LossConnector` whose data keys may select several sensors."""

    def __call__(self, prediction: Any, data: Any) -> DictData:
        return get_multi_sensor_inputs(self.key_mapping, prediction, data)


class DataConnector:
    """Selects the model's inputs from the batch: ``{argument: batch_key}``.

    ``model(**connector(batch))`` is how the trainer calls the model. A list of batches gives
    lists of values. A missing key is a :class:`ValueError` naming it and the keys there are.
    """

    def __init__(self, key_mapping: Mapping[str, str]) -> None:
        if not isinstance(key_mapping, Mapping):
            raise TypeError(
                f"DataConnector takes a mapping {{argument: batch_key}}, got {key_mapping!r}"
            )
        for argument, key in key_mapping.items():
            if not isinstance(argument, str) or not isinstance(key, str):
                raise TypeError(
                    f"DataConnector takes a mapping {{argument: batch_key}} of names; entry "
                    f"{argument!r}: {key!r} is not"
                )
        self.key_mapping: dict[str, str] = dict(key_mapping)

    def __call__(self, data: Any) -> DictData:
        if type(data) is dict:  # the common batch: plain lookups (a missing key: see below)
            try:
                return {k: data[v] for k, v in self.key_mapping.items()}
            except KeyError:
                pass  # _data_value's error names the key and the keys there are
        if isinstance(data, list):
            return {k: [_data_value(d, v) for d in data] for k, v in self.key_mapping.items()}
        return {k: _data_value(data, v) for k, v in self.key_mapping.items()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key_mapping!r})"


class MultiSensorDataConnector(DataConnector):
    """A :class:`DataConnector` whose entries may be key descriptions with ``sensors``."""

    def __init__(self, key_mapping: Mapping[str, str | SourceKeyDescription]) -> None:
        plain: dict[str, str] = {}
        self.multi_sensor_key_mapping: dict[str, SourceKeyDescription] = {}
        for name, value in key_mapping.items():
            if isinstance(value, str):
                plain[name] = value
            elif "sensors" in value:
                self.multi_sensor_key_mapping[name] = value
            else:
                plain[name] = value["key"]
        super().__init__(plain)

    def __call__(self, data: Any) -> DictData:
        out = super().__call__(data)
        for name, description in self.multi_sensor_key_mapping.items():
            sensors, key = description["sensors"], description["key"]
            if isinstance(data, list):
                out[name] = [[_data_value(_data_value(d, s), key) for s in sensors] for d in data]
            else:
                out[name] = [_data_value(_data_value(data, s), key) for s in sensors]
        return out


def connector_from_config(value: Any, owner: str = "connector") -> CallbackConnector | None:
    """Turn a configured connector into a :class:`CallbackConnector`.

    Accepts ``None``, a connector object (returned as is), or a mapping whose values are key
    descriptions or the short forms ``{"data": "labels"}`` and ``{"pred": "boxes.boxes"}``.
    """
    if value is None or isinstance(value, CallbackConnector):
        return value
    if callable(value) and not isinstance(value, Mapping):
        return value  # type: ignore[no-any-return]
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{owner} must be a mapping such as {{preds = {{pred = 'logits'}}}}, got {value!r}"
        )
    mapping: dict[str, SourceKeyDescription] = {}
    for name, description in value.items():
        if isinstance(description, Mapping) and "source" in description:
            mapping[name] = SourceKeyDescription(**description)  # type: ignore[typeddict-item]
        elif isinstance(description, Mapping) and set(description) in ({"data"}, {"pred"}):
            if "data" in description:
                mapping[name] = data_key(str(description["data"]))
            else:
                mapping[name] = pred_key(str(description["pred"]))
        else:
            raise TypeError(
                f"{owner}: entry {name!r} must be {{data = 'key'}} or {{pred = 'key'}}, "
                f"got {description!r}"
            )
    return CallbackConnector(mapping)
