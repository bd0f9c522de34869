"""Everything the plugin asks of the trainer, in one place: hookwise's trainer API for plugins
(:class:`hookwise.TrainerAPI`, ``trainer_state["trainer"]``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hookwise.errors import HookwiseError

if TYPE_CHECKING:
    from hookwise import PluginManager, TrainerAPI

Listener = Callable[[Mapping[str, Any]], None]


class TrainerLink:
    """The trainer of a fit or test, as the plugin uses it.

    :raises HookwiseError: the trainer state has no hookwise trainer (``trainer``), whose
        log listeners the plugin needs to see every logged value.
    """

    def __init__(self, trainer_state: Mapping[str, Any]) -> None:
        trainer: TrainerAPI | None = trainer_state.get("trainer")
        if trainer is None:
            raise HookwiseError(
                "mlflow: the trainer state has no hookwise trainer ('trainer'); the plugin "
                "listens to the trainer's logged values (run it with hookwise.Trainer)"
            )
        self.trainer = trainer

    def listen(self, listener: Listener) -> None:
        """Have ``listener`` called with every merged log of the trainer."""
        self.trainer.add_log_listener(listener)

    def stop_listening(self, listener: Listener) -> None:
        """Undo :meth:`listen`."""
        self.trainer.remove_log_listener(listener)

    @property
    def global_step(self) -> int:
        """Completed optimizer steps so far."""
        return self.trainer.global_step

    @property
    def output_dir(self) -> Path:
        """The run folder."""
        return self.trainer.output_dir

    @property
    def interrupted(self) -> bool:
        """Whether a signal (SIGINT, SIGTERM) ended the fit: it stops without a plugin's stop
        request."""
        return self.trainer.interrupted

    @property
    def plugin_manager(self) -> PluginManager:
        """The run's :class:`~hookwise.PluginManager`."""
        return self.trainer.plugin_manager

    @property
    def seed(self) -> int | None:
        """The run's seed (drawn at fit start when none was given)."""
        return self.trainer.seed

    def settings(self) -> dict[str, Any]:
        """The trainer settings that describe the run."""
        trainer = self.trainer
        settings = trainer.run_settings
        return {
            "num_epochs": settings["num_epochs"],
            "num_steps": settings["num_steps"],
            "check_val_every_n_epoch": settings["check_val_every_n_epoch"],
            "val_check_interval": settings["val_check_interval"],
            "device": str(trainer.device),
            "world_size": trainer.world_size,
        }
