"""Logged values as floats, read off the device only when someone reads them.

Hooks return numbers or detached 0-d tensors; the trainer keeps tensors as they are, so that
no step synchronises host and device. Two ways to get floats from them:

- :func:`to_floats` converts many values at once, with one host-device synchronisation per
  device however many values (a plugin that writes values out: a metrics file, a tracker);
- :class:`LazyFloats` is the ``dict`` of loss metrics (``trainer_state["metrics"]``, the second
  result of a :class:`~hookwise.LossModule`): a ``dict[str, float]`` as vis4d's, whose values
  stay tensors until the first read. Reading one converts them all, in one transfer per
  device; a step in which nobody reads them waits for nothing. :func:`tensors` gives the
  values as they came, without reading them (for code that keeps them on the device).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

#: What :class:`LazyFloats` caches once its values are read.
_Floats = dict[str, Any]


def to_floats(values: Sequence[Any]) -> list[float]:
    """``values`` (numbers, numpy scalars, or tensors of one element) as floats, in order.

    The tensors of each device are stacked there and copied to the host together (as float64,
    float32 on Apple's ``mps``, which has no float64), so a float32 value converts exactly.
    """
    import torch

    floats = [0.0 if isinstance(v, torch.Tensor) else float(v) for v in values]
    by_device: dict[torch.device, list[int]] = {}
    for index, value in enumerate(values):
        if isinstance(value, torch.Tensor):
            by_device.setdefault(value.device, []).append(index)
    for device, indices in by_device.items():
        dtype = torch.float32 if device.type == "mps" else torch.float64
        stacked = torch.stack([values[i].detach().reshape(()).to(dtype) for i in indices])
        for index, number in zip(indices, stacked.tolist(), strict=True):
            floats[index] = float(number)
    return floats


def as_scalar(value: Any) -> Any:
    """``value`` as a logged scalar, or ``None`` when it is not one.

    Python ints and floats (not bools) and tensors of one element are scalars as they are; a
    numpy scalar (``np.float32``, ``np.int64``) or a numpy array of one element (0-d
    included) is the Python number it holds (``.item()``, exact). Nothing is read off a device.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return value if value.numel() == 1 else None
    numpy = sys.modules.get("numpy")  # a numpy value exists only once numpy is imported
    if numpy is not None and isinstance(value, (numpy.generic, numpy.ndarray)):
        if value.size != 1 or value.dtype.kind not in "iuf":
            return None
        number: Any = value.item()
        return number
    return None


def _read(raw: Mapping[str, Any]) -> _Floats:
    """``raw``'s values with every tensor as the number ``.item()`` gives (vis4d's values):
    a CPU tensor directly, the tensors of another device in one transfer per device; other
    values as they are."""
    import torch

    read = dict(raw)
    by_device: dict[torch.device, list[str]] = {}
    for key, value in raw.items():
        if isinstance(value, torch.Tensor):
            if value.device.type == "cpu":
                read[key] = value.item()
            else:
                by_device.setdefault(value.device, []).append(key)
    for keys in by_device.values():
        numbers = to_floats([raw[k] for k in keys])
        for key, number in zip(keys, numbers, strict=True):
            value = raw[key]
            read[key] = number if value.is_floating_point() else int(number)
    return read


def _stored(values: dict[str, Any]) -> dict[str, Any]:
    """A plain copy of what a ``dict`` subclass stores, without calling its methods."""
    return dict(dict.items(values))


class LazyFloats(dict[str, float]):
    """A ``dict[str, float]`` whose values may still be tensors on a device until read.

    Reading values (``d[k]``, ``get``, ``values``, ``items``, iterating into ``dict(d)``,
    ``json.dumps(d)``, ``==``, ``repr``, ``copy``, pickling) converts every tensor to a Python
    float first, all at once with one host transfer per device, and keeps the floats: later
    reads cost a dictionary lookup. Keys, ``len`` and ``in`` never convert. Until the first
    read nothing waits for the device, so a training step whose metrics nobody reads does not
    synchronise. Writing a value keeps it as given (a tensor is converted on the next read).

    :func:`tensors` returns the values as they came (tensors stay tensors), without converting.
    """

    #: The values as read, once read (no ``__init__``: creating one costs what a dict's does).
    _floats: _Floats | None = None

    if TYPE_CHECKING:  # what it is built from: values that may be tensors

        def __init__(self, values: Mapping[str, Any] = ..., /) -> None: ...

    # -- reading --------------------------------------------------------------------------------

    def _read(self) -> _Floats:
        floats = self._floats
        if floats is None:
            floats = self._floats = _read(_stored(self))
        return floats

    def __getitem__(self, key: str) -> float:
        floats = self._read()
        if key in floats:
            value: float = floats[key]
            return value
        return self.__missing__(key)

    def __missing__(self, key: str) -> float:
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self._read().get(key, default)

    def values(self) -> Any:
        return self._read().values()

    def items(self) -> Any:
        return self._read().items()

    def __iter__(self) -> Iterator[str]:
        # A Python-level __iter__ makes dict(d), {**d} and d | x read through keys() and
        # __getitem__ instead of copying the stored tensors.
        return dict.__iter__(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyFloats):
            other = other._read()
        return self._read() == other

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None

    def __repr__(self) -> str:
        return repr(self._read())

    def copy(self) -> dict[str, float]:
        """A plain ``dict`` of the floats (as ``dict.copy`` of vis4d's metrics)."""
        return dict(self._read())

    def __or__(self, other: Any) -> Any:
        if not isinstance(other, Mapping):
            return NotImplemented
        return {**self._read(), **other}

    def __ror__(self, other: Any) -> Any:
        if not isinstance(other, Mapping):
            return NotImplemented
        return {**other, **self._read()}

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self._read()),))

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return self.__reduce__()

    def __copy__(self) -> dict[str, float]:
        return self.copy()

    def __deepcopy__(self, memo: Any) -> dict[str, float]:
        return self.copy()

    # -- writing (the next read converts again) -------------------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        self._floats = None
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._floats = None
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        value = self._read().get(key, *default) if default else self[key]
        self._floats = None
        dict.pop(self, key, None)
        return value

    def popitem(self) -> tuple[str, float]:
        if not self:
            raise KeyError("popitem(): dictionary is empty")
        key = next(reversed(list(dict.keys(self))))
        return key, self.pop(key)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._floats = None
        super().update(*args, **kwargs)

    def __ior__(self, other: Any) -> LazyFloats:  # type: ignore[override]
        self.update(other)
        return self

    def clear(self) -> None:
        self._floats = None
        super().clear()


def tensors(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as they came, without reading tensors off their device: the stored values of
    a :class:`LazyFloats` (tensors stay tensors), or a copy of any other mapping."""
    if isinstance(values, LazyFloats):
        return _stored(values)
    return dict(values)


__all__ = ["LazyFloats", "as_scalar", "tensors", "to_floats"]
