"""The trainer API for plugins: what a plugin may ask of the trainer running it.

Every hook call on hookwise's trainer has ``trainer_state["trainer"]``, typed
:class:`TrainerAPI`; :func:`trainer_api` returns it, or raises an error that says where the
hook was called from when the state has none (a hand-built state in a test)::

    from hookwise import TrainerState, hookimpl, trainer_api

    @hookimpl
    def on_validation_end(trainer_state: TrainerState, metrics: dict[str, float]) -> None:
        trainer = trainer_api(trainer_state)
        if metrics.get("val/loss", 1.0) < 0.01:
            trainer.request_stop("val/loss below 0.01")
        trainer.log("seen", 1.0)  # logged as val/seen

:class:`TrainerAPI` is a :class:`~typing.Protocol`: hookwise's :class:`~hookwise.Trainer`
implements it, and a test may pass any object that has these members. It is versioned
(:data:`TRAINER_API_VERSION`, read at run time as ``trainer.api_version``): a member is removed
or changes meaning only in a new version, after a release in which using it warns
(:class:`DeprecationWarning`). ``trainer_state["train_module"]`` (the trainer itself) stays for
vis4d code; plugins ask through this API, never with ``getattr`` on the trainer.

Importing this module does not import torch.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from hookwise.errors import HookwiseError

if TYPE_CHECKING:
    import os

    import torch
    from torch.utils.data import DataLoader

    from hookwise.plugins import PluginManager
    from hookwise.trainer.stopping import StopRequest

#: The version of :class:`TrainerAPI` this hookwise offers (``trainer.api_version``).
TRAINER_API_VERSION = 1

#: What the trainer is doing: training (fit, including its hooks outside the epochs),
#: a validation pass during fit, or a standalone test (``trainer_state["stage"]``).
Stage = Literal["train", "val", "test"]

#: Called with each merge of logged values (prefixed names -> numbers or 0-d tensors).
LogListener = Callable[[Mapping[str, Any]], None]


class TrainerAPI(Protocol):
    """What a plugin may ask of the trainer (version 1).

    Reached from any hook as ``trainer_state["trainer"]`` or :func:`trainer_api`.
    """

    # -- where the run is -------------------------------------------------------------------

    @property
    def api_version(self) -> int:
        """The version of this API the trainer implements (:data:`TRAINER_API_VERSION`)."""
        ...

    @property
    def stage(self) -> Stage:
        """``"train"``, ``"val"`` (a validation pass during fit) or ``"test"``."""
        ...

    @property
    def epoch(self) -> int:
        """The current epoch (0-based)."""
        ...

    @property
    def global_step(self) -> int:
        """Completed optimizer steps so far."""
        ...

    @property
    def rank(self) -> int:
        """This process's global rank (0 when not distributed)."""
        ...

    @property
    def world_size(self) -> int:
        """The number of processes (1 when not distributed)."""
        ...

    @property
    def device(self) -> torch.device:
        """The device the model and batches are on."""
        ...

    @property
    def output_dir(self) -> Path:
        """The run's folder (checkpoints, logs); the same on every rank."""
        ...

    @property
    def seed(self) -> int | None:
        """The run's seed (drawn at fit start when none was given)."""
        ...

    @property
    def run_settings(self) -> Mapping[str, Any]:
        """The trainer's settings as checked (every setting of :mod:`hookwise.settings` for
        the trainer, by name: ``num_epochs``, ``log_every_n_steps``, ``val_check_interval``
        ...), with ``seed`` as it is now."""
        ...

    @property
    def log_every_n_steps(self) -> int:
        """How often (in steps) logging plugins log training values (vis4d's setting)."""
        ...

    @property
    def metrics(self) -> Mapping[str, float]:
        """The latest value of every logged name (``train/loss``, ``val/...``), as floats."""
        ...

    @property
    def resumed_from(self) -> Path | None:
        """The checkpoint this fit resumed from (``None``: it did not resume)."""
        ...

    @property
    def plugin_manager(self) -> PluginManager:
        """The run's :class:`~hookwise.PluginManager`."""
        ...

    @property
    def optimizers(self) -> Sequence[torch.optim.Optimizer]:
        """The optimizers of the current fit (empty outside one)."""
        ...

    @property
    def lr_schedulers(self) -> Sequence[Any]:
        """The learning-rate schedulers of the current fit."""
        ...

    @property
    def train_dataloader(self) -> DataLoader[Any] | None:
        """The training loader (as this rank iterates it, once fit has started)."""
        ...

    @property
    def test_dataloader(self) -> list[DataLoader[Any]] | None:
        """The evaluation loaders."""
        ...

    def validates_after_epoch(self, epoch: int) -> bool:
        """Whether the trainer validates after training epoch ``epoch``."""
        ...

    # -- stopping ---------------------------------------------------------------------------

    def request_stop(
        self, reason: str, plugin: str | None = None, *, all_ranks: bool = False
    ) -> None:
        """Ask the trainer to stop at its next check (a latch: the first request is kept).
        ``plugin`` names the plugin asking (found from the call stack when not given);
        ``all_ranks=True`` promises every rank asks at this same step."""
        ...

    @property
    def stop_request(self) -> StopRequest | None:
        """The stop request, once one was made."""
        ...

    @property
    def should_stop(self) -> bool:
        """Whether the run stops at its next check (a stop request or a signal)."""
        ...

    @property
    def interrupted(self) -> bool:
        """Whether SIGINT or SIGTERM arrived during this fit (it then ends cleanly)."""
        ...

    # -- checkpoints ------------------------------------------------------------------------

    def save_checkpoint(
        self,
        path: str | os.PathLike[str],
        *,
        weights_only: bool = False,
        asynchronous: bool = False,
        on_done: Callable[[Path], None] | None = None,
        all_ranks: bool = False,
    ) -> Path:
        """Write the run's checkpoint to ``path`` atomically (rank 0 writes; the others
        return the path); ``weights_only`` leaves out optimizers, RNG and plugin state.
        ``asynchronous`` copies the state to host memory and writes it in the background
        (one write in flight; a failure is raised at the trainer's next step or fit end);
        ``on_done(path)`` runs once the file is durable. ``all_ranks=True`` promises every
        rank makes this call at this same point: every rank's RNG states are gathered into
        the file (one collective call), else it holds rank 0's only (no collective call)."""
        ...

    # -- logging ----------------------------------------------------------------------------

    def log(
        self,
        key: str,
        value: float | torch.Tensor,
        *,
        plugin: str | None = None,
        prefix: str | None = None,
    ) -> None:
        """Log one value now, from any hook: named ``<stage>/<key>`` (``train/``, ``val/``,
        ``test/``), or ``prefix + key`` when ``prefix`` is given (``""``: ``key`` is the full
        name). It is in :attr:`metrics` at once and log listeners receive it.

        :raises TypeError: ``value`` is not a number or a one-element tensor (a numpy scalar
            or one-element array is logged as the Python number it holds).
        """
        ...

    def log_dict(
        self,
        values: Mapping[str, float | torch.Tensor],
        *,
        plugin: str | None = None,
        prefix: str | None = None,
    ) -> None:
        """Log several values now, as one merge (the log listeners receive them together);
        named as :meth:`log` names them.

        :raises TypeError: a key is not a string, or a value not a number (numpy scalars
            included) or a one-element tensor or array (nothing is logged then).
        """
        ...

    def add_log_listener(self, listener: LogListener) -> None:
        """Have ``listener`` called with every merge of logged values (prefixed names ->
        numbers or detached 0-d tensors, as logged), right after it; added once."""
        ...

    def remove_log_listener(self, listener: LogListener) -> None:
        """Undo :meth:`add_log_listener` (nothing happens for a listener not added)."""
        ...


