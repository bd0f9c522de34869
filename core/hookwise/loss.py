"""``LossModule``: weighted losses, each fed by its own connector (vis4d's ``LossModule``).

The metrics are a ``dict[str, float]`` as vis4d's, but read lazily
(:class:`~hookwise.values.LazyFloats`): the values stay detached 0-d tensors on the device
until someone reads one, so computing the loss never synchronises host and device by itself.
:func:`hookwise.values.tensors` gives the tensors without reading them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from torch import Tensor, nn
from typing_extensions import NotRequired

from hookwise.connectors import LossConnector
from hookwise.errors import ConfigError
from hookwise.values import LazyFloats


class LossDefinition(TypedDict):
    """One loss: the callable, its connector, an optional weight (or per-key weights), a name."""

    loss: Any
    connector: LossConnector
    weight: NotRequired[float | dict[str, float]]
    name: NotRequired[str]


def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_fields")


class LossDefinitionError(ConfigError, AssertionError):
    """A loss definition lacks ``loss`` or ``connector``. A :class:`~hookwise.ConfigError`,
    and an ``AssertionError`` as vis4d's ``assert`` raised (so vis4d code that expects one
    keeps working), but raised under ``python -O`` too."""


class LossModule(nn.Module):
    """Computes the total loss and its named parts.

    :param losses: one :class:`LossDefinition` or a list of them.
    :param exclude_attributes: names of loss values reported as metrics but left out of the
        total.

    ``loss_module(outputs, batch)`` returns ``(total, metrics)``: ``metrics`` maps each
    weighted loss value (named ``name``, ``name.key`` for a loss that returns a dict or a
    namedtuple, ``name.key.sub`` for nested dicts, as vis4d flattens them) and ``"loss"`` (the
    total) to floats, read off the device only when first read
    (:class:`~hookwise.values.LazyFloats`).
    """

    def __init__(
        self,
        losses: list[LossDefinition] | LossDefinition,
        exclude_attributes: list[str] | None = None,
    ) -> None:
        super().__init__()
        definitions = [losses] if isinstance(losses, Mapping) else list(losses)
        self.losses: list[LossDefinition] = []
        for index, definition in enumerate(definitions):
            for key in ("loss", "connector"):  # checked always (not an assert: python -O)
                if key not in definition:
                    raise LossDefinitionError(
                        f"Loss definition {index} must contain a {key}: give "
                        f"{{'loss': module, 'connector': LossConnector(...), 'weight': 1.0}} "
                        f"(it has {sorted(definition)})"
                    )
            completed: LossDefinition = {
                "loss": definition["loss"],
                "connector": definition["connector"],
                "weight": definition.get("weight", 1.0),
                "name": definition.get("name", type(definition["loss"]).__name__),
            }
            self.losses.append(completed)
            if isinstance(definition["loss"], nn.Module):
                self.add_module(f"loss_{index}", definition["loss"])
        self.exclude_attributes = list(exclude_attributes or [])

    def forward(
        self, output: Any, batch: Any, *, metrics_type: type[LazyFloats] = LazyFloats
    ) -> tuple[Tensor, LazyFloats]:
        """``(total, metrics)`` of ``output`` (the model's) and ``batch``.

        :param metrics_type: the class of ``metrics``, :class:`~hookwise.values.LazyFloats` or
            a subclass of it (the trainer asks for its read-only
            :class:`~hookwise.readonly.ReadOnlyFloats` when hooks receive the metrics, so it
            does not copy them).
        """
        losses = self.losses
        if len(losses) == 1 and not self.exclude_attributes:
            definition = losses[0]
            result = definition["loss"](**definition["connector"](output, batch))
            weight = definition["weight"]
            if isinstance(result, Tensor) and isinstance(weight, (float, int)):
                # the common case: one tensor, the total itself; one detach() for both names
                total = result * weight if weight != 1.0 else result
                detached = total.detach()
                return total, metrics_type({definition["name"]: detached, "loss": detached})
            results = [result]
        else:
            results = [d["loss"](**d["connector"](output, batch)) for d in losses]
        return self._combine(results, metrics_type)

    def _combine(
        self, results: list[Any], metrics_type: type[LazyFloats]
    ) -> tuple[Tensor, LazyFloats]:
        """Weigh and flatten each loss's result, then sum the ones not excluded, in order."""
        values: dict[str, Tensor] = {}
        for definition, result in zip(self.losses, results, strict=True):
            name = definition["name"]
            weight = definition["weight"]
            for key, value in self._flatten(name, result).items():
                factor = (
                    weight
                    if isinstance(weight, (float, int))  # the common case, without the ABC check
                    else (weight.get(key, 1.0) if isinstance(weight, Mapping) else weight)
                )
                while key in values:
                    key = f"__{key}"
                values[key] = value * factor if factor != 1.0 else value
        included = [v for k, v in values.items() if k not in self.exclude_attributes]
        if not included:
            raise ValueError(
                f"LossModule: no loss left to sum (values {list(values)}, excluded "
                f"{self.exclude_attributes})"
            )
        total = included[0]
        for value in included[1:]:  # added in order, as vis4d's sum(): the same float32 bits
            total = total + value
        detached = {k: v.detach() for k, v in values.items()}
        detached["loss"] = total.detach()
        return total, metrics_type(detached)

    @staticmethod
    def _flatten(name: str, result: Any) -> dict[str, Tensor]:
        if result is None:
            return {}
        if isinstance(result, Tensor):
            return {name: result}
        items = (
            result._asdict().items()
            if _is_namedtuple(result)
            else (result.items() if isinstance(result, Mapping) else None)
        )
        if items is None:
            raise ValueError(
                f"loss {name!r} returned {type(result).__name__}; expected a Tensor, a dict of "
                f"Tensors or a namedtuple of Tensors"
            )
        flat: dict[str, Tensor] = {}
        _flatten_into(flat, name, name, items)
        return flat


def _flatten_into(flat: dict[str, Tensor], loss: str, prefix: str, items: Any) -> None:
    """Add ``items`` to ``flat`` as ``prefix.key``; nested mappings go one level deeper
    (``prefix.key.sub``), as vis4d's ``LossModule`` flattens them; ``None`` values are
    skipped."""
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, Mapping):
            _flatten_into(flat, loss, f"{prefix}.{key}", value.items())
        elif isinstance(value, Tensor):
            flat[f"{prefix}.{key}"] = value
        else:
            raise ValueError(
                f"loss {loss!r} returned a {type(value).__name__} at "
                f"{prefix}.{key}; a loss's dict holds only tensors and dicts of them"
            )
