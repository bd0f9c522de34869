"""``EarlyStopping``: stop training when a validation metric stops improving."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hookwise.callback import Callback
from hookwise.errors import CheckpointError, ConfigError
from hookwise.monitoring import monitored_value, validation_key

if TYPE_CHECKING:
    from hookwise.connectors import CallbackConnector
    from hookwise.state import TrainerState
    from torch import nn

logger = logging.getLogger("hookwise.early_stopping")

#: Version of the plugin's entry in the checkpoint (``plugins["early_stopping"]``).
STATE_VERSION = 1
_NAME = "early_stopping"


def _number(name: str, value: Any, *, none_ok: bool = False) -> float | None:
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        allowed = "a number" + (" or None" if none_ok else "")
        raise ConfigError(f"{_NAME}: {name} must be {allowed}, got {value!r}")
    return float(value)


class EarlyStopping(Callback):
    """Stops training when a validation metric has not improved for ``patience`` validations.

    After every validation pass (``on_validation_end``) the plugin reads ``monitor`` from the
    pass's metrics. A value better than the best so far by more than ``min_delta`` is an
    improvement and resets the count; anything else adds one. When the count reaches
    ``patience``, the plugin asks the trainer to stop
    (``trainer_state["trainer"].request_stop(reason)``): the current epoch ends normally
    (its checkpoint is written) and no new one starts. Patience counts validation passes, so
    with ``val_check_interval`` it counts step validations too.

    A validation pass without ``monitor`` is an error that lists the keys the pass has.
    Standalone test passes (``test/...`` keys) are ignored. The best value, the count and the
    stop reason are saved in every checkpoint, so a resumed run stops where the uninterrupted
    one would have.

    :param monitor: the validation metric to watch, e.g. ``"val/loss"`` (a name without
        ``val/`` gets it).
    :param mode: ``"min"`` (lower is better) or ``"max"`` (higher is better).
    :param patience: how many validation passes without improvement are tolerated; the stop
        comes at the ``patience``-th (``0``: at the first pass that does not improve).
    :param min_delta: how much better than the best a value must be to count as an improvement
        (``>= 0``).
    :param check_finite: stop at once when the metric is NaN or infinite.
    :param stopping_threshold: stop at once when the metric reaches this value (``<=`` in min
        mode, ``>=`` in max mode); ``None``: off.
    :param divergence_threshold: stop at once when the metric is worse than this value
        (``>`` in min mode, ``<`` in max mode); ``None``: off.
    :param epoch_based: accepted as in vis4d; the plugin acts per validation pass either way.
    :param train_connector: accepted as in vis4d; unused.
    :param test_connector: accepted as in vis4d; unused.
    """

    def __init__(
        self,
        monitor: str,
        mode: str = "min",
        patience: int = 3,
        min_delta: float = 0.0,
        *,
        check_finite: bool = True,
        stopping_threshold: float | None = None,
        divergence_threshold: float | None = None,
        epoch_based: bool = True,
        train_connector: CallbackConnector | Mapping[str, Any] | None = None,
        test_connector: CallbackConnector | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            epoch_based=epoch_based, train_connector=train_connector, test_connector=test_connector
        )
        self.monitor = validation_key(monitor, _NAME)
        if mode not in ("min", "max"):
            raise ConfigError(f"{_NAME}: mode must be 'min' or 'max', got {mode!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ConfigError(f"{_NAME}: patience must be an integer >= 0, got {patience!r}")
        delta = _number("min_delta", min_delta)
        assert delta is not None
        if delta < 0 or math.isnan(delta):
            raise ConfigError(
                f"{_NAME}: min_delta must be >= 0 (the mode gives the direction), got {min_delta!r}"
            )
        self.mode = mode
        self.patience = patience
        self.min_delta = delta
        self.check_finite = bool(check_finite)
        self.stopping_threshold = _number("stopping_threshold", stopping_threshold, none_ok=True)
        self.divergence_threshold = _number(
            "divergence_threshold", divergence_threshold, none_ok=True
        )
        #: The best value seen (``None`` before the first validation).
        self.best: float | None = None
        #: Validation passes since the last improvement.
        self.wait_count = 0
        #: The epoch at whose validation the plugin asked to stop (``None``: it has not).
        self.stopped_epoch: int | None = None
        #: Why the plugin asked to stop.
        self.stop_reason: str | None = None
        #: The last value seen.
        self.last_value: float | None = None
        self._stop_kind: str | None = None
        self._in_fit = False

    # -- hooks ----------------------------------------------------------------------------------

    def on_fit_start(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Check validation passes from here on. A run resumed from a checkpoint taken after
        this plugin asked to stop stops again at once, unless the parameters changed so that
        the rule no longer says stop (a larger ``patience``, another threshold)."""
        self._in_fit = True
        if self.stop_reason is not None and self._still_stops():
            self._request_stop(
                trainer_state, f"resumed after early stopping had asked to stop: {self.stop_reason}"
            )

    def on_fit_end(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Passes after the fit (standalone tests) are not checked."""
        self._in_fit = False

    def on_validation_end(
        self, trainer_state: TrainerState, model: nn.Module, metrics: Mapping[str, float]
    ) -> None:
        """Compare the monitored value with the best; ask the trainer to stop when due."""
        if not (self._in_fit or any(key.startswith("val/") for key in metrics)):
            return  # a standalone test pass
        value = monitored_value(metrics, self.monitor, _NAME)  # rank 0 decides for all
        if trainer_state.get("sanity_check"):
            return  # the sanity pass before training: the key is there; nothing counts
        reason = self.update(value)
        if reason is None:
            self.stopped_epoch = self.stop_reason = None  # a resumed run that went on
            return
        self.stopped_epoch = trainer_state.get("current_epoch", -1)
        self.stop_reason = reason
        self._request_stop(trainer_state, reason)

    def _request_stop(self, trainer_state: TrainerState, reason: str) -> None:
        trainer = trainer_state.get("trainer")
        if trainer is not None:
            trainer.request_stop(reason)
        else:
            logger.warning("%s: %s (no trainer in trainer_state to stop)", _NAME, reason)

    # -- the rule -------------------------------------------------------------------------------

    def update(self, value: float) -> str | None:
        """Take one validation value; return why training should stop, or ``None``."""
        self.last_value = value
        where = f"{self.monitor} = {value:.6g}"
        kind = self._stop_rule(value)
        if kind is None and self._improved(value):
            self.best = value
            self.wait_count = 0
            return None
        if kind is None:
            self.wait_count += 1
            kind = "patience" if self.wait_count >= self.patience else None
        self._stop_kind = kind
        if kind == "finite":
            return (
                f"{where} is not finite (best {self._best_text()}); set check_finite=False to "
                f"go on regardless"
            )
        if kind == "threshold":
            return f"{where} reached stopping_threshold={self.stopping_threshold:g}"
        if kind == "divergence":
            return f"{where} is worse than divergence_threshold={self.divergence_threshold:g}"
        if kind == "patience":
            return (
                f"{self.monitor} did not improve by more than {self.min_delta:g} for "
                f"{self.wait_count} validation(s) (best {self._best_text()}, last {value:.6g})"
            )
        return None

    def _stop_rule(self, value: float) -> str | None:
        """Which immediate rule (not patience) says stop for ``value``."""
        if self.check_finite and not math.isfinite(value):
            return "finite"
        if self.stopping_threshold is not None and self._reached(value, self.stopping_threshold):
            return "threshold"
        if self.divergence_threshold is not None and self._worse(value, self.divergence_threshold):
            return "divergence"
        return None

    def _still_stops(self) -> bool:
        """Whether the stop recorded in a resumed state still holds under these parameters."""
        if self._stop_kind == "patience":
            return self.wait_count >= self.patience
        if self.last_value is None:
            return False
        return self._stop_rule(self.last_value) is not None

    def _improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def _reached(self, value: float, threshold: float) -> bool:
        return value <= threshold if self.mode == "min" else value >= threshold

    def _worse(self, value: float, threshold: float) -> bool:
        return value > threshold if self.mode == "min" else value < threshold

    def _best_text(self) -> str:
        return "none yet" if self.best is None else f"{self.best:.6g}"

    # -- state ----------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The best value, the wait count and the stop (plain values)."""
        return {
            "version": STATE_VERSION,
            "monitor": self.monitor,
            "mode": self.mode,
            "best": self.best,
            "wait_count": self.wait_count,
            "last_value": self.last_value,
            "stopped_epoch": self.stopped_epoch,
            "stop_reason": self.stop_reason,
            "stop_kind": self._stop_kind,
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned. A checkpoint that watched another
        ``monitor`` or ``mode`` is ignored (with a log message): the count starts over."""
        if not isinstance(state_dict, Mapping) or state_dict.get("version") != STATE_VERSION:
            raise CheckpointError(
                f"{_NAME}: the saved state is not version {STATE_VERSION} "
                f"({state_dict!r:.200}); resume with the hookwise-early-stopping release that "
                f"wrote it"
            )
        if state_dict.get("monitor") != self.monitor or state_dict.get("mode") != self.mode:
            logger.warning(
                "%s: the checkpoint watched monitor=%r, mode=%r; this run watches %r, %r, so "
                "the patience count starts over",
                _NAME,
                state_dict.get("monitor"),
                state_dict.get("mode"),
                self.monitor,
                self.mode,
            )
            return
        best = state_dict.get("best")
        wait = state_dict.get("wait_count", 0)
        if (best is not None and not isinstance(best, (int, float))) or not isinstance(wait, int):
            raise CheckpointError(
                f"{_NAME}: saved best={best!r} / wait_count={wait!r} are not numbers"
            )
        self.best = None if best is None else float(best)
        self.wait_count = wait
        stopped = state_dict.get("stopped_epoch")
        self.stopped_epoch = int(stopped) if stopped is not None else None
        reason = state_dict.get("stop_reason")
        self.stop_reason = str(reason) if reason is not None else None
        last = state_dict.get("last_value")
        self.last_value = float(last) if isinstance(last, (int, float)) else None
        kind = state_dict.get("stop_kind")
        self._stop_kind = str(kind) if kind is not None else None
