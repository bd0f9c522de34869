"""``RunContext``: what the adapted callbacks of one hookwise trainer share, as Lightning's
callbacks share one ``Trainer``: the phase, the logs, the ``trainer`` and ``pl_module`` views."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning.pytorch.trainer.states import RunningStage, TrainerFn

from hookwise_lightning import _hookwise_api as api
from hookwise_lightning.errors import UnsupportedLightningFeature
from hookwise_lightning.logs import LogBook

if TYPE_CHECKING:
    from hookwise import TrainerAPI as Trainer
    from torch import nn

    from hookwise_lightning.module_view import LightningModuleView
    from hookwise_lightning.plugin import LightningCallbackPlugin
    from hookwise_lightning.trainer_view import LightningTrainerView

_PREFIX = {RunningStage.TRAINING: "train/", RunningStage.VALIDATING: "val/"}

_contexts: weakref.WeakKeyDictionary[Any, RunContext] = weakref.WeakKeyDictionary()


def context_for(trainer_state: Mapping[str, Any]) -> RunContext:
    """The shared context of the trainer running this hook (made on first use)."""
    trainer = api.trainer_of(trainer_state)
    context = _contexts.get(trainer)
    if context is None:
        context = _contexts[trainer] = RunContext(trainer)
    # not the trainer_state itself: it holds the trainer, which must stay collectable
    context.sanity_checking = bool(trainer_state.get("sanity_check", False))
    return context


class RunContext:
    """The adapter's state of one hookwise run, shared by its adapted callbacks."""

    def __init__(self, trainer: Trainer) -> None:
        from hookwise_lightning.logger import HookwiseLogger
        from hookwise_lightning.trainer_view import LightningTrainerView

        self._trainer = weakref.ref(trainer)
        self.logbook = LogBook()
        #: values written into ``trainer.callback_metrics`` or logged and not yet merged
        self.overlay: dict[str, Any] = {}
        self.fn: TrainerFn | None = None
        self.stage: RunningStage | None = None
        self.in_fit = False
        #: whether the hook running now is part of a sanity check (``trainer_state``)
        self.sanity_checking = False
        #: the Lightning hook running now, and the plugin whose callback runs it
        self.hook = ""
        self.plugin: LightningCallbackPlugin | None = None
        self.val_has_run = False
        self.is_last_batch = False
        #: the evaluation loader of the batch hook running now (``None`` outside one)
        self.dataloader_idx: int | None = None
        #: folders this run wrote checkpoints into (the only ones it deletes files from)
        self.checkpoint_dirs: set[Path] = set()
        #: files this run wrote through ``trainer.save_checkpoint``
        self.written: set[Path] = set()
        self._modules: dict[int, LightningModuleView] = {}
        #: the ``pl_module`` of the model the last hook saw
        self.module: LightningModuleView | None = None
        self.logger = HookwiseLogger(self)
        self.trainer_view: LightningTrainerView = LightningTrainerView(self)

    @property
    def trainer(self) -> Trainer:
        trainer = self._trainer()
        if trainer is None:
            raise UnsupportedLightningFeature(
                "trainer", reason="the hookwise trainer of this run no longer exists"
            )
        return trainer

    @property
    def prefix(self) -> str:
        """The prefix of what is logged now (``train/``, ``val/``, ``test/``)."""
        if self.stage is RunningStage.TESTING:
            return "test/"
        return _PREFIX.get(self.stage, "train/") if self.stage is not None else "train/"

    def module_for(self, model: nn.Module) -> LightningModuleView:
        """The ``pl_module`` standing for ``model`` (one per model object)."""
        from hookwise_lightning.module_view import LightningModuleView

        view = self._modules.get(id(model))
        if view is None or object.__getattribute__(view, "_hw_model") is not model:
            view = self._modules[id(model)] = LightningModuleView(model, self)
        return view

    def bind(self, model: nn.Module | None) -> LightningModuleView | None:
        """Make the ``pl_module`` of ``model`` the current one (``None``: keep the last)."""
        if model is not None:
            self.module = self.module_for(model)
        return self.module

    def enter(self, fn: TrainerFn | None, stage: RunningStage | None) -> None:
        if fn is not None:
            self.fn = fn
        self.stage = stage

    def log(self, name: str, value: Any, options: dict[str, Any]) -> None:
        """``pl_module.log`` / ``logger.log_metrics`` of the callback running now."""
        logged = self.logbook.record(self.plugin, self.prefix, self.hook, name, value, options)
        if logged is not None:
            self.overlay[logged[0]] = logged[1]

    def log_direct(self, name: str, value: Any) -> None:
        """``trainer.logger.log_metrics``: logged as it is, from any hook."""
        full, scalar = self.logbook.record_direct(self.plugin, self.prefix, name, value)
        self.overlay[full] = scalar

    def end_epoch(self, plugin: LightningCallbackPlugin, prefix: str) -> None:
        """Reduce ``plugin``'s values logged ``on_epoch`` in this phase (queued to be logged,
        and in ``callback_metrics`` at once)."""
        self.overlay.update(self.logbook.end_epoch(plugin, prefix))

    def flush(self, plugin: LightningCallbackPlugin, hook: str, prefix: str | None) -> Any:
        """Hand ``plugin``'s queued logs to hookwise: those of ``prefix`` are returned (for a
        hook that returns logs), the others are logged now."""
        mine, others = self.logbook.take(plugin, prefix)
        if others:
            api.log(self.trainer, api.plugin_name(self.trainer, plugin), hook, others)
        for name in others:
            self.overlay.pop(name, None)
        for name in mine:
            self.overlay.pop((prefix or "") + name, None)
        return mine or None


__all__ = ["RunContext", "context_for"]
