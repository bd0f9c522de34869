"""``LightningCallbackPlugin``: a Lightning callback running on hookwise's trainer.

Each hookwise hook calls the Lightning hooks Lightning calls at that point, in Lightning's
order (see :data:`hookwise_lightning.hooks.MAPPED` and the guide "Using a Lightning callback").
The per-batch hookwise hooks are implemented only when the callback overrides a Lightning
hook that needs them, so a callback that acts per epoch costs nothing per batch.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Mapping
from typing import Any

from hookwise import hookimpl
from hookwise.errors import CheckpointError
from hookwise.values import tensors
from lightning.pytorch.trainer.states import RunningStage, TrainerFn

from hookwise_lightning import _hookwise_api as api
from hookwise_lightning.context import RunContext, context_for
from hookwise_lightning.hooks import needed_hooks, overridden

#: Version of the plugin's entry in hookwise's checkpoints.
STATE_VERSION = 1
_FIT, _TEST = TrainerFn.FITTING, TrainerFn.TESTING
_TRAINING, _VALIDATING = RunningStage.TRAINING, RunningStage.VALIDATING
_TESTING = RunningStage.TESTING


def _qualified(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


class LightningCallbackPlugin:
    """The hookwise plugin standing for one Lightning callback (``callback``).

    Build it with :func:`hookwise_lightning.adapt` (or let hookwise do it: enabling a Lightning
    callback by import path, by entry point or as an object wraps it automatically).

    :param callback: the Lightning callback, used unchanged.
    :param base: the Lightning ``Callback`` class it derives from.
    """

    #: A Lightning callback may read or copy the full parameters (``pl_module``), which a
    #: sharded model does not have on any rank.
    supports_fsdp = (
        "a Lightning callback may read or copy the model's full parameters, which a sharded "
        "model does not have on any rank"
    )

    @property
    def supports_sharded_checkpoints(self) -> bool | str:
        """A Lightning checkpoint callback (``ModelCheckpoint``) removes the checkpoints it
        replaces as single files, which a sharded checkpoint (a folder) is not."""
        if any(kind.__name__ == "Checkpoint" for kind in type(self.callback).__mro__):
            return (
                "a Lightning checkpoint callback removes the checkpoints it replaces as single "
                "files, and a sharded checkpoint is a folder; use hookwise's checkpoint plugin"
            )
        return True

    def __init__(self, callback: Any, base: type) -> None:
        self.callback = callback
        #: the Lightning hooks the callback overrides (only these are called)
        self.overrides = frozenset(overridden(callback, base))
        self._context: RunContext | None = None
        self._train_started = False
        self._epoch_end_pending = False
        self._backward_step = -1
        self._restore: Mapping[str, Any] | None = None

    def __repr__(self) -> str:
        return f"LightningCallbackPlugin({self.callback!r})"

    # -- calling the callback --------------------------------------------------------------------

    def _enter(self, trainer_state: Mapping[str, Any], model: Any = None) -> RunContext:
        context = context_for(trainer_state)
        context.bind(model)
        self._context = context
        return context

    def _call(self, context: RunContext, hook: str, *args: Any, **kwargs: Any) -> None:
        """Call the callback's ``hook`` as Lightning does (``stage`` by keyword)."""
        if hook not in self.overrides:
            return
        previous = context.plugin, context.hook
        context.plugin, context.hook = self, hook
        try:
            getattr(self.callback, hook)(context.trainer_view, context.module, *args, **kwargs)
        finally:
            context.plugin, context.hook = previous

    def _setup(self, context: RunContext, stage: TrainerFn) -> None:
        """Lightning's ``setup``, then the state a resume gave (Lightning restores callbacks
        after ``setup``: ``ModelCheckpoint`` compares its folder with the saved one)."""
        self._call(context, "setup", stage=stage)
        state, self._restore = self._restore, None
        if state is None:
            return
        checkpoint = {"epoch": state.get("epoch"), "global_step": state.get("global_step")}
        checkpoint.update(state.get("checkpoint") or {})
        self._call(context, "on_load_checkpoint", checkpoint)
        self.callback.load_state_dict(state["state"])

    # -- fit -------------------------------------------------------------------------------------

    @hookimpl
    def on_fit_start(self, trainer_state: Any, model: Any) -> None:
        context = self._enter(trainer_state, model)
        context.in_fit, context.val_has_run = True, False
        self._train_started = self._epoch_end_pending = False
        context.enter(_FIT, _TRAINING)
        self._setup(context, _FIT)
        self._call(context, "on_fit_start")
        context.flush(self, "on_fit_start", None)

    @hookimpl
    def on_fit_end(self, trainer_state: Any, model: Any) -> None:
        context = self._enter(trainer_state, model)
        if self._train_started:
            context.enter(_FIT, _TRAINING)
            self._call(context, "on_train_end")
            self._train_started = False
        context.enter(_FIT, _TRAINING)
        self._call(context, "on_fit_end")
        self._call(context, "teardown", stage=_FIT)
        context.in_fit = False
        context.flush(self, "on_fit_end", None)

    @hookimpl
    def on_train_epoch_start(self, trainer_state: Any, model: Any) -> None:
        context = self._enter(trainer_state, model)
        context.enter(_FIT, _TRAINING)
        context.val_has_run = False
        if not self._train_started:
            self._train_started = True
            self._call(context, "on_train_start")
        self._call(context, "on_train_epoch_start")
        context.flush(self, "on_train_epoch_start", None)

    @hookimpl
    def on_train_epoch_end(self, trainer_state: Any, model: Any) -> Any:
        """Lightning ends the training epoch after the epoch's validation: when one follows,
        the callback's ``on_train_epoch_end`` runs after it (in ``on_validation_end``)."""
        context = self._enter(trainer_state, model)
        context.enter(_FIT, _TRAINING)
        context.end_epoch(self, "train/")
        trainer = context.trainer
        if api.validates_after_epoch(trainer, api.current_epoch(trainer)):
            self._epoch_end_pending = True
        else:
            self._call(context, "on_train_epoch_end")
        return context.flush(self, "on_train_epoch_end", "train/")

    def _on_train_batch_start(
        self, trainer_state: Any, model: Any, batch: Any, batch_idx: int
    ) -> None:
        context = self._enter(trainer_state, model)
        context.enter(_FIT, _TRAINING)
        self._call(context, "on_train_batch_start", batch, batch_idx)
        context.flush(self, "on_train_batch_start", None)

    def _on_before_optimizer_step(self, trainer_state: Any, model: Any, optimizer: Any) -> None:
        context = self._enter(trainer_state, model)
        context.enter(_FIT, _TRAINING)
        step = trainer_state["global_step"]
        if step != self._backward_step:  # after backward, before the first optimizer's step
            self._backward_step = step
            self._call(context, "on_after_backward")
        self._call(context, "on_before_optimizer_step", optimizer)
        context.flush(self, "on_before_optimizer_step", None)

    def _on_train_batch_end(
        self, trainer_state: Any, model: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> Any:
        context = self._enter(trainer_state, model)
        context.enter(_FIT, _TRAINING)
        trainer = context.trainer
        batches, limit = api.train_batches(trainer), api.max_steps(trainer)
        context.is_last_batch = batch_idx + 1 == batches or (
            limit != -1 and api.global_step(trainer) >= limit
        )
        metrics = tensors(trainer_state.get("metrics") or {})  # Lightning's outputs hold tensors
        step_output = {"metrics": metrics, "predictions": outputs}
        if "loss" in metrics:
            step_output = {"loss": metrics["loss"], **step_output}
        try:
            self._call(context, "on_train_batch_end", step_output, batch, batch_idx)
        finally:
            context.is_last_batch = False
        return context.flush(self, "on_train_batch_end", "train/")

    # -- evaluation ------------------------------------------------------------------------------

    @hookimpl
    def on_test_epoch_start(self, trainer_state: Any, model: Any) -> None:
        context = self._enter(trainer_state, model)
        if context.in_fit:
            context.enter(_FIT, _VALIDATING)
            self._call(context, "on_validation_start")
            self._call(context, "on_validation_epoch_start")
        else:
            context.enter(_TEST, _TESTING)
            self._setup(context, _TEST)
            self._call(context, "on_test_start")
            self._call(context, "on_test_epoch_start")
        context.flush(self, "on_test_epoch_start", None)

    def _on_test_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        context = self._enter(trainer_state, model)
        hook = "on_validation_batch_end" if context.in_fit else "on_test_batch_end"
        # Lightning passes dataloader_idx only when there are several loaders
        several = len(api.eval_batches(context.trainer)) > 1
        extra = (dataloader_idx,) if several else ()
        context.dataloader_idx = dataloader_idx
        try:
            self._call(context, hook, outputs, batch, batch_idx, *extra)
        finally:
            context.dataloader_idx = None
        context.flush(self, hook, None)

    @hookimpl
    def on_test_epoch_end(self, trainer_state: Any, model: Any) -> Any:
        context = self._enter(trainer_state, model)
        prefix = "val/" if context.in_fit else "test/"
        context.end_epoch(self, prefix)
        hook = "on_validation_epoch_end" if context.in_fit else "on_test_epoch_end"
        self._call(context, hook)
        return context.flush(self, hook, prefix)

    @hookimpl
    def on_validation_end(self, trainer_state: Any, model: Any) -> None:
        context = self._enter(trainer_state, model)
        if context.in_fit:
            context.enter(_FIT, _VALIDATING)
            self._call(context, "on_validation_end")
            context.val_has_run = True
            if self._epoch_end_pending:
                self._epoch_end_pending = False
                context.enter(_FIT, _TRAINING)
                self._call(context, "on_train_epoch_end")
        else:
            context.enter(_TEST, _TESTING)
            self._call(context, "on_test_end")
            self._call(context, "teardown", stage=_TEST)
        context.flush(self, "on_validation_end", None)

    def _on_exception(
        self, trainer_state: Any, model: Any, exception: BaseException, fatal: bool
    ) -> None:
        if fatal:  # Lightning calls on_exception when the run ends on one
            context = self._enter(trainer_state, model)
            self._call(context, "on_exception", exception)

    # -- state -----------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The callback's ``state_dict()`` and what its ``on_save_checkpoint`` adds to the
        checkpoint.
        A restored state not yet given to the callback is returned as it was saved."""
        if self._restore is not None:
            return dict(self._restore)
        context = self._context
        position: dict[str, Any] = {"epoch": None, "global_step": None}
        extra: dict[str, Any] = {}
        if context is not None:
            trainer = context.trainer
            position = {
                "epoch": api.current_epoch(trainer),
                "global_step": api.global_step(trainer),
            }
            if "on_save_checkpoint" in self.overrides:
                checkpoint = dict(position)
                self._call(context, "on_save_checkpoint", checkpoint)
                extra = {
                    k: v for k, v in checkpoint.items() if k not in position or position[k] is not v
                }
        return {
            "version": STATE_VERSION,
            "callback": _qualified(type(self.callback)),
            "state": self.callback.state_dict(),
            "checkpoint": extra,
            **position,
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Keep the saved state; the callback gets it (``on_load_checkpoint``, then
        ``load_state_dict``) right after its ``setup``, as in Lightning."""
        if not isinstance(state_dict, Mapping) or state_dict.get("version") != STATE_VERSION:
            raise CheckpointError(
                f"hookwise-lightning: the saved state of {type(self.callback).__name__} is not "
                f"version {STATE_VERSION} ({state_dict!r:.200}); resume with the "
                f"hookwise-lightning release that wrote it"
            )
        saved = state_dict.get("callback")
        if saved != _qualified(type(self.callback)):
            raise CheckpointError(
                f"hookwise-lightning: the checkpoint holds the state of {saved}, not of "
                f"{_qualified(type(self.callback))}; enable the same callback under this name"
            )
        self._restore = state_dict


_OPTIONAL = {
    "on_train_batch_start": LightningCallbackPlugin._on_train_batch_start,
    "on_train_batch_end": LightningCallbackPlugin._on_train_batch_end,
    "on_before_optimizer_step": LightningCallbackPlugin._on_before_optimizer_step,
    "on_test_batch_end": LightningCallbackPlugin._on_test_batch_end,
    "on_exception": LightningCallbackPlugin._on_exception,
}


@functools.cache
def plugin_class(hooks: frozenset[str]) -> type[LightningCallbackPlugin]:
    """The plugin class implementing the fixed hooks and the optional ``hooks``."""
    if not hooks:
        return LightningCallbackPlugin
    namespace: dict[str, Any] = {}
    for hook in sorted(hooks):
        source = _OPTIONAL[hook]
        function = types.FunctionType(
            source.__code__, source.__globals__, hook, source.__defaults__, source.__closure__
        )
        function.__doc__ = source.__doc__
        namespace[hook] = hookimpl(function)
    name = f"LightningCallbackPlugin[{','.join(sorted(hooks))}]"
    return type(name, (LightningCallbackPlugin,), namespace)


def build_plugin(callback: Any, base: type) -> LightningCallbackPlugin:
    """The plugin for ``callback``; refuses a callback overriding a hook with no counterpart."""
    return plugin_class(needed_hooks(callback, base))(callback, base)


__all__ = ["STATE_VERSION", "LightningCallbackPlugin", "build_plugin", "plugin_class"]
