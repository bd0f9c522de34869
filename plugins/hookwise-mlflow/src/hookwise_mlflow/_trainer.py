"""Everything the plugin asks of the trainer, in one place.

Today these are attributes of hookwise's :class:`~hookwise.Trainer` (``trainer_state
["train_module"]``); the typed trainer API for plugins replaces them here, and only here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hookwise.errors import HookwiseError

Listener = Callable[[Mapping[str, Any]], None]


class TrainerLink:
    """The trainer of a fit or test, as the plugin uses it.

    :raises HookwiseError: the trainer state has no hookwise trainer (``train_module``), whose
        log listeners the plugin needs to see every logged value.
    """

    def __init__(self, trainer_state: Mapping[str, Any]) -> None:
        from hookwise.trainer import Trainer

        trainer = trainer_state.get("train_module")
        if not isinstance(trainer, Trainer):
            raise HookwiseError(
                "mlflow: the trainer state has no hookwise Trainer as 'train_module'; the "
                "plugin listens to the Trainer's logged values (run it with hookwise.Trainer)"
            )
        self.trainer: Any = trainer

    def listen(self, listener: Listener) -> None:
        """Have ``listener`` called with every merged log of the trainer."""
        if listener not in self.trainer.log_listeners:
            self.trainer.log_listeners.append(listener)

    def stop_listening(self, listener: Listener) -> None:
        """Undo :meth:`listen`."""
        if listener in self.trainer.log_listeners:
            self.trainer.log_listeners.remove(listener)

    @property
    def global_step(self) -> int:
        """Completed optimizer steps so far."""
        return int(self.trainer.global_step)

    @property
    def output_dir(self) -> Path:
        """The run folder."""
        return Path(self.trainer.output_dir)

    @property
    def interrupted(self) -> bool:
        """Whether a signal (SIGINT, SIGTERM) ended the fit: it stops without a plugin's stop
        request."""
        return bool(self.trainer.should_stop) and self.trainer.stop_request is None

    @property
    def plugin_manager(self) -> Any:
        """The run's :class:`~hookwise.PluginManager`."""
        return self.trainer.pm

    @property
    def seed(self) -> int | None:
        """The run's seed (drawn at fit start when none was given)."""
        seed = self.trainer.seed
        return None if seed is None else int(seed)

    def settings(self) -> dict[str, Any]:
        """The trainer settings that describe the run."""
        trainer = self.trainer
        return {
            "num_epochs": trainer.num_epochs,
            "num_steps": trainer.num_steps,
            "check_val_every_n_epoch": trainer.check_val_every_n_epoch,
            "val_check_interval": trainer.val_check_interval,
            "device": str(trainer.device),
            "world_size": trainer.world_size,
        }
