# ruff: noqa: E501
# pyright: reportSelfClsParameterName=false
"""Typed hook markers: ``@hooks.<hook>`` checks an implementation's signature in mypy and pyright.

GENERATED from ``hookwise/hookspecs.py`` by ``python -m hookwise._typegen``: do not edit by
hand; regenerate after changing a hook specification (a test fails while this file is out of
date).

``@hooks.on_train_batch_end`` marks a function as an implementation of that hook, as
``@hookimpl(specname="on_train_batch_end")`` does (so the function's name is free), and tells
a type checker which arguments it may take: any of the hook's arguments, by name, in any order
(pluggy passes only those a function names), with annotations the hook's values fit, and a
return type the hook accepts. ``.options(...)`` takes ``@hookimpl``'s options (``tryfirst``,
``trylast``, ``before``, ``after``, ``every_n_steps``, ``every_n_epochs``, ``on_ranks``,
``stages``)::

    from hookwise import TrainerState, hooks

    @hooks.on_train_batch_end.options(every_n_steps=50)
    def log_step(trainer_state: TrainerState, batch_idx: int) -> dict[str, float]:
        return {"step": float(trainer_state["global_step"])}

Methods of a plain class work the same way (``self`` first). A ``hookwise.Callback`` subclass
needs no marker: its overriding methods are checked against the typed base class. Wrappers
(``@hookimpl(wrapper=True)``) are generators and are not typed here.

Each hook also has a ``Protocol`` of its full signature (``OnTrainBatchEnd``), for annotating
a variable or parameter that holds an implementation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from hookwise._hook_marker import HookMarker

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from torch import nn
    from torch.optim import Optimizer

    from hookwise.hookspecs import MetricLogs
    from hookwise.state import TrainerState


# --------------------------------------------------------------------------------------------
# setup


class Setup(Protocol):
    """The full signature of :func:`hookwise.hookspecs.setup`."""

    def __call__(self) -> None: ...


if TYPE_CHECKING:
    class _SetupM0(Protocol):
        def __call__(_, self: Any) -> None: ...
    class _SetupF0(Protocol):
        def __call__(_) -> None: ...

    _SetupImpl = TypeVar(
        "_SetupImpl",
        bound=(
            _SetupM0
            | _SetupF0
        ),
    )

    class _SetupMarker:
        """Marks an implementation of :func:`hookwise.hookspecs.setup`.

        Prepare the plugin. Called once per process, before the first fit or test.

        In vis4d the experiment runner calls ``setup()`` on every callback after the process group
        and the model are ready, before resuming. hookwise's trainer does the same, once, at the
        start of the first :meth:`~hookwise.Trainer.fit` or :meth:`~hookwise.Trainer.test`.

        Takes no arguments. The return value is ignored.

        vis4d hook.
        """

        def options(self, *, tryfirst: bool = ..., trylast: bool = ..., before: Iterable[str] | str = ..., after: Iterable[str] | str = ..., every_n_steps: int | str | None = ..., every_n_epochs: int | str | None = ..., on_ranks: str | int | Iterable[int] | None = ..., stages: Iterable[str] | str | None = ...) -> _SetupMarker: ...
        def __call__(self, function: _SetupImpl, /) -> _SetupImpl: ...

    setup: _SetupMarker
else:
    setup = HookMarker("setup")


# --------------------------------------------------------------------------------------------
# on_train_epoch_start


class OnTrainEpochStart(Protocol):
    """The full signature of :func:`hookwise.hookspecs.on_train_epoch_start`."""

    def __call__(self, trainer_state: TrainerState, model: nn.Module, loss_module: Any) -> None: ...


if TYPE_CHECKING:
    class _OnTrainEpochStartM0(Protocol):
        def __call__(_, self: Any) -> None: ...
    class _OnTrainEpochStartM1(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState) -> None: ...
    class _OnTrainEpochStartM2(Protocol):
        def __call__(_, self: Any, *, model: nn.Module) -> None: ...
    class _OnTrainEpochStartM3(Protocol):
        def __call__(_, self: Any, *, loss_module: Any) -> None: ...
    class _OnTrainEpochStartM4(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module) -> None: ...
    class _OnTrainEpochStartM5(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, loss_module: Any) -> None: ...
    class _OnTrainEpochStartM6(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, loss_module: Any) -> None: ...
    class _OnTrainEpochStartM7(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any) -> None: ...
    class _OnTrainEpochStartF0(Protocol):
        def __call__(_) -> None: ...
    class _OnTrainEpochStartF1(Protocol):
        def __call__(_, *, trainer_state: TrainerState) -> None: ...
    class _OnTrainEpochStartF2(Protocol):
        def __call__(_, *, model: nn.Module) -> None: ...
    class _OnTrainEpochStartF3(Protocol):
        def __call__(_, *, loss_module: Any) -> None: ...
    class _OnTrainEpochStartF4(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module) -> None: ...
    class _OnTrainEpochStartF5(Protocol):
        def __call__(_, *, trainer_state: TrainerState, loss_module: Any) -> None: ...
    class _OnTrainEpochStartF6(Protocol):
        def __call__(_, *, model: nn.Module, loss_module: Any) -> None: ...
    class _OnTrainEpochStartF7(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any) -> None: ...

    _OnTrainEpochStartImpl = TypeVar(
        "_OnTrainEpochStartImpl",
        bound=(
            _OnTrainEpochStartM0
            | _OnTrainEpochStartM1
            | _OnTrainEpochStartM2
            | _OnTrainEpochStartM3
            | _OnTrainEpochStartM4
            | _OnTrainEpochStartM5
            | _OnTrainEpochStartM6
            | _OnTrainEpochStartM7
            | _OnTrainEpochStartF0
            | _OnTrainEpochStartF1
            | _OnTrainEpochStartF2
            | _OnTrainEpochStartF3
            | _OnTrainEpochStartF4
            | _OnTrainEpochStartF5
            | _OnTrainEpochStartF6
            | _OnTrainEpochStartF7
        ),
    )

    class _OnTrainEpochStartMarker:
        """Marks an implementation of :func:`hookwise.hookspecs.on_train_epoch_start`.

        Called at the beginning of every training epoch, before the first batch is loaded.

        :param trainer_state: the trainer's state (a fresh read-only dict, see
            :class:`hookwise.TrainerState`).
        :param model: the model being trained (DDP-wrapped in a distributed run).
        :param loss_module: the loss module given to ``fit``.

        The return value is ignored.

        vis4d hook.
        """

        def options(self, *, tryfirst: bool = ..., trylast: bool = ..., before: Iterable[str] | str = ..., after: Iterable[str] | str = ..., every_n_steps: int | str | None = ..., every_n_epochs: int | str | None = ..., on_ranks: str | int | Iterable[int] | None = ..., stages: Iterable[str] | str | None = ...) -> _OnTrainEpochStartMarker: ...
        def __call__(self, function: _OnTrainEpochStartImpl, /) -> _OnTrainEpochStartImpl: ...

    on_train_epoch_start: _OnTrainEpochStartMarker
else:
    on_train_epoch_start = HookMarker("on_train_epoch_start")


# --------------------------------------------------------------------------------------------
# on_train_batch_start


class OnTrainBatchStart(Protocol):
    """The full signature of :func:`hookwise.hookspecs.on_train_batch_start`."""

    def __call__(self, trainer_state: TrainerState, model: nn.Module, loss_module: Any, batch: Any, batch_idx: int) -> None: ...


if TYPE_CHECKING:
    class _OnTrainBatchStartM0(Protocol):
        def __call__(_, self: Any) -> None: ...
    class _OnTrainBatchStartM1(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState) -> None: ...
    class _OnTrainBatchStartM2(Protocol):
        def __call__(_, self: Any, *, model: nn.Module) -> None: ...
    class _OnTrainBatchStartM3(Protocol):
        def __call__(_, self: Any, *, loss_module: Any) -> None: ...
    class _OnTrainBatchStartM4(Protocol):
        def __call__(_, self: Any, *, batch: Any) -> None: ...
    class _OnTrainBatchStartM5(Protocol):
        def __call__(_, self: Any, *, batch_idx: int) -> None: ...
    class _OnTrainBatchStartM6(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module) -> None: ...
    class _OnTrainBatchStartM7(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, loss_module: Any) -> None: ...
    class _OnTrainBatchStartM8(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, batch: Any) -> None: ...
    class _OnTrainBatchStartM9(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, batch_idx: int) -> None: ...
    class _OnTrainBatchStartM10(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, loss_module: Any) -> None: ...
    class _OnTrainBatchStartM11(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, batch: Any) -> None: ...
    class _OnTrainBatchStartM12(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, batch_idx: int) -> None: ...
    class _OnTrainBatchStartM13(Protocol):
        def __call__(_, self: Any, *, loss_module: Any, batch: Any) -> None: ...
    class _OnTrainBatchStartM14(Protocol):
        def __call__(_, self: Any, *, loss_module: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartM15(Protocol):
        def __call__(_, self: Any, *, batch: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartM16(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any) -> None: ...
    class _OnTrainBatchStartM17(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, batch: Any) -> None: ...
    class _OnTrainBatchStartM18(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, batch_idx: int) -> None: ...
    class _OnTrainBatchStartM19(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, loss_module: Any, batch: Any) -> None: ...
    class _OnTrainBatchStartM20(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, loss_module: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartM21(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, batch: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartM22(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, loss_module: Any, batch: Any) -> None: ...
    class _OnTrainBatchStartM23(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, loss_module: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartM24(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, batch: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartM25(Protocol):
        def __call__(_, self: Any, *, loss_module: Any, batch: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartM26(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, batch: Any) -> None: ...
    class _OnTrainBatchStartM27(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartM28(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, batch: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartM29(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, loss_module: Any, batch: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartM30(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, loss_module: Any, batch: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartM31(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, batch: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartF0(Protocol):
        def __call__(_) -> None: ...
    class _OnTrainBatchStartF1(Protocol):
        def __call__(_, *, trainer_state: TrainerState) -> None: ...
    class _OnTrainBatchStartF2(Protocol):
        def __call__(_, *, model: nn.Module) -> None: ...
    class _OnTrainBatchStartF3(Protocol):
        def __call__(_, *, loss_module: Any) -> None: ...
    class _OnTrainBatchStartF4(Protocol):
        def __call__(_, *, batch: Any) -> None: ...
    class _OnTrainBatchStartF5(Protocol):
        def __call__(_, *, batch_idx: int) -> None: ...
    class _OnTrainBatchStartF6(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module) -> None: ...
    class _OnTrainBatchStartF7(Protocol):
        def __call__(_, *, trainer_state: TrainerState, loss_module: Any) -> None: ...
    class _OnTrainBatchStartF8(Protocol):
        def __call__(_, *, trainer_state: TrainerState, batch: Any) -> None: ...
    class _OnTrainBatchStartF9(Protocol):
        def __call__(_, *, trainer_state: TrainerState, batch_idx: int) -> None: ...
    class _OnTrainBatchStartF10(Protocol):
        def __call__(_, *, model: nn.Module, loss_module: Any) -> None: ...
    class _OnTrainBatchStartF11(Protocol):
        def __call__(_, *, model: nn.Module, batch: Any) -> None: ...
    class _OnTrainBatchStartF12(Protocol):
        def __call__(_, *, model: nn.Module, batch_idx: int) -> None: ...
    class _OnTrainBatchStartF13(Protocol):
        def __call__(_, *, loss_module: Any, batch: Any) -> None: ...
    class _OnTrainBatchStartF14(Protocol):
        def __call__(_, *, loss_module: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartF15(Protocol):
        def __call__(_, *, batch: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartF16(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any) -> None: ...
    class _OnTrainBatchStartF17(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, batch: Any) -> None: ...
    class _OnTrainBatchStartF18(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, batch_idx: int) -> None: ...
    class _OnTrainBatchStartF19(Protocol):
        def __call__(_, *, trainer_state: TrainerState, loss_module: Any, batch: Any) -> None: ...
    class _OnTrainBatchStartF20(Protocol):
        def __call__(_, *, trainer_state: TrainerState, loss_module: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartF21(Protocol):
        def __call__(_, *, trainer_state: TrainerState, batch: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartF22(Protocol):
        def __call__(_, *, model: nn.Module, loss_module: Any, batch: Any) -> None: ...
    class _OnTrainBatchStartF23(Protocol):
        def __call__(_, *, model: nn.Module, loss_module: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartF24(Protocol):
        def __call__(_, *, model: nn.Module, batch: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartF25(Protocol):
        def __call__(_, *, loss_module: Any, batch: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartF26(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, batch: Any) -> None: ...
    class _OnTrainBatchStartF27(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartF28(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, batch: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartF29(Protocol):
        def __call__(_, *, trainer_state: TrainerState, loss_module: Any, batch: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartF30(Protocol):
        def __call__(_, *, model: nn.Module, loss_module: Any, batch: Any, batch_idx: int) -> None: ...
    class _OnTrainBatchStartF31(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, batch: Any, batch_idx: int) -> None: ...

    _OnTrainBatchStartImpl = TypeVar(
        "_OnTrainBatchStartImpl",
        bound=(
            _OnTrainBatchStartM0
            | _OnTrainBatchStartM1
            | _OnTrainBatchStartM2
            | _OnTrainBatchStartM3
            | _OnTrainBatchStartM4
            | _OnTrainBatchStartM5
            | _OnTrainBatchStartM6
            | _OnTrainBatchStartM7
            | _OnTrainBatchStartM8
            | _OnTrainBatchStartM9
            | _OnTrainBatchStartM10
            | _OnTrainBatchStartM11
            | _OnTrainBatchStartM12
            | _OnTrainBatchStartM13
            | _OnTrainBatchStartM14
            | _OnTrainBatchStartM15
            | _OnTrainBatchStartM16
            | _OnTrainBatchStartM17
            | _OnTrainBatchStartM18
            | _OnTrainBatchStartM19
            | _OnTrainBatchStartM20
            | _OnTrainBatchStartM21
            | _OnTrainBatchStartM22
            | _OnTrainBatchStartM23
            | _OnTrainBatchStartM24
            | _OnTrainBatchStartM25
            | _OnTrainBatchStartM26
            | _OnTrainBatchStartM27
            | _OnTrainBatchStartM28
            | _OnTrainBatchStartM29
            | _OnTrainBatchStartM30
            | _OnTrainBatchStartM31
            | _OnTrainBatchStartF0
            | _OnTrainBatchStartF1
            | _OnTrainBatchStartF2
            | _OnTrainBatchStartF3
            | _OnTrainBatchStartF4
            | _OnTrainBatchStartF5
            | _OnTrainBatchStartF6
            | _OnTrainBatchStartF7
            | _OnTrainBatchStartF8
            | _OnTrainBatchStartF9
            | _OnTrainBatchStartF10
            | _OnTrainBatchStartF11
            | _OnTrainBatchStartF12
            | _OnTrainBatchStartF13
            | _OnTrainBatchStartF14
            | _OnTrainBatchStartF15
            | _OnTrainBatchStartF16
            | _OnTrainBatchStartF17
            | _OnTrainBatchStartF18
            | _OnTrainBatchStartF19
            | _OnTrainBatchStartF20
            | _OnTrainBatchStartF21
            | _OnTrainBatchStartF22
            | _OnTrainBatchStartF23
            | _OnTrainBatchStartF24
            | _OnTrainBatchStartF25
            | _OnTrainBatchStartF26
            | _OnTrainBatchStartF27
            | _OnTrainBatchStartF28
            | _OnTrainBatchStartF29
            | _OnTrainBatchStartF30
            | _OnTrainBatchStartF31
        ),
    )

    class _OnTrainBatchStartMarker:
        """Marks an implementation of :func:`hookwise.hookspecs.on_train_batch_start`.

        Called before the forward pass of every training batch.

        :param trainer_state: the trainer's state.
        :param model: the model being trained.
        :param loss_module: the loss module.
        :param batch: the batch, already on the device. It is the object passed on to the model's
            data connector, so changing it in place changes what the model sees.
        :param batch_idx: the index of the batch in the current epoch (0-based).

        The return value is ignored.

        vis4d hook.
        """

        def options(self, *, tryfirst: bool = ..., trylast: bool = ..., before: Iterable[str] | str = ..., after: Iterable[str] | str = ..., every_n_steps: int | str | None = ..., every_n_epochs: int | str | None = ..., on_ranks: str | int | Iterable[int] | None = ..., stages: Iterable[str] | str | None = ...) -> _OnTrainBatchStartMarker: ...
        def __call__(self, function: _OnTrainBatchStartImpl, /) -> _OnTrainBatchStartImpl: ...

    on_train_batch_start: _OnTrainBatchStartMarker
else:
    on_train_batch_start = HookMarker("on_train_batch_start")


# --------------------------------------------------------------------------------------------
# on_train_batch_end


class OnTrainBatchEnd(Protocol):
    """The full signature of :func:`hookwise.hookspecs.on_train_batch_end`."""

    def __call__(self, trainer_state: TrainerState, model: nn.Module, loss_module: Any, outputs: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...


if TYPE_CHECKING:
    class _OnTrainBatchEndM0(Protocol):
        def __call__(_, self: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM1(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState) -> MetricLogs | None: ...
    class _OnTrainBatchEndM2(Protocol):
        def __call__(_, self: Any, *, model: nn.Module) -> MetricLogs | None: ...
    class _OnTrainBatchEndM3(Protocol):
        def __call__(_, self: Any, *, loss_module: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM4(Protocol):
        def __call__(_, self: Any, *, outputs: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM5(Protocol):
        def __call__(_, self: Any, *, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM6(Protocol):
        def __call__(_, self: Any, *, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM7(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module) -> MetricLogs | None: ...
    class _OnTrainBatchEndM8(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, loss_module: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM9(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, outputs: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM10(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM11(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM12(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, loss_module: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM13(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, outputs: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM14(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM15(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM16(Protocol):
        def __call__(_, self: Any, *, loss_module: Any, outputs: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM17(Protocol):
        def __call__(_, self: Any, *, loss_module: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM18(Protocol):
        def __call__(_, self: Any, *, loss_module: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM19(Protocol):
        def __call__(_, self: Any, *, outputs: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM20(Protocol):
        def __call__(_, self: Any, *, outputs: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM21(Protocol):
        def __call__(_, self: Any, *, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM22(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM23(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, outputs: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM24(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM25(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM26(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, loss_module: Any, outputs: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM27(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, loss_module: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM28(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, loss_module: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM29(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, outputs: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM30(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, outputs: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM31(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM32(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, loss_module: Any, outputs: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM33(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, loss_module: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM34(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, loss_module: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM35(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, outputs: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM36(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, outputs: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM37(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM38(Protocol):
        def __call__(_, self: Any, *, loss_module: Any, outputs: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM39(Protocol):
        def __call__(_, self: Any, *, loss_module: Any, outputs: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM40(Protocol):
        def __call__(_, self: Any, *, loss_module: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM41(Protocol):
        def __call__(_, self: Any, *, outputs: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM42(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, outputs: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM43(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM44(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM45(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM46(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM47(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM48(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, loss_module: Any, outputs: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM49(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, loss_module: Any, outputs: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM50(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, loss_module: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM51(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, outputs: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM52(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, loss_module: Any, outputs: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM53(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, loss_module: Any, outputs: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM54(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, loss_module: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM55(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, outputs: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM56(Protocol):
        def __call__(_, self: Any, *, loss_module: Any, outputs: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM57(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, outputs: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndM58(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, outputs: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM59(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM60(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM61(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, loss_module: Any, outputs: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM62(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, loss_module: Any, outputs: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndM63(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, outputs: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF0(Protocol):
        def __call__(_) -> MetricLogs | None: ...
    class _OnTrainBatchEndF1(Protocol):
        def __call__(_, *, trainer_state: TrainerState) -> MetricLogs | None: ...
    class _OnTrainBatchEndF2(Protocol):
        def __call__(_, *, model: nn.Module) -> MetricLogs | None: ...
    class _OnTrainBatchEndF3(Protocol):
        def __call__(_, *, loss_module: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF4(Protocol):
        def __call__(_, *, outputs: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF5(Protocol):
        def __call__(_, *, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF6(Protocol):
        def __call__(_, *, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF7(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module) -> MetricLogs | None: ...
    class _OnTrainBatchEndF8(Protocol):
        def __call__(_, *, trainer_state: TrainerState, loss_module: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF9(Protocol):
        def __call__(_, *, trainer_state: TrainerState, outputs: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF10(Protocol):
        def __call__(_, *, trainer_state: TrainerState, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF11(Protocol):
        def __call__(_, *, trainer_state: TrainerState, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF12(Protocol):
        def __call__(_, *, model: nn.Module, loss_module: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF13(Protocol):
        def __call__(_, *, model: nn.Module, outputs: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF14(Protocol):
        def __call__(_, *, model: nn.Module, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF15(Protocol):
        def __call__(_, *, model: nn.Module, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF16(Protocol):
        def __call__(_, *, loss_module: Any, outputs: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF17(Protocol):
        def __call__(_, *, loss_module: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF18(Protocol):
        def __call__(_, *, loss_module: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF19(Protocol):
        def __call__(_, *, outputs: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF20(Protocol):
        def __call__(_, *, outputs: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF21(Protocol):
        def __call__(_, *, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF22(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF23(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, outputs: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF24(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF25(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF26(Protocol):
        def __call__(_, *, trainer_state: TrainerState, loss_module: Any, outputs: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF27(Protocol):
        def __call__(_, *, trainer_state: TrainerState, loss_module: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF28(Protocol):
        def __call__(_, *, trainer_state: TrainerState, loss_module: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF29(Protocol):
        def __call__(_, *, trainer_state: TrainerState, outputs: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF30(Protocol):
        def __call__(_, *, trainer_state: TrainerState, outputs: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF31(Protocol):
        def __call__(_, *, trainer_state: TrainerState, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF32(Protocol):
        def __call__(_, *, model: nn.Module, loss_module: Any, outputs: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF33(Protocol):
        def __call__(_, *, model: nn.Module, loss_module: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF34(Protocol):
        def __call__(_, *, model: nn.Module, loss_module: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF35(Protocol):
        def __call__(_, *, model: nn.Module, outputs: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF36(Protocol):
        def __call__(_, *, model: nn.Module, outputs: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF37(Protocol):
        def __call__(_, *, model: nn.Module, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF38(Protocol):
        def __call__(_, *, loss_module: Any, outputs: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF39(Protocol):
        def __call__(_, *, loss_module: Any, outputs: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF40(Protocol):
        def __call__(_, *, loss_module: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF41(Protocol):
        def __call__(_, *, outputs: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF42(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, outputs: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF43(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF44(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF45(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF46(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF47(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF48(Protocol):
        def __call__(_, *, trainer_state: TrainerState, loss_module: Any, outputs: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF49(Protocol):
        def __call__(_, *, trainer_state: TrainerState, loss_module: Any, outputs: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF50(Protocol):
        def __call__(_, *, trainer_state: TrainerState, loss_module: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF51(Protocol):
        def __call__(_, *, trainer_state: TrainerState, outputs: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF52(Protocol):
        def __call__(_, *, model: nn.Module, loss_module: Any, outputs: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF53(Protocol):
        def __call__(_, *, model: nn.Module, loss_module: Any, outputs: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF54(Protocol):
        def __call__(_, *, model: nn.Module, loss_module: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF55(Protocol):
        def __call__(_, *, model: nn.Module, outputs: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF56(Protocol):
        def __call__(_, *, loss_module: Any, outputs: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF57(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, outputs: Any, batch: Any) -> MetricLogs | None: ...
    class _OnTrainBatchEndF58(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, outputs: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF59(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF60(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF61(Protocol):
        def __call__(_, *, trainer_state: TrainerState, loss_module: Any, outputs: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF62(Protocol):
        def __call__(_, *, model: nn.Module, loss_module: Any, outputs: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...
    class _OnTrainBatchEndF63(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any, outputs: Any, batch: Any, batch_idx: int) -> MetricLogs | None: ...

    _OnTrainBatchEndImpl = TypeVar(
        "_OnTrainBatchEndImpl",
        bound=(
            _OnTrainBatchEndM0
            | _OnTrainBatchEndM1
            | _OnTrainBatchEndM2
            | _OnTrainBatchEndM3
            | _OnTrainBatchEndM4
            | _OnTrainBatchEndM5
            | _OnTrainBatchEndM6
            | _OnTrainBatchEndM7
            | _OnTrainBatchEndM8
            | _OnTrainBatchEndM9
            | _OnTrainBatchEndM10
            | _OnTrainBatchEndM11
            | _OnTrainBatchEndM12
            | _OnTrainBatchEndM13
            | _OnTrainBatchEndM14
            | _OnTrainBatchEndM15
            | _OnTrainBatchEndM16
            | _OnTrainBatchEndM17
            | _OnTrainBatchEndM18
            | _OnTrainBatchEndM19
            | _OnTrainBatchEndM20
            | _OnTrainBatchEndM21
            | _OnTrainBatchEndM22
            | _OnTrainBatchEndM23
            | _OnTrainBatchEndM24
            | _OnTrainBatchEndM25
            | _OnTrainBatchEndM26
            | _OnTrainBatchEndM27
            | _OnTrainBatchEndM28
            | _OnTrainBatchEndM29
            | _OnTrainBatchEndM30
            | _OnTrainBatchEndM31
            | _OnTrainBatchEndM32
            | _OnTrainBatchEndM33
            | _OnTrainBatchEndM34
            | _OnTrainBatchEndM35
            | _OnTrainBatchEndM36
            | _OnTrainBatchEndM37
            | _OnTrainBatchEndM38
            | _OnTrainBatchEndM39
            | _OnTrainBatchEndM40
            | _OnTrainBatchEndM41
            | _OnTrainBatchEndM42
            | _OnTrainBatchEndM43
            | _OnTrainBatchEndM44
            | _OnTrainBatchEndM45
            | _OnTrainBatchEndM46
            | _OnTrainBatchEndM47
            | _OnTrainBatchEndM48
            | _OnTrainBatchEndM49
            | _OnTrainBatchEndM50
            | _OnTrainBatchEndM51
            | _OnTrainBatchEndM52
            | _OnTrainBatchEndM53
            | _OnTrainBatchEndM54
            | _OnTrainBatchEndM55
            | _OnTrainBatchEndM56
            | _OnTrainBatchEndM57
            | _OnTrainBatchEndM58
            | _OnTrainBatchEndM59
            | _OnTrainBatchEndM60
            | _OnTrainBatchEndM61
            | _OnTrainBatchEndM62
            | _OnTrainBatchEndM63
            | _OnTrainBatchEndF0
            | _OnTrainBatchEndF1
            | _OnTrainBatchEndF2
            | _OnTrainBatchEndF3
            | _OnTrainBatchEndF4
            | _OnTrainBatchEndF5
            | _OnTrainBatchEndF6
            | _OnTrainBatchEndF7
            | _OnTrainBatchEndF8
            | _OnTrainBatchEndF9
            | _OnTrainBatchEndF10
            | _OnTrainBatchEndF11
            | _OnTrainBatchEndF12
            | _OnTrainBatchEndF13
            | _OnTrainBatchEndF14
            | _OnTrainBatchEndF15
            | _OnTrainBatchEndF16
            | _OnTrainBatchEndF17
            | _OnTrainBatchEndF18
            | _OnTrainBatchEndF19
            | _OnTrainBatchEndF20
            | _OnTrainBatchEndF21
            | _OnTrainBatchEndF22
            | _OnTrainBatchEndF23
            | _OnTrainBatchEndF24
            | _OnTrainBatchEndF25
            | _OnTrainBatchEndF26
            | _OnTrainBatchEndF27
            | _OnTrainBatchEndF28
            | _OnTrainBatchEndF29
            | _OnTrainBatchEndF30
            | _OnTrainBatchEndF31
            | _OnTrainBatchEndF32
            | _OnTrainBatchEndF33
            | _OnTrainBatchEndF34
            | _OnTrainBatchEndF35
            | _OnTrainBatchEndF36
            | _OnTrainBatchEndF37
            | _OnTrainBatchEndF38
            | _OnTrainBatchEndF39
            | _OnTrainBatchEndF40
            | _OnTrainBatchEndF41
            | _OnTrainBatchEndF42
            | _OnTrainBatchEndF43
            | _OnTrainBatchEndF44
            | _OnTrainBatchEndF45
            | _OnTrainBatchEndF46
            | _OnTrainBatchEndF47
            | _OnTrainBatchEndF48
            | _OnTrainBatchEndF49
            | _OnTrainBatchEndF50
            | _OnTrainBatchEndF51
            | _OnTrainBatchEndF52
            | _OnTrainBatchEndF53
            | _OnTrainBatchEndF54
            | _OnTrainBatchEndF55
            | _OnTrainBatchEndF56
            | _OnTrainBatchEndF57
            | _OnTrainBatchEndF58
            | _OnTrainBatchEndF59
            | _OnTrainBatchEndF60
            | _OnTrainBatchEndF61
            | _OnTrainBatchEndF62
            | _OnTrainBatchEndF63
        ),
    )

    class _OnTrainBatchEndMarker:
        """Marks an implementation of :func:`hookwise.hookspecs.on_train_batch_end`.

        Called after the optimizer step of every training batch.

        ``trainer_state["metrics"]`` holds this step's loss metrics: floats as in vis4d, read off
        the device only when first read (:class:`~hookwise.values.LazyFloats`);
        ``hookwise.values.tensors(trainer_state["metrics"])`` gives them as tensors, unread.

        :param trainer_state: the trainer's state, with ``metrics``.
        :param model: the model being trained.
        :param loss_module: the loss module.
        :param outputs: the model's output for this batch.
        :param batch: the batch.
        :param batch_idx: the index of the batch in the current epoch.
        :returns: optionally a mapping of names to numbers (or 0-d tensors); the trainer logs each
            as ``train/<name>`` and keeps the latest value in :attr:`hookwise.Trainer.metrics`.

        vis4d hook.
        """

        def options(self, *, tryfirst: bool = ..., trylast: bool = ..., before: Iterable[str] | str = ..., after: Iterable[str] | str = ..., every_n_steps: int | str | None = ..., every_n_epochs: int | str | None = ..., on_ranks: str | int | Iterable[int] | None = ..., stages: Iterable[str] | str | None = ...) -> _OnTrainBatchEndMarker: ...
        def __call__(self, function: _OnTrainBatchEndImpl, /) -> _OnTrainBatchEndImpl: ...

    on_train_batch_end: _OnTrainBatchEndMarker
else:
    on_train_batch_end = HookMarker("on_train_batch_end")


# --------------------------------------------------------------------------------------------
# on_train_epoch_end


class OnTrainEpochEnd(Protocol):
    """The full signature of :func:`hookwise.hookspecs.on_train_epoch_end`."""

    def __call__(self, trainer_state: TrainerState, model: nn.Module, loss_module: Any) -> MetricLogs | None: ...


if TYPE_CHECKING:
    class _OnTrainEpochEndM0(Protocol):
        def __call__(_, self: Any) -> MetricLogs | None: ...
    class _OnTrainEpochEndM1(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState) -> MetricLogs | None: ...
    class _OnTrainEpochEndM2(Protocol):
        def __call__(_, self: Any, *, model: nn.Module) -> MetricLogs | None: ...
    class _OnTrainEpochEndM3(Protocol):
        def __call__(_, self: Any, *, loss_module: Any) -> MetricLogs | None: ...
    class _OnTrainEpochEndM4(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module) -> MetricLogs | None: ...
    class _OnTrainEpochEndM5(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, loss_module: Any) -> MetricLogs | None: ...
    class _OnTrainEpochEndM6(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, loss_module: Any) -> MetricLogs | None: ...
    class _OnTrainEpochEndM7(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any) -> MetricLogs | None: ...
    class _OnTrainEpochEndF0(Protocol):
        def __call__(_) -> MetricLogs | None: ...
    class _OnTrainEpochEndF1(Protocol):
        def __call__(_, *, trainer_state: TrainerState) -> MetricLogs | None: ...
    class _OnTrainEpochEndF2(Protocol):
        def __call__(_, *, model: nn.Module) -> MetricLogs | None: ...
    class _OnTrainEpochEndF3(Protocol):
        def __call__(_, *, loss_module: Any) -> MetricLogs | None: ...
    class _OnTrainEpochEndF4(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module) -> MetricLogs | None: ...
    class _OnTrainEpochEndF5(Protocol):
        def __call__(_, *, trainer_state: TrainerState, loss_module: Any) -> MetricLogs | None: ...
    class _OnTrainEpochEndF6(Protocol):
        def __call__(_, *, model: nn.Module, loss_module: Any) -> MetricLogs | None: ...
    class _OnTrainEpochEndF7(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, loss_module: Any) -> MetricLogs | None: ...

    _OnTrainEpochEndImpl = TypeVar(
        "_OnTrainEpochEndImpl",
        bound=(
            _OnTrainEpochEndM0
            | _OnTrainEpochEndM1
            | _OnTrainEpochEndM2
            | _OnTrainEpochEndM3
            | _OnTrainEpochEndM4
            | _OnTrainEpochEndM5
            | _OnTrainEpochEndM6
            | _OnTrainEpochEndM7
            | _OnTrainEpochEndF0
            | _OnTrainEpochEndF1
            | _OnTrainEpochEndF2
            | _OnTrainEpochEndF3
            | _OnTrainEpochEndF4
            | _OnTrainEpochEndF5
            | _OnTrainEpochEndF6
            | _OnTrainEpochEndF7
        ),
    )

    class _OnTrainEpochEndMarker:
        """Marks an implementation of :func:`hookwise.hookspecs.on_train_epoch_end`.

        Called at the end of every training epoch, before that epoch's validation.

        ``trainer_state`` has ``optimizers`` and ``lr_schedulers``. The hook runs also when
        ``num_steps`` or a stop request ends the epoch early (vis4d skipped it then).

        :param trainer_state: the trainer's state, with ``optimizers`` and ``lr_schedulers``.
        :param model: the model being trained.
        :param loss_module: the loss module.
        :returns: optionally a mapping of names to numbers, logged as ``train/<name>`` (a hookwise
            extension; vis4d ignores the return value).

        vis4d hook.
        """

        def options(self, *, tryfirst: bool = ..., trylast: bool = ..., before: Iterable[str] | str = ..., after: Iterable[str] | str = ..., every_n_steps: int | str | None = ..., every_n_epochs: int | str | None = ..., on_ranks: str | int | Iterable[int] | None = ..., stages: Iterable[str] | str | None = ...) -> _OnTrainEpochEndMarker: ...
        def __call__(self, function: _OnTrainEpochEndImpl, /) -> _OnTrainEpochEndImpl: ...

    on_train_epoch_end: _OnTrainEpochEndMarker
else:
    on_train_epoch_end = HookMarker("on_train_epoch_end")


# --------------------------------------------------------------------------------------------
# on_test_epoch_start


class OnTestEpochStart(Protocol):
    """The full signature of :func:`hookwise.hookspecs.on_test_epoch_start`."""

    def __call__(self, trainer_state: TrainerState, model: nn.Module) -> None: ...


if TYPE_CHECKING:
    class _OnTestEpochStartM0(Protocol):
        def __call__(_, self: Any) -> None: ...
    class _OnTestEpochStartM1(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState) -> None: ...
    class _OnTestEpochStartM2(Protocol):
        def __call__(_, self: Any, *, model: nn.Module) -> None: ...
    class _OnTestEpochStartM3(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module) -> None: ...
    class _OnTestEpochStartF0(Protocol):
        def __call__(_) -> None: ...
    class _OnTestEpochStartF1(Protocol):
        def __call__(_, *, trainer_state: TrainerState) -> None: ...
    class _OnTestEpochStartF2(Protocol):
        def __call__(_, *, model: nn.Module) -> None: ...
    class _OnTestEpochStartF3(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module) -> None: ...

    _OnTestEpochStartImpl = TypeVar(
        "_OnTestEpochStartImpl",
        bound=(
            _OnTestEpochStartM0
            | _OnTestEpochStartM1
            | _OnTestEpochStartM2
            | _OnTestEpochStartM3
            | _OnTestEpochStartF0
            | _OnTestEpochStartF1
            | _OnTestEpochStartF2
            | _OnTestEpochStartF3
        ),
    )

    class _OnTestEpochStartMarker:
        """Marks an implementation of :func:`hookwise.hookspecs.on_test_epoch_start`.

        Called once before an evaluation pass (validation or test) over all test loaders.

        :param trainer_state: the trainer's state.
        :param model: the model, in eval mode.

        The return value is ignored.

        vis4d hook.
        """

        def options(self, *, tryfirst: bool = ..., trylast: bool = ..., before: Iterable[str] | str = ..., after: Iterable[str] | str = ..., every_n_steps: int | str | None = ..., every_n_epochs: int | str | None = ..., on_ranks: str | int | Iterable[int] | None = ..., stages: Iterable[str] | str | None = ...) -> _OnTestEpochStartMarker: ...
        def __call__(self, function: _OnTestEpochStartImpl, /) -> _OnTestEpochStartImpl: ...

    on_test_epoch_start: _OnTestEpochStartMarker
else:
    on_test_epoch_start = HookMarker("on_test_epoch_start")


# --------------------------------------------------------------------------------------------
# on_test_batch_end


class OnTestBatchEnd(Protocol):
    """The full signature of :func:`hookwise.hookspecs.on_test_batch_end`."""

    def __call__(self, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int) -> None: ...


if TYPE_CHECKING:
    class _OnTestBatchEndM0(Protocol):
        def __call__(_, self: Any) -> None: ...
    class _OnTestBatchEndM1(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState) -> None: ...
    class _OnTestBatchEndM2(Protocol):
        def __call__(_, self: Any, *, model: nn.Module) -> None: ...
    class _OnTestBatchEndM3(Protocol):
        def __call__(_, self: Any, *, outputs: Any) -> None: ...
    class _OnTestBatchEndM4(Protocol):
        def __call__(_, self: Any, *, batch: Any) -> None: ...
    class _OnTestBatchEndM5(Protocol):
        def __call__(_, self: Any, *, batch_idx: int) -> None: ...
    class _OnTestBatchEndM6(Protocol):
        def __call__(_, self: Any, *, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM7(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module) -> None: ...
    class _OnTestBatchEndM8(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, outputs: Any) -> None: ...
    class _OnTestBatchEndM9(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, batch: Any) -> None: ...
    class _OnTestBatchEndM10(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, batch_idx: int) -> None: ...
    class _OnTestBatchEndM11(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM12(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, outputs: Any) -> None: ...
    class _OnTestBatchEndM13(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, batch: Any) -> None: ...
    class _OnTestBatchEndM14(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, batch_idx: int) -> None: ...
    class _OnTestBatchEndM15(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM16(Protocol):
        def __call__(_, self: Any, *, outputs: Any, batch: Any) -> None: ...
    class _OnTestBatchEndM17(Protocol):
        def __call__(_, self: Any, *, outputs: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndM18(Protocol):
        def __call__(_, self: Any, *, outputs: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM19(Protocol):
        def __call__(_, self: Any, *, batch: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndM20(Protocol):
        def __call__(_, self: Any, *, batch: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM21(Protocol):
        def __call__(_, self: Any, *, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM22(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, outputs: Any) -> None: ...
    class _OnTestBatchEndM23(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, batch: Any) -> None: ...
    class _OnTestBatchEndM24(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, batch_idx: int) -> None: ...
    class _OnTestBatchEndM25(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM26(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, outputs: Any, batch: Any) -> None: ...
    class _OnTestBatchEndM27(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, outputs: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndM28(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, outputs: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM29(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, batch: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndM30(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, batch: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM31(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM32(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, outputs: Any, batch: Any) -> None: ...
    class _OnTestBatchEndM33(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, outputs: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndM34(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, outputs: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM35(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, batch: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndM36(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, batch: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM37(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM38(Protocol):
        def __call__(_, self: Any, *, outputs: Any, batch: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndM39(Protocol):
        def __call__(_, self: Any, *, outputs: Any, batch: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM40(Protocol):
        def __call__(_, self: Any, *, outputs: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM41(Protocol):
        def __call__(_, self: Any, *, batch: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM42(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch: Any) -> None: ...
    class _OnTestBatchEndM43(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndM44(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM45(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, batch: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndM46(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, batch: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM47(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM48(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, outputs: Any, batch: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndM49(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, outputs: Any, batch: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM50(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, outputs: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM51(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, batch: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM52(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, outputs: Any, batch: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndM53(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, outputs: Any, batch: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM54(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, outputs: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM55(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, batch: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM56(Protocol):
        def __call__(_, self: Any, *, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM57(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndM58(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM59(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM60(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, batch: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM61(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM62(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndM63(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF0(Protocol):
        def __call__(_) -> None: ...
    class _OnTestBatchEndF1(Protocol):
        def __call__(_, *, trainer_state: TrainerState) -> None: ...
    class _OnTestBatchEndF2(Protocol):
        def __call__(_, *, model: nn.Module) -> None: ...
    class _OnTestBatchEndF3(Protocol):
        def __call__(_, *, outputs: Any) -> None: ...
    class _OnTestBatchEndF4(Protocol):
        def __call__(_, *, batch: Any) -> None: ...
    class _OnTestBatchEndF5(Protocol):
        def __call__(_, *, batch_idx: int) -> None: ...
    class _OnTestBatchEndF6(Protocol):
        def __call__(_, *, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF7(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module) -> None: ...
    class _OnTestBatchEndF8(Protocol):
        def __call__(_, *, trainer_state: TrainerState, outputs: Any) -> None: ...
    class _OnTestBatchEndF9(Protocol):
        def __call__(_, *, trainer_state: TrainerState, batch: Any) -> None: ...
    class _OnTestBatchEndF10(Protocol):
        def __call__(_, *, trainer_state: TrainerState, batch_idx: int) -> None: ...
    class _OnTestBatchEndF11(Protocol):
        def __call__(_, *, trainer_state: TrainerState, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF12(Protocol):
        def __call__(_, *, model: nn.Module, outputs: Any) -> None: ...
    class _OnTestBatchEndF13(Protocol):
        def __call__(_, *, model: nn.Module, batch: Any) -> None: ...
    class _OnTestBatchEndF14(Protocol):
        def __call__(_, *, model: nn.Module, batch_idx: int) -> None: ...
    class _OnTestBatchEndF15(Protocol):
        def __call__(_, *, model: nn.Module, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF16(Protocol):
        def __call__(_, *, outputs: Any, batch: Any) -> None: ...
    class _OnTestBatchEndF17(Protocol):
        def __call__(_, *, outputs: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndF18(Protocol):
        def __call__(_, *, outputs: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF19(Protocol):
        def __call__(_, *, batch: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndF20(Protocol):
        def __call__(_, *, batch: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF21(Protocol):
        def __call__(_, *, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF22(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, outputs: Any) -> None: ...
    class _OnTestBatchEndF23(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, batch: Any) -> None: ...
    class _OnTestBatchEndF24(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, batch_idx: int) -> None: ...
    class _OnTestBatchEndF25(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF26(Protocol):
        def __call__(_, *, trainer_state: TrainerState, outputs: Any, batch: Any) -> None: ...
    class _OnTestBatchEndF27(Protocol):
        def __call__(_, *, trainer_state: TrainerState, outputs: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndF28(Protocol):
        def __call__(_, *, trainer_state: TrainerState, outputs: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF29(Protocol):
        def __call__(_, *, trainer_state: TrainerState, batch: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndF30(Protocol):
        def __call__(_, *, trainer_state: TrainerState, batch: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF31(Protocol):
        def __call__(_, *, trainer_state: TrainerState, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF32(Protocol):
        def __call__(_, *, model: nn.Module, outputs: Any, batch: Any) -> None: ...
    class _OnTestBatchEndF33(Protocol):
        def __call__(_, *, model: nn.Module, outputs: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndF34(Protocol):
        def __call__(_, *, model: nn.Module, outputs: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF35(Protocol):
        def __call__(_, *, model: nn.Module, batch: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndF36(Protocol):
        def __call__(_, *, model: nn.Module, batch: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF37(Protocol):
        def __call__(_, *, model: nn.Module, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF38(Protocol):
        def __call__(_, *, outputs: Any, batch: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndF39(Protocol):
        def __call__(_, *, outputs: Any, batch: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF40(Protocol):
        def __call__(_, *, outputs: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF41(Protocol):
        def __call__(_, *, batch: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF42(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch: Any) -> None: ...
    class _OnTestBatchEndF43(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndF44(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF45(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, batch: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndF46(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, batch: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF47(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF48(Protocol):
        def __call__(_, *, trainer_state: TrainerState, outputs: Any, batch: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndF49(Protocol):
        def __call__(_, *, trainer_state: TrainerState, outputs: Any, batch: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF50(Protocol):
        def __call__(_, *, trainer_state: TrainerState, outputs: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF51(Protocol):
        def __call__(_, *, trainer_state: TrainerState, batch: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF52(Protocol):
        def __call__(_, *, model: nn.Module, outputs: Any, batch: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndF53(Protocol):
        def __call__(_, *, model: nn.Module, outputs: Any, batch: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF54(Protocol):
        def __call__(_, *, model: nn.Module, outputs: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF55(Protocol):
        def __call__(_, *, model: nn.Module, batch: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF56(Protocol):
        def __call__(_, *, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF57(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch: Any, batch_idx: int) -> None: ...
    class _OnTestBatchEndF58(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch: Any, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF59(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF60(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, batch: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF61(Protocol):
        def __call__(_, *, trainer_state: TrainerState, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF62(Protocol):
        def __call__(_, *, model: nn.Module, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int) -> None: ...
    class _OnTestBatchEndF63(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int) -> None: ...

    _OnTestBatchEndImpl = TypeVar(
        "_OnTestBatchEndImpl",
        bound=(
            _OnTestBatchEndM0
            | _OnTestBatchEndM1
            | _OnTestBatchEndM2
            | _OnTestBatchEndM3
            | _OnTestBatchEndM4
            | _OnTestBatchEndM5
            | _OnTestBatchEndM6
            | _OnTestBatchEndM7
            | _OnTestBatchEndM8
            | _OnTestBatchEndM9
            | _OnTestBatchEndM10
            | _OnTestBatchEndM11
            | _OnTestBatchEndM12
            | _OnTestBatchEndM13
            | _OnTestBatchEndM14
            | _OnTestBatchEndM15
            | _OnTestBatchEndM16
            | _OnTestBatchEndM17
            | _OnTestBatchEndM18
            | _OnTestBatchEndM19
            | _OnTestBatchEndM20
            | _OnTestBatchEndM21
            | _OnTestBatchEndM22
            | _OnTestBatchEndM23
            | _OnTestBatchEndM24
            | _OnTestBatchEndM25
            | _OnTestBatchEndM26
            | _OnTestBatchEndM27
            | _OnTestBatchEndM28
            | _OnTestBatchEndM29
            | _OnTestBatchEndM30
            | _OnTestBatchEndM31
            | _OnTestBatchEndM32
            | _OnTestBatchEndM33
            | _OnTestBatchEndM34
            | _OnTestBatchEndM35
            | _OnTestBatchEndM36
            | _OnTestBatchEndM37
            | _OnTestBatchEndM38
            | _OnTestBatchEndM39
            | _OnTestBatchEndM40
            | _OnTestBatchEndM41
            | _OnTestBatchEndM42
            | _OnTestBatchEndM43
            | _OnTestBatchEndM44
            | _OnTestBatchEndM45
            | _OnTestBatchEndM46
            | _OnTestBatchEndM47
            | _OnTestBatchEndM48
            | _OnTestBatchEndM49
            | _OnTestBatchEndM50
            | _OnTestBatchEndM51
            | _OnTestBatchEndM52
            | _OnTestBatchEndM53
            | _OnTestBatchEndM54
            | _OnTestBatchEndM55
            | _OnTestBatchEndM56
            | _OnTestBatchEndM57
            | _OnTestBatchEndM58
            | _OnTestBatchEndM59
            | _OnTestBatchEndM60
            | _OnTestBatchEndM61
            | _OnTestBatchEndM62
            | _OnTestBatchEndM63
            | _OnTestBatchEndF0
            | _OnTestBatchEndF1
            | _OnTestBatchEndF2
            | _OnTestBatchEndF3
            | _OnTestBatchEndF4
            | _OnTestBatchEndF5
            | _OnTestBatchEndF6
            | _OnTestBatchEndF7
            | _OnTestBatchEndF8
            | _OnTestBatchEndF9
            | _OnTestBatchEndF10
            | _OnTestBatchEndF11
            | _OnTestBatchEndF12
            | _OnTestBatchEndF13
            | _OnTestBatchEndF14
            | _OnTestBatchEndF15
            | _OnTestBatchEndF16
            | _OnTestBatchEndF17
            | _OnTestBatchEndF18
            | _OnTestBatchEndF19
            | _OnTestBatchEndF20
            | _OnTestBatchEndF21
            | _OnTestBatchEndF22
            | _OnTestBatchEndF23
            | _OnTestBatchEndF24
            | _OnTestBatchEndF25
            | _OnTestBatchEndF26
            | _OnTestBatchEndF27
            | _OnTestBatchEndF28
            | _OnTestBatchEndF29
            | _OnTestBatchEndF30
            | _OnTestBatchEndF31
            | _OnTestBatchEndF32
            | _OnTestBatchEndF33
            | _OnTestBatchEndF34
            | _OnTestBatchEndF35
            | _OnTestBatchEndF36
            | _OnTestBatchEndF37
            | _OnTestBatchEndF38
            | _OnTestBatchEndF39
            | _OnTestBatchEndF40
            | _OnTestBatchEndF41
            | _OnTestBatchEndF42
            | _OnTestBatchEndF43
            | _OnTestBatchEndF44
            | _OnTestBatchEndF45
            | _OnTestBatchEndF46
            | _OnTestBatchEndF47
            | _OnTestBatchEndF48
            | _OnTestBatchEndF49
            | _OnTestBatchEndF50
            | _OnTestBatchEndF51
            | _OnTestBatchEndF52
            | _OnTestBatchEndF53
            | _OnTestBatchEndF54
            | _OnTestBatchEndF55
            | _OnTestBatchEndF56
            | _OnTestBatchEndF57
            | _OnTestBatchEndF58
            | _OnTestBatchEndF59
            | _OnTestBatchEndF60
            | _OnTestBatchEndF61
            | _OnTestBatchEndF62
            | _OnTestBatchEndF63
        ),
    )

    class _OnTestBatchEndMarker:
        """Marks an implementation of :func:`hookwise.hookspecs.on_test_batch_end`.

        Called after the forward pass of every evaluation batch.

        :param trainer_state: the trainer's state.
        :param model: the model, in eval mode, under ``torch.no_grad()``.
        :param outputs: the model's output for this batch.
        :param batch: the batch.
        :param batch_idx: the index of the batch in its loader.
        :param dataloader_idx: the index of the loader in the trainer's ``test_dataloader`` list.

        The return value is ignored.

        vis4d hook.
        """

        def options(self, *, tryfirst: bool = ..., trylast: bool = ..., before: Iterable[str] | str = ..., after: Iterable[str] | str = ..., every_n_steps: int | str | None = ..., every_n_epochs: int | str | None = ..., on_ranks: str | int | Iterable[int] | None = ..., stages: Iterable[str] | str | None = ...) -> _OnTestBatchEndMarker: ...
        def __call__(self, function: _OnTestBatchEndImpl, /) -> _OnTestBatchEndImpl: ...

    on_test_batch_end: _OnTestBatchEndMarker
else:
    on_test_batch_end = HookMarker("on_test_batch_end")


# --------------------------------------------------------------------------------------------
# on_test_epoch_end


class OnTestEpochEnd(Protocol):
    """The full signature of :func:`hookwise.hookspecs.on_test_epoch_end`."""

    def __call__(self, trainer_state: TrainerState, model: nn.Module) -> MetricLogs | None: ...


if TYPE_CHECKING:
    class _OnTestEpochEndM0(Protocol):
        def __call__(_, self: Any) -> MetricLogs | None: ...
    class _OnTestEpochEndM1(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState) -> MetricLogs | None: ...
    class _OnTestEpochEndM2(Protocol):
        def __call__(_, self: Any, *, model: nn.Module) -> MetricLogs | None: ...
    class _OnTestEpochEndM3(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module) -> MetricLogs | None: ...
    class _OnTestEpochEndF0(Protocol):
        def __call__(_) -> MetricLogs | None: ...
    class _OnTestEpochEndF1(Protocol):
        def __call__(_, *, trainer_state: TrainerState) -> MetricLogs | None: ...
    class _OnTestEpochEndF2(Protocol):
        def __call__(_, *, model: nn.Module) -> MetricLogs | None: ...
    class _OnTestEpochEndF3(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module) -> MetricLogs | None: ...

    _OnTestEpochEndImpl = TypeVar(
        "_OnTestEpochEndImpl",
        bound=(
            _OnTestEpochEndM0
            | _OnTestEpochEndM1
            | _OnTestEpochEndM2
            | _OnTestEpochEndM3
            | _OnTestEpochEndF0
            | _OnTestEpochEndF1
            | _OnTestEpochEndF2
            | _OnTestEpochEndF3
        ),
    )

    class _OnTestEpochEndMarker:
        """Marks an implementation of :func:`hookwise.hookspecs.on_test_epoch_end`.

        Called once after an evaluation pass over all test loaders.

        :param trainer_state: the trainer's state.
        :param model: the model.
        :returns: optionally a mapping of names to numbers, logged as ``val/<name>`` after a
            validation pass and ``test/<name>`` after a standalone test.

        vis4d hook.
        """

        def options(self, *, tryfirst: bool = ..., trylast: bool = ..., before: Iterable[str] | str = ..., after: Iterable[str] | str = ..., every_n_steps: int | str | None = ..., every_n_epochs: int | str | None = ..., on_ranks: str | int | Iterable[int] | None = ..., stages: Iterable[str] | str | None = ...) -> _OnTestEpochEndMarker: ...
        def __call__(self, function: _OnTestEpochEndImpl, /) -> _OnTestEpochEndImpl: ...

    on_test_epoch_end: _OnTestEpochEndMarker
else:
    on_test_epoch_end = HookMarker("on_test_epoch_end")


# --------------------------------------------------------------------------------------------
# on_fit_start


class OnFitStart(Protocol):
    """The full signature of :func:`hookwise.hookspecs.on_fit_start`."""

    def __call__(self, trainer_state: TrainerState, model: nn.Module) -> None: ...


if TYPE_CHECKING:
    class _OnFitStartM0(Protocol):
        def __call__(_, self: Any) -> None: ...
    class _OnFitStartM1(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState) -> None: ...
    class _OnFitStartM2(Protocol):
        def __call__(_, self: Any, *, model: nn.Module) -> None: ...
    class _OnFitStartM3(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module) -> None: ...
    class _OnFitStartF0(Protocol):
        def __call__(_) -> None: ...
    class _OnFitStartF1(Protocol):
        def __call__(_, *, trainer_state: TrainerState) -> None: ...
    class _OnFitStartF2(Protocol):
        def __call__(_, *, model: nn.Module) -> None: ...
    class _OnFitStartF3(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module) -> None: ...

    _OnFitStartImpl = TypeVar(
        "_OnFitStartImpl",
        bound=(
            _OnFitStartM0
            | _OnFitStartM1
            | _OnFitStartM2
            | _OnFitStartM3
            | _OnFitStartF0
            | _OnFitStartF1
            | _OnFitStartF2
            | _OnFitStartF3
        ),
    )

    class _OnFitStartMarker:
        """Marks an implementation of :func:`hookwise.hookspecs.on_fit_start`.

        Called once per fit, after ``setup`` and after a checkpoint was resumed.

        :param trainer_state: the trainer's state (``current_epoch`` and ``global_step`` show where
            a resumed run continues).
        :param model: the model.

        The return value is ignored.

        Extension of vis4d's hook set.
        """

        def options(self, *, tryfirst: bool = ..., trylast: bool = ..., before: Iterable[str] | str = ..., after: Iterable[str] | str = ..., every_n_steps: int | str | None = ..., every_n_epochs: int | str | None = ..., on_ranks: str | int | Iterable[int] | None = ..., stages: Iterable[str] | str | None = ...) -> _OnFitStartMarker: ...
        def __call__(self, function: _OnFitStartImpl, /) -> _OnFitStartImpl: ...

    on_fit_start: _OnFitStartMarker
else:
    on_fit_start = HookMarker("on_fit_start")


# --------------------------------------------------------------------------------------------
# on_fit_end


class OnFitEnd(Protocol):
    """The full signature of :func:`hookwise.hookspecs.on_fit_end`."""

    def __call__(self, trainer_state: TrainerState, model: nn.Module) -> None: ...


if TYPE_CHECKING:
    class _OnFitEndM0(Protocol):
        def __call__(_, self: Any) -> None: ...
    class _OnFitEndM1(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState) -> None: ...
    class _OnFitEndM2(Protocol):
        def __call__(_, self: Any, *, model: nn.Module) -> None: ...
    class _OnFitEndM3(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module) -> None: ...
    class _OnFitEndF0(Protocol):
        def __call__(_) -> None: ...
    class _OnFitEndF1(Protocol):
        def __call__(_, *, trainer_state: TrainerState) -> None: ...
    class _OnFitEndF2(Protocol):
        def __call__(_, *, model: nn.Module) -> None: ...
    class _OnFitEndF3(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module) -> None: ...

    _OnFitEndImpl = TypeVar(
        "_OnFitEndImpl",
        bound=(
            _OnFitEndM0
            | _OnFitEndM1
            | _OnFitEndM2
            | _OnFitEndM3
            | _OnFitEndF0
            | _OnFitEndF1
            | _OnFitEndF2
            | _OnFitEndF3
        ),
    )

    class _OnFitEndMarker:
        """Marks an implementation of :func:`hookwise.hookspecs.on_fit_end`.

        Called once at the end of every fit: after the last epoch, after a stop request, and
        after an interrupt (SIGINT/SIGTERM). Not called when a plugin error ends the run; see
        :func:`on_exception`.

        :param trainer_state: the trainer's state.
        :param model: the model.

        The return value is ignored.

        Extension of vis4d's hook set.
        """

        def options(self, *, tryfirst: bool = ..., trylast: bool = ..., before: Iterable[str] | str = ..., after: Iterable[str] | str = ..., every_n_steps: int | str | None = ..., every_n_epochs: int | str | None = ..., on_ranks: str | int | Iterable[int] | None = ..., stages: Iterable[str] | str | None = ...) -> _OnFitEndMarker: ...
        def __call__(self, function: _OnFitEndImpl, /) -> _OnFitEndImpl: ...

    on_fit_end: _OnFitEndMarker
else:
    on_fit_end = HookMarker("on_fit_end")


# --------------------------------------------------------------------------------------------
# on_before_optimizer_step


class OnBeforeOptimizerStep(Protocol):
    """The full signature of :func:`hookwise.hookspecs.on_before_optimizer_step`."""

    def __call__(self, trainer_state: TrainerState, model: nn.Module, optimizer: Optimizer) -> None: ...


if TYPE_CHECKING:
    class _OnBeforeOptimizerStepM0(Protocol):
        def __call__(_, self: Any) -> None: ...
    class _OnBeforeOptimizerStepM1(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState) -> None: ...
    class _OnBeforeOptimizerStepM2(Protocol):
        def __call__(_, self: Any, *, model: nn.Module) -> None: ...
    class _OnBeforeOptimizerStepM3(Protocol):
        def __call__(_, self: Any, *, optimizer: Optimizer) -> None: ...
    class _OnBeforeOptimizerStepM4(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module) -> None: ...
    class _OnBeforeOptimizerStepM5(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, optimizer: Optimizer) -> None: ...
    class _OnBeforeOptimizerStepM6(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, optimizer: Optimizer) -> None: ...
    class _OnBeforeOptimizerStepM7(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, optimizer: Optimizer) -> None: ...
    class _OnBeforeOptimizerStepF0(Protocol):
        def __call__(_) -> None: ...
    class _OnBeforeOptimizerStepF1(Protocol):
        def __call__(_, *, trainer_state: TrainerState) -> None: ...
    class _OnBeforeOptimizerStepF2(Protocol):
        def __call__(_, *, model: nn.Module) -> None: ...
    class _OnBeforeOptimizerStepF3(Protocol):
        def __call__(_, *, optimizer: Optimizer) -> None: ...
    class _OnBeforeOptimizerStepF4(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module) -> None: ...
    class _OnBeforeOptimizerStepF5(Protocol):
        def __call__(_, *, trainer_state: TrainerState, optimizer: Optimizer) -> None: ...
    class _OnBeforeOptimizerStepF6(Protocol):
        def __call__(_, *, model: nn.Module, optimizer: Optimizer) -> None: ...
    class _OnBeforeOptimizerStepF7(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, optimizer: Optimizer) -> None: ...

    _OnBeforeOptimizerStepImpl = TypeVar(
        "_OnBeforeOptimizerStepImpl",
        bound=(
            _OnBeforeOptimizerStepM0
            | _OnBeforeOptimizerStepM1
            | _OnBeforeOptimizerStepM2
            | _OnBeforeOptimizerStepM3
            | _OnBeforeOptimizerStepM4
            | _OnBeforeOptimizerStepM5
            | _OnBeforeOptimizerStepM6
            | _OnBeforeOptimizerStepM7
            | _OnBeforeOptimizerStepF0
            | _OnBeforeOptimizerStepF1
            | _OnBeforeOptimizerStepF2
            | _OnBeforeOptimizerStepF3
            | _OnBeforeOptimizerStepF4
            | _OnBeforeOptimizerStepF5
            | _OnBeforeOptimizerStepF6
            | _OnBeforeOptimizerStepF7
        ),
    )

    class _OnBeforeOptimizerStepMarker:
        """Marks an implementation of :func:`hookwise.hookspecs.on_before_optimizer_step`.

        Called after ``loss.backward()`` and before each ``optimizer.step()``.

        The place for gradient clipping and gradient monitoring. Called once per optimizer, once
        per optimizer step: with ``accumulate_grad_batches`` once per accumulation window, after
        its last backward. The gradients are unscaled (``precision="fp16"``) and already clipped
        by ``gradient_clip_val`` when it is set; ``global_step`` is the steps done before this one.

        :param trainer_state: the trainer's state, with this step's ``metrics``.
        :param model: the model, gradients populated.
        :param optimizer: the optimizer about to step.

        The return value is ignored.

        Extension of vis4d's hook set.
        """

        def options(self, *, tryfirst: bool = ..., trylast: bool = ..., before: Iterable[str] | str = ..., after: Iterable[str] | str = ..., every_n_steps: int | str | None = ..., every_n_epochs: int | str | None = ..., on_ranks: str | int | Iterable[int] | None = ..., stages: Iterable[str] | str | None = ...) -> _OnBeforeOptimizerStepMarker: ...
        def __call__(self, function: _OnBeforeOptimizerStepImpl, /) -> _OnBeforeOptimizerStepImpl: ...

    on_before_optimizer_step: _OnBeforeOptimizerStepMarker
else:
    on_before_optimizer_step = HookMarker("on_before_optimizer_step")


# --------------------------------------------------------------------------------------------
# on_validation_end


class OnValidationEnd(Protocol):
    """The full signature of :func:`hookwise.hookspecs.on_validation_end`."""

    def __call__(self, trainer_state: TrainerState, model: nn.Module, metrics: Mapping[str, float]) -> None: ...


if TYPE_CHECKING:
    class _OnValidationEndM0(Protocol):
        def __call__(_, self: Any) -> None: ...
    class _OnValidationEndM1(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState) -> None: ...
    class _OnValidationEndM2(Protocol):
        def __call__(_, self: Any, *, model: nn.Module) -> None: ...
    class _OnValidationEndM3(Protocol):
        def __call__(_, self: Any, *, metrics: Mapping[str, float]) -> None: ...
    class _OnValidationEndM4(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module) -> None: ...
    class _OnValidationEndM5(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, metrics: Mapping[str, float]) -> None: ...
    class _OnValidationEndM6(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, metrics: Mapping[str, float]) -> None: ...
    class _OnValidationEndM7(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, metrics: Mapping[str, float]) -> None: ...
    class _OnValidationEndF0(Protocol):
        def __call__(_) -> None: ...
    class _OnValidationEndF1(Protocol):
        def __call__(_, *, trainer_state: TrainerState) -> None: ...
    class _OnValidationEndF2(Protocol):
        def __call__(_, *, model: nn.Module) -> None: ...
    class _OnValidationEndF3(Protocol):
        def __call__(_, *, metrics: Mapping[str, float]) -> None: ...
    class _OnValidationEndF4(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module) -> None: ...
    class _OnValidationEndF5(Protocol):
        def __call__(_, *, trainer_state: TrainerState, metrics: Mapping[str, float]) -> None: ...
    class _OnValidationEndF6(Protocol):
        def __call__(_, *, model: nn.Module, metrics: Mapping[str, float]) -> None: ...
    class _OnValidationEndF7(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, metrics: Mapping[str, float]) -> None: ...

    _OnValidationEndImpl = TypeVar(
        "_OnValidationEndImpl",
        bound=(
            _OnValidationEndM0
            | _OnValidationEndM1
            | _OnValidationEndM2
            | _OnValidationEndM3
            | _OnValidationEndM4
            | _OnValidationEndM5
            | _OnValidationEndM6
            | _OnValidationEndM7
            | _OnValidationEndF0
            | _OnValidationEndF1
            | _OnValidationEndF2
            | _OnValidationEndF3
            | _OnValidationEndF4
            | _OnValidationEndF5
            | _OnValidationEndF6
            | _OnValidationEndF7
        ),
    )

    class _OnValidationEndMarker:
        """Marks an implementation of :func:`hookwise.hookspecs.on_validation_end`.

        Called after every evaluation pass, once its metrics are merged.

        vis4d's ``on_train_epoch_end`` runs before validation, so plugins that act on validation
        results (early stopping, keep-the-best checkpoints) act here.

        :param trainer_state: the trainer's state.
        :param model: the model.
        :param metrics: this pass's metrics, prefixed: ``val/<name>`` after a validation pass
            (epoch or step based), ``test/<name>`` after a standalone test. Values are floats.

        The return value is ignored.

        Extension of vis4d's hook set.
        """

        def options(self, *, tryfirst: bool = ..., trylast: bool = ..., before: Iterable[str] | str = ..., after: Iterable[str] | str = ..., every_n_steps: int | str | None = ..., every_n_epochs: int | str | None = ..., on_ranks: str | int | Iterable[int] | None = ..., stages: Iterable[str] | str | None = ...) -> _OnValidationEndMarker: ...
        def __call__(self, function: _OnValidationEndImpl, /) -> _OnValidationEndImpl: ...

    on_validation_end: _OnValidationEndMarker
else:
    on_validation_end = HookMarker("on_validation_end")


# --------------------------------------------------------------------------------------------
# on_exception


class OnException(Protocol):
    """The full signature of :func:`hookwise.hookspecs.on_exception`."""

    def __call__(self, trainer_state: TrainerState, model: nn.Module, exception: BaseException, fatal: bool) -> None: ...


if TYPE_CHECKING:
    class _OnExceptionM0(Protocol):
        def __call__(_, self: Any) -> None: ...
    class _OnExceptionM1(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState) -> None: ...
    class _OnExceptionM2(Protocol):
        def __call__(_, self: Any, *, model: nn.Module) -> None: ...
    class _OnExceptionM3(Protocol):
        def __call__(_, self: Any, *, exception: BaseException) -> None: ...
    class _OnExceptionM4(Protocol):
        def __call__(_, self: Any, *, fatal: bool) -> None: ...
    class _OnExceptionM5(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module) -> None: ...
    class _OnExceptionM6(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, exception: BaseException) -> None: ...
    class _OnExceptionM7(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, fatal: bool) -> None: ...
    class _OnExceptionM8(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, exception: BaseException) -> None: ...
    class _OnExceptionM9(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, fatal: bool) -> None: ...
    class _OnExceptionM10(Protocol):
        def __call__(_, self: Any, *, exception: BaseException, fatal: bool) -> None: ...
    class _OnExceptionM11(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, exception: BaseException) -> None: ...
    class _OnExceptionM12(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, fatal: bool) -> None: ...
    class _OnExceptionM13(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, exception: BaseException, fatal: bool) -> None: ...
    class _OnExceptionM14(Protocol):
        def __call__(_, self: Any, *, model: nn.Module, exception: BaseException, fatal: bool) -> None: ...
    class _OnExceptionM15(Protocol):
        def __call__(_, self: Any, *, trainer_state: TrainerState, model: nn.Module, exception: BaseException, fatal: bool) -> None: ...
    class _OnExceptionF0(Protocol):
        def __call__(_) -> None: ...
    class _OnExceptionF1(Protocol):
        def __call__(_, *, trainer_state: TrainerState) -> None: ...
    class _OnExceptionF2(Protocol):
        def __call__(_, *, model: nn.Module) -> None: ...
    class _OnExceptionF3(Protocol):
        def __call__(_, *, exception: BaseException) -> None: ...
    class _OnExceptionF4(Protocol):
        def __call__(_, *, fatal: bool) -> None: ...
    class _OnExceptionF5(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module) -> None: ...
    class _OnExceptionF6(Protocol):
        def __call__(_, *, trainer_state: TrainerState, exception: BaseException) -> None: ...
    class _OnExceptionF7(Protocol):
        def __call__(_, *, trainer_state: TrainerState, fatal: bool) -> None: ...
    class _OnExceptionF8(Protocol):
        def __call__(_, *, model: nn.Module, exception: BaseException) -> None: ...
    class _OnExceptionF9(Protocol):
        def __call__(_, *, model: nn.Module, fatal: bool) -> None: ...
    class _OnExceptionF10(Protocol):
        def __call__(_, *, exception: BaseException, fatal: bool) -> None: ...
    class _OnExceptionF11(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, exception: BaseException) -> None: ...
    class _OnExceptionF12(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, fatal: bool) -> None: ...
    class _OnExceptionF13(Protocol):
        def __call__(_, *, trainer_state: TrainerState, exception: BaseException, fatal: bool) -> None: ...
    class _OnExceptionF14(Protocol):
        def __call__(_, *, model: nn.Module, exception: BaseException, fatal: bool) -> None: ...
    class _OnExceptionF15(Protocol):
        def __call__(_, *, trainer_state: TrainerState, model: nn.Module, exception: BaseException, fatal: bool) -> None: ...

    _OnExceptionImpl = TypeVar(
        "_OnExceptionImpl",
        bound=(
            _OnExceptionM0
            | _OnExceptionM1
            | _OnExceptionM2
            | _OnExceptionM3
            | _OnExceptionM4
            | _OnExceptionM5
            | _OnExceptionM6
            | _OnExceptionM7
            | _OnExceptionM8
            | _OnExceptionM9
            | _OnExceptionM10
            | _OnExceptionM11
            | _OnExceptionM12
            | _OnExceptionM13
            | _OnExceptionM14
            | _OnExceptionM15
            | _OnExceptionF0
            | _OnExceptionF1
            | _OnExceptionF2
            | _OnExceptionF3
            | _OnExceptionF4
            | _OnExceptionF5
            | _OnExceptionF6
            | _OnExceptionF7
            | _OnExceptionF8
            | _OnExceptionF9
            | _OnExceptionF10
            | _OnExceptionF11
            | _OnExceptionF12
            | _OnExceptionF13
            | _OnExceptionF14
            | _OnExceptionF15
        ),
    )

    class _OnExceptionMarker:
        """Marks an implementation of :func:`hookwise.hookspecs.on_exception`.

        Called when the training loop or a plugin raises.

        :param trainer_state: the trainer's state at the failure.
        :param model: the model.
        :param exception: the exception (a plugin's exception carries a note naming the plugin
            and the hook).
        :param fatal: ``True`` when the run will end (the checkpoint plugin writes an emergency
            checkpoint then); ``False`` when a plugin's error policy tolerates the failure.

        The return value is ignored. An exception raised here is reported and does not hide the
        original one.

        Extension of vis4d's hook set.
        """

        def options(self, *, tryfirst: bool = ..., trylast: bool = ..., before: Iterable[str] | str = ..., after: Iterable[str] | str = ..., every_n_steps: int | str | None = ..., every_n_epochs: int | str | None = ..., on_ranks: str | int | Iterable[int] | None = ..., stages: Iterable[str] | str | None = ...) -> _OnExceptionMarker: ...
        def __call__(self, function: _OnExceptionImpl, /) -> _OnExceptionImpl: ...

    on_exception: _OnExceptionMarker
else:
    on_exception = HookMarker("on_exception")


__all__ = [
    "on_before_optimizer_step",
    "on_exception",
    "on_fit_end",
    "on_fit_start",
    "on_test_batch_end",
    "on_test_epoch_end",
    "on_test_epoch_start",
    "on_train_batch_end",
    "on_train_batch_start",
    "on_train_epoch_end",
    "on_train_epoch_start",
    "on_validation_end",
    "OnBeforeOptimizerStep",
    "OnException",
    "OnFitEnd",
    "OnFitStart",
    "OnTestBatchEnd",
    "OnTestEpochEnd",
    "OnTestEpochStart",
    "OnTrainBatchEnd",
    "OnTrainBatchStart",
    "OnTrainEpochEnd",
    "OnTrainEpochStart",
    "OnValidationEnd",
    "Setup",
    "setup",
]
