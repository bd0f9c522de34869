"""``NanGuard``: check the loss of every step before the optimizer applies it."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from hookwise import Callback, ConfigError, HookwiseError
from hookwise.distributed import all_reduce_flag

if TYPE_CHECKING:
    from hookwise import CallbackConnector, TrainerAPI, TrainerState
    from hookwise.hookspecs import MetricLogs
    from torch import nn
    from torch.optim import Optimizer

logger = logging.getLogger("hookwise")

ACTIONS = ("stop", "skip", "raise")
#: Skipped steps logged one by one; later ones are counted in the epoch's log.
WARN_FIRST = 10


class NonFiniteLossError(HookwiseError, FloatingPointError):
    """Raised by ``nan_guard`` with ``action="raise"`` when a step's loss is not finite."""


def _format(values: Mapping[str, float]) -> str:
    return ", ".join(f"{key}={value:.6g}" for key, value in values.items())


class NanGuard(Callback):
    """Guards training against non-finite (NaN or infinite) losses.

    After ``loss.backward()`` and before the optimizers step (``on_before_optimizer_step``),
    it checks the step's ``loss`` metric (every loss metric when there is no ``loss`` key; with
    ``check_grads=True`` every gradient too). When one is not finite:

    * ``action="stop"`` (default): the step's update is not applied, and the trainer is asked
      to stop (``request_stop``) with a message naming the epoch and the step; the run ends
      after this batch with the weights of the step before, so the final checkpoint is usable.
    * ``action="skip"``: the step's update is not applied and training goes on. The step still
      counts (``global_step`` advances and per-step schedulers step). ``max_consecutive_skips``
      turns a run of bad steps into a stop.
    * ``action="raise"``: :class:`NonFiniteLossError` is raised from the hook before the
      update; the trainer reports it to ``on_exception`` (the checkpoint plugin writes its
      emergency checkpoint there) and ``fit`` raises it.

    How a step is made a no-op: every gradient of the optimizer's parameters is set to
    ``None`` (``optimizer.zero_grad(set_to_none=True)``). PyTorch's optimizers skip parameters
    without a gradient entirely: no update, no momentum or Adam moment change, no weight decay,
    no step count. (Zeroing the gradients instead would still let momentum and weight decay
    move the weights.) With several optimizers, each is handled when its turn comes.

    Steps are numbered as ``trainer_state["global_step"]`` reads in ``on_train_batch_end``: the
    first step is step 1. The message names the epoch (0-based, as ``current_epoch``) too.

    This is the one bundled plugin that reads a value off the device every step: checking the
    loss needs it on the host (one synchronisation per step on CUDA). In a distributed run the
    verdict is combined across processes (one small all-reduce per step), so every process
    skips or stops on the same step and the replicas stay identical.

    Returns ``nan_guard/skipped_steps`` (steps skipped in the epoch) from
    ``on_train_epoch_end``, logged as ``train/nan_guard/skipped_steps``. The total is kept in
    the checkpoint.

    :param action: ``"stop"``, ``"skip"`` or ``"raise"``.
    :param check_grads: also check every gradient (catches overflow in backward with a
        finite loss; one more reduction per parameter per step).
    :param max_consecutive_skips: with ``action="skip"``, stop training once this many steps
        in a row were skipped (``None``: never).
    :param epoch_based: accepted for vis4d compatibility (unused).
    :param train_connector: accepted for vis4d compatibility (unused).
    :param test_connector: accepted for vis4d compatibility (unused).
    """

    #: Under strategy="fsdp" it checks this rank's gradient shards; the verdict is combined
    #: over the ranks, as under DDP.
    supports_fsdp = True

    def __init__(
        self,
        *,
        action: str = "stop",
        check_grads: bool = False,
        max_consecutive_skips: int | None = None,
        epoch_based: bool = True,
        train_connector: CallbackConnector | Mapping[str, Any] | None = None,
        test_connector: CallbackConnector | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(epoch_based, train_connector, test_connector)
        if action not in ACTIONS:
            raise ConfigError(f"nan_guard: action must be one of {list(ACTIONS)}, got {action!r}")
        if not isinstance(check_grads, bool):
            raise ConfigError(f"nan_guard: check_grads must be true or false, got {check_grads!r}")
        if max_consecutive_skips is not None and (
            isinstance(max_consecutive_skips, bool)
            or not isinstance(max_consecutive_skips, int)
            or max_consecutive_skips < 1
        ):
            raise ConfigError(
                f"nan_guard: max_consecutive_skips must be a positive integer or unset, got "
                f"{max_consecutive_skips!r}"
            )
        if max_consecutive_skips is not None and action != "skip":
            raise ConfigError(
                f"nan_guard: max_consecutive_skips applies to action='skip' only (action is "
                f"{action!r}); remove it or set action='skip'"
            )
        self.action = action
        self.check_grads = check_grads
        self.max_consecutive_skips = max_consecutive_skips
        #: Steps skipped so far in the whole run (kept in the checkpoint).
        self.skipped_steps = 0
        self._skipped_in_epoch = 0
        self._consecutive = 0
        self._checked_step = -1
        self._message: str | None = None

    # -- state ----------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """``{"skipped_steps": int}``."""
        return {"skipped_steps": self.skipped_steps}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the skipped-step count."""
        self.skipped_steps = int(state_dict.get("skipped_steps", 0))

    # -- hooks ----------------------------------------------------------------------------------

    def on_train_epoch_start(
        self, trainer_state: TrainerState, model: nn.Module, loss_module: Any
    ) -> None:
        """Start the epoch's skip count."""
        self._skipped_in_epoch = 0

    def on_before_optimizer_step(
        self, trainer_state: TrainerState, model: nn.Module, optimizer: Optimizer
    ) -> None:
        """Check the step (once, at its first optimizer); keep a bad update from being applied."""
        step = int(trainer_state.get("global_step", 0)) + 1
        if step != self._checked_step:
            self._checked_step = step
            self._message = self._check(trainer_state, model, step)
            if self._message is None:
                self._consecutive = 0
            else:
                self._on_bad_step(trainer_state)
        if self._message is not None:
            optimizer.zero_grad(set_to_none=True)

    def on_train_epoch_end(
        self, trainer_state: TrainerState, model: nn.Module, loss_module: Any
    ) -> MetricLogs:
        """Return the number of steps skipped in the epoch."""
        return {"nan_guard/skipped_steps": float(self._skipped_in_epoch)}

    # -- checking -------------------------------------------------------------------------------

    def _check(self, trainer_state: TrainerState, model: nn.Module, step: int) -> str | None:
        """``None`` when the step is finite, else the message naming the step and values."""
        metrics = trainer_state.get("metrics")
        if not metrics:
            raise ConfigError(
                "nan_guard: trainer_state has no loss 'metrics' in on_before_optimizer_step "
                f"(keys: {sorted(trainer_state)}); nan_guard needs a trainer that passes them"
            )
        keys = ["loss"] if "loss" in metrics else list(metrics)
        values = {key: float(metrics[key]) for key in keys}  # the read off the device
        bad = not all(math.isfinite(v) for v in values.values())
        grads: list[tuple[str, torch.Tensor]] = []
        if self.check_grads and not bad:
            grads = [(n, _local(p.grad)) for n, p in model.named_parameters() if p.grad is not None]
            if grads:
                bad = not bool(torch.stack([torch.isfinite(g).all() for _, g in grads]).all())
        bad = all_reduce_flag(bad)
        if not bad:
            return None
        epoch = int(trainer_state.get("current_epoch", 0))
        where = f"epoch {epoch}, step {step}"
        finite_loss = all(math.isfinite(v) for v in values.values())
        if finite_loss:
            names = [n for n, g in grads if not bool(torch.isfinite(g).all())]  # rare path
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            detail = (
                f"non-finite gradients of {shown} with a finite loss ({_format(values)})"
                if names
                else f"a non-finite loss on another process (here {_format(values)})"
            )
        else:
            detail = f"non-finite loss ({_format(values)})"
        return f"nan_guard: {detail} at {where}"

    def _on_bad_step(self, trainer_state: TrainerState) -> None:
        message = self._message
        assert message is not None
        if self.action == "raise":
            raise NonFiniteLossError(
                f"{message}. The update was not applied. Lower the learning rate, clip "
                f"gradients or check this batch's data; nan_guard:action=skip skips such steps."
            )
        self.skipped_steps += 1
        self._skipped_in_epoch += 1
        self._consecutive += 1
        trainer = trainer_state.get("trainer")
        if self.action == "stop":
            reason = f"{message}; the update was not applied and training stops"
            _request_stop(trainer, reason)
            logger.error("%s", reason)
            return
        if self.skipped_steps <= WARN_FIRST:
            more = " (later skips are counted in train/nan_guard/skipped_steps)"
            logger.warning(
                "%s; the step is skipped%s",
                message,
                more if self.skipped_steps == WARN_FIRST else "",
            )
        limit = self.max_consecutive_skips
        if limit is not None and self._consecutive >= limit:
            reason = (
                f"{message}; {self._consecutive} steps in a row were skipped, so training stops"
            )
            _request_stop(trainer, reason)
            logger.error("%s", reason)


def _request_stop(trainer: TrainerAPI | None, reason: str) -> None:
    if trainer is None:
        raise NonFiniteLossError(
            f"{reason}; but trainer_state has no trainer to stop, so nan_guard raises instead"
        )
    # Every rank reaches the same verdict at the same step (it is all-reduced), so the stop
    # may take effect at once on all of them.
    trainer.request_stop(reason, plugin="nan_guard", all_ranks=True)


def _local(grad: torch.Tensor) -> torch.Tensor:
    """This rank's part of a gradient (a sharded ``DTensor`` under FSDP; others as they are):
    checking it calls no collective, and the verdict is combined over the ranks after."""
    to_local = getattr(grad, "to_local", None)
    return to_local() if callable(to_local) else grad