def deprecated(what: str, instead: str, *, removed_in_api: int = TRAINER_API_VERSION + 1) -> None:
    """Warn that ``what`` is deprecated: it still works in this version and goes in version
    ``removed_in_api`` of the trainer API; ``instead`` says what to use.

    :raises DeprecationWarning: as a warning (an error where warnings are errors, as in tests).
    """
    warnings.warn(
        f"{what} is deprecated and goes in trainer API version {removed_in_api} (this is "
        f"version {TRAINER_API_VERSION}); use {instead}",
        DeprecationWarning,
        stacklevel=3,
    )


def trainer_api(trainer_state: Mapping[str, Any]) -> TrainerAPI:
    """The trainer running this hook (``trainer_state["trainer"]``).

    :raises HookwiseError: the state has no trainer: the hook was called by hand (a test that
        builds ``trainer_state`` itself) or by another trainer. Use ``trainer_state.get(
        "trainer")`` to work without one.
    """
    trainer = trainer_state.get("trainer")
    if trainer is None:
        raise HookwiseError(
            "this hook's trainer_state has no 'trainer' (the trainer API for plugins): it was "
            "called by hand or by another trainer, not by hookwise.Trainer. Run it with "
            "hookwise.Trainer (hookwise.testing.run_fit in a test), put an object implementing "
            "hookwise.TrainerAPI under trainer_state['trainer'], or read "
            "trainer_state.get('trainer') and handle None"
        )
    return trainer  # type: ignore[no-any-return]


__all__ = [
    "TRAINER_API_VERSION",
    "LogListener",
    "Stage",
    "TrainerAPI",
    "deprecated",
    "trainer_api",
]
