"""``ThroughputMonitor``: samples per second, data time and compute time per step."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from hookwise import Callback, ConfigError, hookimpl

if TYPE_CHECKING:
    from hookwise import CallbackConnector, TrainerState
    from hookwise.hookspecs import MetricLogs
    from torch import nn

DEFAULT_EVERY_N_STEPS = 50
#: The keys returned at a report (logged as ``train/<key>``).
KEYS = (
    "throughput/samples_per_sec",
    "throughput/batches_per_sec",
    "throughput/data_time",
    "throughput/compute_time",
)


def batch_size_of(batch: Any, key: str | None = None) -> int:
    """The number of samples in ``batch``: the size of ``batch[key]``, or of the first sized
    item (dict values in order): a tensor's first dimension, a list's length. Reads shapes
    only: no device synchronisation.

    :raises ValueError: when nothing in the batch tells its size.
    """
    if key is not None:
        if not isinstance(batch, Mapping) or key not in batch:
            keys = list(batch) if isinstance(batch, Mapping) else type(batch).__name__
            raise ValueError(
                f"throughput: batch_size_key {key!r} is not in the batch (it has {keys}); "
                f"set batch_size_key to one of its keys"
            )
        size = _size(batch[key])
        if size is None:
            raise ValueError(
                f"throughput: batch[{key!r}] is a {type(batch[key]).__name__}, not a tensor "
                f"or a list; set batch_size_key to a key holding one"
            )
        return size
    size = _size(batch)
    if size is None:
        raise ValueError(
            f"throughput: cannot tell the batch size of a {type(batch).__name__} batch (no "
            f"tensor or list in it); set batch_size_key"
        )
    return size


def _size(value: Any) -> int | None:
    """A tensor's first dimension; a dict's or a tuple's first sized item (``(inputs,
    targets)``); a list's length (a list holds one entry per sample, as vis4d's list batches
    and per-sample names do)."""
    if isinstance(value, torch.Tensor):
        return int(value.shape[0]) if value.dim() > 0 else 1
    if isinstance(value, list):
        return len(value) if value else None
    if isinstance(value, (Mapping, tuple)):
        for item in value.values() if isinstance(value, Mapping) else value:
            size = _size(item)
            if size is not None:
                return size
    return None


class ThroughputMonitor(Callback):
    """Measures training speed and where the time goes.

    For every training step, *data time* is the time from the end of the previous step
    (``on_train_batch_end``; at the start of an epoch, ``on_train_epoch_start``; after an
    evaluation pass in the middle of an epoch, ``on_validation_end``) to the start of this
    one (``on_train_batch_start``): loading the batch and moving it to the device, plus
    whatever other plugins did between the steps. *Compute time* is the time from
    ``on_train_batch_start`` to ``on_train_batch_end``: forward, loss, backward and the
    optimizer steps. Evaluation passes are not counted. This plugin's hooks run first at the
    start of a batch and last at its end (``tryfirst``/``trylast``).

    Every ``every_n_steps`` steps it returns, averaged over the steps since the last report
    (logged as ``train/<key>``):

    * ``throughput/samples_per_sec`` and ``throughput/batches_per_sec`` (per process);
    * ``throughput/data_time`` and ``throughput/compute_time``: mean seconds per step.

    No host-device synchronisation happens per step. On CUDA the host runs ahead of the GPU,
    so host timestamps alone would measure kernel launches; with ``synchronize=True`` (the
    default) the plugin calls ``torch.cuda.synchronize()`` once at each report step, before it
    takes that step's end time. The window's total time, and so the samples per second, is
    then exact; its split into data and compute time is approximate, because GPU work queued
    in one step may finish while the host waits for the next batch. On the CPU nothing is
    synchronised and both are exact.

    :param every_n_steps: report every this many steps (at global steps that are multiples
        of it); defaults to the trainer's ``log_every_n_steps`` (50 unless set).
    :param batch_size_key: the batch key whose first dimension is the number of samples;
        by default the first tensor in the batch.
    :param synchronize: on CUDA, synchronise the device at report steps (see above).
    :param epoch_based: accepted for vis4d compatibility; the interval counts steps.
    :param train_connector: accepted for vis4d compatibility (unused).
    :param test_connector: accepted for vis4d compatibility (unused).
    """

    #: No hook makes a collective call (``on_error="warn"`` is allowed in distributed runs).
    collective_free: ClassVar[bool] = True

    def __init__(
        self,
        *,
        every_n_steps: int | None = None,
        batch_size_key: str | None = None,
        synchronize: bool = True,
        epoch_based: bool = True,
        train_connector: CallbackConnector | Mapping[str, Any] | None = None,
        test_connector: CallbackConnector | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(epoch_based, train_connector, test_connector)
        if every_n_steps is not None and (
            isinstance(every_n_steps, bool)
            or not isinstance(every_n_steps, int)
            or every_n_steps < 1
        ):
            raise ConfigError(
                f"throughput: every_n_steps must be a positive integer (or unset for the "
                f"trainer's log_every_n_steps), got {every_n_steps!r}"
            )
        if batch_size_key is not None and not isinstance(batch_size_key, str):
            raise ConfigError(
                f"throughput: batch_size_key must be a batch key (a string), got {batch_size_key!r}"
            )
        if not isinstance(synchronize, bool):
            raise ConfigError(f"throughput: synchronize must be true or false, got {synchronize!r}")
        self.every_n_steps = every_n_steps
        self.batch_size_key = batch_size_key
        self.synchronize = synchronize
        self._interval = every_n_steps or DEFAULT_EVERY_N_STEPS
        #: The clock (seconds); replaceable for tests.
        self.clock: Callable[[], float] = time.perf_counter
        self._sync: Callable[[], None] | None = None
        self._mark: float | None = None
        self._start = 0.0
        self._reset_window()

    def _reset_window(self) -> None:
        self._steps = 0
        self._samples = 0
        self._data = 0.0
        self._compute = 0.0

    # -- hooks ----------------------------------------------------------------------------------

    def on_fit_start(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Take the interval from the trainer, and the device to synchronise on CUDA."""
        trainer = trainer_state.get("trainer")
        if self.every_n_steps is None:
            interval = trainer.log_every_n_steps if trainer is not None else 0
            self._interval = interval if interval > 0 else DEFAULT_EVERY_N_STEPS
        if trainer is not None:
            device = trainer.device
        else:
            parameter = next(model.parameters(), None)
            device = parameter.device if parameter is not None else torch.device("cpu")
        self._sync = None
        if self.synchronize and device.type == "cuda":
            cuda_device = device

            def sync() -> None:
                torch.cuda.synchronize(cuda_device)

            self._sync = sync
        self._reset_window()
        self._mark = None

    def on_train_epoch_start(
        self, trainer_state: TrainerState, model: nn.Module, loss_module: Any
    ) -> None:
        """The first batch's data time counts from here."""
        self._mark = self.clock()

    @hookimpl(tryfirst=True)
    def on_train_batch_start(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        loss_module: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """End of the data time, start of the compute time."""
        now = self.clock()
        if self._mark is not None:
            self._data += now - self._mark
        self._start = now

    @hookimpl(trylast=True)
    def on_train_batch_end(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> MetricLogs | None:
        """Count the step; at a report step return the window's averages."""
        report = trainer_state.get("global_step", 0) % self._interval == 0
        if report and self._sync is not None:
            self._sync()
        now = self.clock()
        self._compute += now - self._start
        self._steps += 1
        self._samples += batch_size_of(batch, self.batch_size_key)
        self._mark = now
        if not report:
            return None
        elapsed = self._data + self._compute
        steps = self._steps
        logs: MetricLogs = {
            "throughput/samples_per_sec": self._samples / elapsed if elapsed > 0 else 0.0,
            "throughput/batches_per_sec": steps / elapsed if elapsed > 0 else 0.0,
            "throughput/data_time": self._data / steps,
            "throughput/compute_time": self._compute / steps,
        }
        self._reset_window()
        return logs

    def on_test_epoch_start(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Evaluation is not training time: stop counting."""
        self._mark = None

    def on_validation_end(
        self, trainer_state: TrainerState, model: nn.Module, metrics: Mapping[str, float]
    ) -> None:
        """The next batch's data time counts from the end of the evaluation pass."""
        self._mark = self.clock()
