"""The trainer's side of the trainer API for plugins (:class:`hookwise.TrainerAPI`).

The members of the protocol that the trainer's other parts do not already have: the API's
version, the stage, the run's settings, logging from any hook and log listeners. The trainer
passes itself as ``trainer_state["trainer"]``, typed as the protocol, so a plugin sees only
what the protocol promises.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import torch

from hookwise.api import TRAINER_API_VERSION, LogListener, Stage, deprecated
from hookwise.readonly import ReadOnlyState
from hookwise.trainer.logs import check_log_value
from hookwise.trainer.stopping import calling_plugin

if TYPE_CHECKING:
    from hookwise.plugins import PluginManager
    from hookwise.state import TrainerState
    from hookwise.trainer.logs import LogMerger
    from hookwise.trainer.stopping import StopLatch

logger = logging.getLogger("hookwise")


class PluginAPIControl:
    """The trainer API members kept by the trainer itself (a mixin of the facade)."""

    #: The version of :class:`hookwise.TrainerAPI` the trainer implements.
    api_version: int = TRAINER_API_VERSION

    pm: PluginManager
    seed: int | None
    _stage: Stage
    _settings: Mapping[str, Any]
    _optimizers: list[torch.optim.Optimizer]
    _lr_schedulers: list[Any]
    _logs: LogMerger
    _latch: StopLatch

    if TYPE_CHECKING:

        def get_state(
            self,
            metrics: Mapping[str, Any] | None = None,
            optimizers: list[torch.optim.Optimizer] | None = None,
            lr_schedulers: list[Any] | None = None,
        ) -> TrainerState: ...

    def _hook_state(self, **extra: Any) -> TrainerState:
        """The state one hook call receives: :meth:`get_state` (``extra`` are its arguments)
        as a read-only view shared by the call's implementations (DESIGN decision 25)."""
        return ReadOnlyState(self.get_state(**extra))  # type: ignore[return-value]

    @property
    def stage(self) -> Stage:
        """``"train"``, ``"val"`` (a validation pass during fit) or ``"test"``."""
        return self._stage

    @property
    def run_settings(self) -> Mapping[str, Any]:
        """The trainer's checked settings by name (read-only), ``seed`` as it is now."""
        return MappingProxyType({**self._settings, "seed": self.seed})

    @property
    def plugin_manager(self) -> PluginManager:
        """The run's plugin manager."""
        return self.pm

    @property
    def optimizers(self) -> Sequence[torch.optim.Optimizer]:
        """The optimizers of the current fit (empty outside one)."""
        return tuple(self._optimizers)

    @property
    def lr_schedulers(self) -> Sequence[Any]:
        """The learning-rate schedulers of the current fit."""
        return tuple(self._lr_schedulers)

    @property
    def interrupted(self) -> bool:
        """Whether SIGINT or SIGTERM arrived during this fit (on this rank)."""
        return self._latch.signal is not None

    def log(
        self,
        key: str,
        value: float | torch.Tensor,
        *,
        plugin: str | None = None,
        prefix: str | None = None,
    ) -> None:
        """Log one value now, from any hook: named ``<stage>/<key>``, or ``prefix + key``.

        The value is merged at once (in :attr:`metrics`, given to the log listeners); the
        plugin logging it is found from the call stack when ``plugin`` is not given.

        :raises TypeError: ``key`` is not a string, or ``value`` not a number or a
            one-element tensor.
        """
        self.log_dict({key: value}, plugin=plugin, prefix=prefix)

    def log_dict(
        self,
        values: Mapping[str, float | torch.Tensor],
        *,
        plugin: str | None = None,
        prefix: str | None = None,
    ) -> None:
        """Log several values now, as one merge; named as :meth:`log` names them.

        :raises TypeError: a key is not a string, or a value not a number (numpy scalars
            included) or a one-element tensor or array (nothing is logged then).
        """
        source = plugin or calling_plugin(self.pm, self) or "<unknown plugin>"
        for key, value in values.items():
            check_log_value(source, "TrainerAPI.log", key, value)
        start = f"{self._stage}/" if prefix is None else prefix
        named = {start + key: value for key, value in values.items()}
        if named:
            self._logs.merge("", "TrainerAPI.log", [(source, named)])

    @property
    def log_listeners(self) -> list[LogListener]:
        """Deprecated (trainer API 1): the list of log listeners; use
        :meth:`~hookwise.TrainerAPI.add_log_listener` and ``remove_log_listener``."""
        deprecated(
            "Trainer.log_listeners",
            "trainer_state['trainer'].add_log_listener(f) / remove_log_listener(f)",
        )
        return self._logs.listeners

    def add_log_listener(self, listener: LogListener) -> None:
        """Have ``listener`` called with every merge of logged values, right after it (added
        once)."""
        if listener not in self._logs.listeners:
            self._logs.listeners.append(listener)

    def remove_log_listener(self, listener: LogListener) -> None:
        """Undo :meth:`add_log_listener` (nothing happens for a listener not added)."""
        if listener in self._logs.listeners:
            self._logs.listeners.remove(listener)
