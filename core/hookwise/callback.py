"""The ``Callback`` base class, compatible with vis4d's engine ``Callback``.

A subclass that overrides hook methods is a complete plugin: no decorator is needed. When it
is registered, each overridden hook method becomes a hook implementation called as vis4d
0.1.2's trainer calls it: the epoch hooks (and ``setup`` and the extensions) positionally,
so parameters may have any names or be ``*args``; the batch hooks by keyword, so a method
may take ``**kwargs`` (``dataloader_idx`` is passed, although it keeps its default of ``0``
for direct calls). A hook it does not override is never called for it. A method marked
``@hookimpl(...)`` (``tryfirst``, ``trylast``, ``wrapper``, order constraints, triggers) is
a pluggy implementation: it receives the hook arguments its parameters name, and a name the
hook does not have is an error when it is registered.

Every method can still be called directly and positionally, as vis4d code and tests do::

    cb = MyCallback(train_connector=CallbackConnector({"x": data_key("x")}))
    cb.on_train_batch_end(state, model, loss_module, outputs=out, batch=batch, batch_idx=0)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn
    from torch.optim import Optimizer

    from hookwise.connectors import CallbackConnector, DictData
    from hookwise.hookspecs import MetricLogs
    from hookwise.state import TrainerState


class Callback:
    """Base class for callbacks.

    :param epoch_based: whether the callback counts in epochs (``True``, the default) or in
        steps. (vis4d's docstring says the default is ``False``; its signature, and this one,
        say ``True``.)
    :param train_connector: builds the inputs of :meth:`get_train_callback_inputs`. A mapping
        is turned into a :class:`~hookwise.CallbackConnector`.
    :param test_connector: builds the inputs of :meth:`get_test_callback_inputs`.

    Checkpointable state: override :meth:`state_dict` and :meth:`load_state_dict`. The trainer
    stores the state under the plugin's name in every checkpoint.
    """

    def __init__(
        self,
        epoch_based: bool = True,
        train_connector: CallbackConnector | Mapping[str, Any] | None = None,
        test_connector: CallbackConnector | Mapping[str, Any] | None = None,
    ) -> None:
        from hookwise.connectors import connector_from_config

        self.epoch_based = epoch_based
        self.train_connector = connector_from_config(train_connector, "train_connector")
        self.test_connector = connector_from_config(test_connector, "test_connector")

    # -- state ----------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Return the callback's state: tensors and plain Python values only, so that
        ``torch.load(weights_only=True)`` can read it. The base class has none."""
        return {}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    # -- connectors -----------------------------------------------------------------------------

    def get_train_callback_inputs(self, outputs: DictData, batch: DictData) -> dict[str, Any]:
        """Return the train connector's result for ``outputs`` and ``batch``.

        :raises AssertionError: if the callback has no train connector.
        """
        assert self.train_connector is not None, "Train connector is None."
        return self.train_connector(outputs, batch)

    def get_test_callback_inputs(self, outputs: DictData, batch: DictData) -> dict[str, Any]:
        """Return the test connector's result for ``outputs`` and ``batch``.

        :raises AssertionError: if the callback has no test connector.
        """
        assert self.test_connector is not None, "Test connector is None."
        return self.test_connector(outputs, batch)

    # -- vis4d hooks ----------------------------------------------------------------------------

    def setup(self) -> None:
        """Set the callback up; see :func:`hookwise.hookspecs.setup`."""

    def on_train_batch_start(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        loss_module: Any,
        batch: DictData,
        batch_idx: int,
    ) -> None:
        """Hook run at the start of a training batch."""

    def on_train_epoch_start(
        self, trainer_state: TrainerState, model: nn.Module, loss_module: Any
    ) -> None:
        """Hook run at the beginning of a training epoch."""

    def on_train_batch_end(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        loss_module: Any,
        outputs: DictData,
        batch: DictData,
        batch_idx: int,
    ) -> MetricLogs | None:
        """Hook run at the end of a training batch; may return logs (``train/<key>``)."""
        return None

    def on_train_epoch_end(
        self, trainer_state: TrainerState, model: nn.Module, loss_module: Any
    ) -> MetricLogs | None:
        """Hook run at the end of a training epoch."""
        return None

    def on_test_epoch_start(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Hook run at the beginning of a testing epoch."""

    def on_test_batch_end(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        outputs: DictData,
        batch: DictData,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Hook run at the end of a testing batch."""

    def on_test_epoch_end(self, trainer_state: TrainerState, model: nn.Module) -> MetricLogs | None:
        """Hook run at the end of a testing epoch; may return logs (``val/`` or ``test/``)."""
        return None

    # -- hookwise extensions --------------------------------------------------------------------

    def on_fit_start(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Extension hook: once per fit, after setup and resume."""

    def on_fit_end(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Extension hook: once at the end of every fit."""

    def on_before_optimizer_step(
        self, trainer_state: TrainerState, model: nn.Module, optimizer: Optimizer
    ) -> None:
        """Extension hook: after backward, before each optimizer step."""

    def on_validation_end(
        self, trainer_state: TrainerState, model: nn.Module, metrics: Mapping[str, float]
    ) -> None:
        """Extension hook: after every evaluation pass, with its prefixed metrics."""

    def on_exception(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        exception: BaseException,
        fatal: bool,
    ) -> None:
        """Extension hook: when the loop or a plugin raises."""


def default_output_folder(
    trainer_state: Mapping[str, Any], subfolder: str, *, plugin: str, setting: str
) -> Path:
    """Where a plugin writes its files when it was given no ``save_prefix``:
    ``<trainer output_dir>/<subfolder>``, the hookwise trainer's run folder.

    :param trainer_state: the state a hook received (its ``trainer`` is the trainer API).
    :param subfolder: the plugin's folder inside the run folder (``"checkpoints"``, ``"vis"``).
    :param plugin: the plugin's name, for the error message.
    :param setting: what needs the folder (``"save_to_disk=True"``), for the error message.
    :raises ConfigError: the state has no trainer with an ``output_dir`` (vis4d-style code
        calling the hooks directly); the message says to pass ``save_prefix``.
    """
    from hookwise.errors import ConfigError

    trainer = trainer_state.get("trainer")
    output = trainer.output_dir if trainer is not None else None
    if output is None:
        raise ConfigError(
            f"plugin {plugin!r}: {setting} needs a folder: pass save_prefix=... (or run under a "
            f"hookwise Trainer, whose output_dir is the default; files go to "
            f"{{save_prefix}}/{subfolder})"
        )
    return Path(output) / subfolder


def overridden_hooks(callback: Callback) -> list[str]:
    """Names of the hook methods that ``callback``'s class overrides."""
    from hookwise.hookspecs import HOOK_NAMES

    cls = type(callback)
    return [name for name in HOOK_NAMES if getattr(cls, name, None) is not getattr(Callback, name)]
