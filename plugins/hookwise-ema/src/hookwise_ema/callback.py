"""``EMACallback``: an exponential moving average of the weights, used for evaluation."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch
from hookwise import Callback, TrainerState, hookimpl
from hookwise.distributed import unwrap_model
from hookwise.errors import CheckpointError
from torch import Tensor, nn

from hookwise_ema.adapter import ModelEMAAdapter
from hookwise_ema.averaging import check_decay, copy_, ema_update_, warmup_decay

logger = logging.getLogger("hookwise.ema")


class EMACallback(Callback):
    """Keep an exponential moving average (EMA) of the model's weights; vis4d's ``EMACallback``.

    Enabled by name on a plain model (``hookwise fit -p ema:decay=0.999``), the plugin keeps its
    own copy of the weights. After every training batch it updates the copy::

        ema = d * ema + (1 - d) * weights          # every floating-point state entry

    where ``d`` is ``decay`` (or, with ``warmup_steps``, ``decay * (1 - exp(-(1 + step) /
    warmup_steps))`` at global step ``step``, as vis4d's ``ModelExpEMAAdapter``). Integer
    buffers (BatchNorm's ``num_batches_tracked``) are copied. The copy starts from the weights
    at the start of fit.

    With ``use_ema_during_test``, every evaluation pass runs on the averaged weights: they are
    loaded into the model at ``on_test_epoch_start`` (``tryfirst``: before the other plugins'
    start of the pass) and the training weights are put back after every plugin's
    ``on_test_epoch_end`` (before ``on_validation_end``, so a checkpoint
    taken there holds the training weights, and after an error too). The trainer's model
    object is never replaced. The average is saved in every checkpoint (the plugin's
    ``state_dict``) and restored on resume, so a resumed run continues the same average.

    When the model is a :class:`~hookwise_ema.ModelEMAAdapter` (vis4d style, DDP-wrapped or
    not), the plugin calls its ``update(global_step)`` after every training batch, as vis4d
    does; the adapter then holds the average (in the model's own state dict) and chooses the
    weights by train/eval mode, and this plugin's other parameters are unused.

    :param decay: the weight of the old average, in [0, 1] (vis4d's default 0.9998 suits long
        runs; a few hundred steps want something like 0.99).
    :param warmup_steps: 0 for a constant decay, or the time constant of vis4d's exponential
        warm-up.
    :param use_ema_during_test: evaluate with the averaged weights.
    :param device: where the average lives (e.g. ``"cpu"`` to spare GPU memory; each update
        then copies the weights there). Default: with the model.
    :param epoch_based: accepted for vis4d compatibility; updates happen every step.
    :param train_connector: accepted for vis4d compatibility (unused).
    :param test_connector: accepted for vis4d compatibility (unused).
    """

    #: Under strategy="fsdp" the weights are sharded DTensors: the average would hold this
    #: rank's shards only, and swapping it in for evaluation would not fit.
    supports_fsdp = (
        "it keeps a full copy of the model's weights, which a sharded model does not have "
        "on any rank"
    )

    def __init__(
        self,
        decay: float = 0.9998,
        warmup_steps: int = 0,
        use_ema_during_test: bool = True,
        device: str | torch.device | None = None,
        epoch_based: bool = True,
        train_connector: Any = None,
        test_connector: Any = None,
    ) -> None:
        super().__init__(epoch_based, train_connector, test_connector)
        self.decay = check_decay(decay, "plugin 'ema'")
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(
                f"plugin 'ema': warmup_steps must be 0 (no warm-up) or a positive number of "
                f"steps, got {warmup_steps!r}"
            )
        self.warmup_steps = warmup_steps
        self.use_ema_during_test = bool(use_ema_during_test)
        self.device = torch.device(device) if device is not None else None
        #: Number of updates made to the average (by this plugin, in plain-model mode).
        self.updates = 0
        self._ema: dict[str, Tensor] | None = None
        self._backup: dict[str, Tensor] | None = None
        self._swapped: nn.Module | None = None
        self._warned_no_average = False

    # -- the average ---------------------------------------------------------------------------

    @property
    def ema_state(self) -> dict[str, Tensor] | None:
        """The averaged weights by state-dict name (``None`` before the first fit or in
        adapter mode). The tensors are the plugin's own: clone them to keep a snapshot."""
        return self._ema

    def decay_at(self, step: int) -> float:
        """The decay of the update made at global step ``step``."""
        if self.warmup_steps:
            return warmup_decay(self.decay, step, self.warmup_steps)
        return self.decay

    def copy_to(self, model: nn.Module) -> None:
        """Load the averaged weights into ``model`` (e.g. after fit, to keep the average)."""
        if self._ema is None:
            raise RuntimeError("plugin 'ema' has no averaged weights yet: run fit first")
        copy_(unwrap_model(model).state_dict(), self._ema)

    def _start(self, module: nn.Module) -> None:
        state = module.state_dict()
        if self._ema is None:
            self._ema = {
                name: value.detach().clone().to(self.device or value.device)
                for name, value in state.items()
            }
            return
        missing = [name for name in state if name not in self._ema]
        extra = [name for name in self._ema if name not in state]
        if missing or extra:
            raise CheckpointError(
                f"plugin 'ema': the saved average does not fit the model (entries the model has "
                f"but the average lacks: {missing[:5]}; entries only the average has: "
                f"{extra[:5]}). Resume with the model the checkpoint was trained with, or start "
                f"a new average without the plugin's checkpoint state."
            )
        mismatched = [n for n, v in state.items() if v.shape != self._ema[n].shape]
        if mismatched:
            raise CheckpointError(
                f"plugin 'ema': the saved average has other shapes than the model for "
                f"{mismatched[:5]}"
            )

    # -- hooks ---------------------------------------------------------------------------------

    def on_fit_start(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Start the average from the model's weights (or check the restored one fits)."""
        module = unwrap_model(model)
        if not isinstance(module, ModelEMAAdapter):
            self._start(module)

    def on_train_batch_end(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """Update the average with this step's weights (once per optimizer step: not inside
        an accumulation window, where the weights have not changed)."""
        if trainer_state.get("accumulating"):
            return
        module = unwrap_model(model)
        step = int(trainer_state["global_step"])
        if isinstance(module, ModelEMAAdapter):
            module.update(step)
            return
        if self._ema is None:  # hooks called without a fit (vis4d-style direct use)
            self._start(module)
        assert self._ema is not None
        ema_update_(self._ema, module.state_dict(), self.decay_at(step))
        self.updates += 1

    @hookimpl(tryfirst=True)
    def on_test_epoch_start(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Load the averaged weights into the model for the evaluation pass."""
        module = unwrap_model(model)
        if not self.use_ema_during_test or isinstance(module, ModelEMAAdapter):
            return
        if self._ema is None:
            if not self._warned_no_average:
                self._warned_no_average = True
                logger.warning(
                    "plugin 'ema': there is no average yet (no fit ran and no checkpoint state "
                    "was loaded); evaluating with the model's own weights"
                )
            return
        self._restore()  # an earlier pass that never finished
        state = module.state_dict()
        self._backup = {name: value.detach().clone() for name, value in state.items()}
        copy_(state, self._ema)
        self._swapped = module

    @hookimpl(trylast=True)
    def on_test_epoch_end(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Put the training weights back, after every other plugin's ``on_test_epoch_end``."""
        self._restore()

    @hookimpl(tryfirst=True, before=["checkpoint"])
    def on_validation_end(
        self, trainer_state: TrainerState, model: nn.Module, metrics: Mapping[str, float]
    ) -> None:
        """Make sure the training weights are back before anyone checkpoints."""
        self._restore()

    @hookimpl(before=["checkpoint"])
    def on_exception(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        exception: BaseException,
        fatal: bool,
    ) -> None:
        """Put the training weights back when a pass fails halfway."""
        self._restore()

    def on_fit_end(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Put the training weights back if a pass was left unfinished."""
        self._restore()

    def _restore(self) -> None:
        if self._swapped is not None and self._backup is not None:
            copy_(self._swapped.state_dict(), self._backup)
        self._swapped = None
        self._backup = None

    # -- checkpoint state ----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """``{"ema": {name: tensor}, "updates": n}`` (empty in adapter mode or before fit)."""
        if self._ema is None:
            return {}
        return {"ema": dict(self._ema), "updates": self.updates}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the average saved by :meth:`state_dict`; fit checks that it fits the model."""
        ema = state_dict.get("ema")
        if ema is None:
            return
        if not isinstance(ema, Mapping) or not all(isinstance(v, Tensor) for v in ema.values()):
            raise CheckpointError(
                "plugin 'ema': the checkpoint's 'ema' entry is not a mapping of tensors"
            )
        self._ema = {
            name: (value.to(self.device) if self.device is not None else value).clone()
            for name, value in ema.items()
        }
        self.updates = int(state_dict.get("updates", 0))

    def __repr__(self) -> str:
        return (
            f"EMACallback(decay={self.decay}, warmup_steps={self.warmup_steps}, "
            f"use_ema_during_test={self.use_ema_during_test}, device={self.device})"
        )
