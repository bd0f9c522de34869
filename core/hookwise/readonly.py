"""The read-only views hooks receive: one per hook call, shared by its implementations.

DESIGN decision 25: every implementation of a hook call sees the same trainer state, so the
trainer gives it as a view nobody can change; a write raises
:class:`~hookwise.errors.StateWriteError`, which the plugin's error policy handles like any
exception of that plugin (the policy names the plugin and the hook in the message).

The views are ``dict`` subclasses whose mutators raise: reads, ``isinstance(state, dict)``,
``json.dumps``, ``dict(state)``, ``{**state}``, ``state | other``, ``state.copy()``,
``copy.copy``, ``copy.deepcopy`` and pickling work as on a ``dict`` (the copies are plain,
mutable ``dict`` objects). Building one costs what building the ``dict`` costs (the trainer
built a fresh ``dict`` for every hook call before), plus the type call of the subclass.
``dict.__setitem__(view, ...)`` still writes: the views guard against mistakes, not against
code set on getting around them.

What stays mutable, by design: the objects inside (the model, the optimizers, the data
loaders, the trainer). The lists (``optimizers``, ``lr_schedulers``, ``test_dataloader``,
``num_test_batches``) are copies the trainer makes for the hooks, never its own lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, NoReturn

from hookwise.errors import StateWriteError
from hookwise.values import LazyFloats


class _ReadOnly:
    """The mutators of a read-only ``dict`` subclass (a mixin; ``_name`` names it in errors)."""

    __slots__ = ()
    _name: ClassVar[str] = "trainer_state"

    def _refuse(self, write: str) -> NoReturn:
        raise StateWriteError(write)

    def __setitem__(self, key: Any, value: Any) -> NoReturn:
        self._refuse(f"set {self._name}[{key!r}]")

    def __delitem__(self, key: Any) -> NoReturn:
        self._refuse(f"delete {self._name}[{key!r}]")

    def __ior__(self, other: Any) -> NoReturn:
        self._refuse(f"update {self._name} (|=)")

    def update(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse(f"call {self._name}.update()")

    def pop(self, *args: Any) -> NoReturn:
        key = f"{args[0]!r}" if args else ""
        self._refuse(f"call {self._name}.pop({key})")

    def popitem(self) -> NoReturn:
        self._refuse(f"call {self._name}.popitem()")

    def setdefault(self, *args: Any) -> NoReturn:
        key = f"{args[0]!r}, ..." if args else ""
        self._refuse(f"call {self._name}.setdefault({key})")

    def clear(self) -> NoReturn:
        self._refuse(f"call {self._name}.clear()")

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        # copy.copy, copy.deepcopy and pickle give a plain dict (rebuilding the view by
        # setting its items would raise).
        return (dict, (dict(self),))  # type: ignore[call-overload]


class ReadOnlyState(_ReadOnly, dict[str, Any]):
    """The trainer state as a hook receives it (see the module docstring).

    ``ReadOnlyState(mapping, **changes)`` builds one as ``dict`` would.
    """

    __slots__ = ()


class ReadOnlyMetrics(_ReadOnly, dict[str, Any]):
    """A metrics ``dict`` given to hooks (``on_validation_end``'s ``metrics``), read-only."""

    __slots__ = ()
    _name = "metrics"


class ReadOnlyFloats(_ReadOnly, LazyFloats):
    """``trainer_state["metrics"]`` in the training hooks: a read-only
    :class:`~hookwise.values.LazyFloats` (values read off the device on first read)."""

    _name = "trainer_state['metrics']"


def read_only_floats(metrics: Mapping[str, Any]) -> ReadOnlyFloats:
    """``metrics`` (a loss module's metrics) as a :class:`ReadOnlyFloats`, without reading
    tensors off their device; values already read stay read."""
    if isinstance(metrics, ReadOnlyFloats):
        return metrics
    if isinstance(metrics, LazyFloats):
        view = ReadOnlyFloats(dict.items(metrics))  # type: ignore[arg-type]  # stored values
        if metrics._floats is not None:
            view._floats = metrics._floats
        return view
    return ReadOnlyFloats(metrics)


__all__ = ["ReadOnlyFloats", "ReadOnlyMetrics", "ReadOnlyState", "read_only_floats"]
