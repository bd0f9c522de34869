"""``Trainer``: the torch training and test loops, calling the plugin manager at every hook point.

The constructor accepts vis4d v0.1.2's ``Trainer`` arguments as they are, plus ``plugins``
(names enabled through the plugin manager). The call order follows vis4d's trainer; its known
faults are fixed: ``global_step`` counts batches (not optimizer steps), the epoch-end hooks run
when ``num_steps`` ends an epoch early, step-based validation is logged under ``val/`` and runs
when ``global_step % val_check_interval == 0``, and schedulers step after
``on_train_epoch_end``. The trainer's own code adds no host-device synchronisation per step.

One fit::

    setup (once per process) -> resume -> on_fit_start
    per epoch: on_train_epoch_start
        per batch: on_train_batch_start -> forward, loss, backward
                   -> on_before_optimizer_step (per optimizer) -> optimizer.step()
                   -> on_train_batch_end -> [step validation]
        on_train_epoch_end -> schedulers.step() -> [validation: on_test_epoch_start,
        on_test_batch_end..., on_test_epoch_end, on_validation_end]
    on_fit_end
"""

from __future__ import annotations

import atexit
import contextlib
import inspect
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from hookwise import checkpointing, distributed, settings
from hookwise.callback import Callback
from hookwise.errors import CheckpointError, ConfigError, HookwiseError, add_note
from hookwise.plugins import HookFailure, PluginManager
from hookwise.state import TrainerState

logger = logging.getLogger("hookwise")

PluginsArg = PluginManager | Iterable[Any] | Mapping[str, Mapping[str, Any]] | None


class TrainingInterrupted(HookwiseError):
    """Raised by :meth:`Trainer.fit` after a SIGINT or SIGTERM ended the run cleanly.

    A checkpoint was written into the run folder and the end hooks ran. ``signal_number`` says
    which signal; the command line exits with ``128 + signal_number``.
    """

    def __init__(self, signal_number: int, checkpoint: Path | None) -> None:
        name = signal.Signals(signal_number).name
        where = f"; checkpoint written to {checkpoint}" if checkpoint else ""
        super().__init__(f"training interrupted by {name}{where}")
        self.signal_number = signal_number
        self.checkpoint = checkpoint


@dataclass(frozen=True)
class StopRequest:
    """Who asked the trainer to stop, why, and where."""

    reason: str
    plugin: str | None
    epoch: int
    global_step: int


def _derive_seed(seed: int, *parts: int) -> int:
    value = seed & 0xFFFFFFFFFFFFFFFF
    for part in parts:
        value = (value * 6364136223846793005 + 1442695040888963407 + part) & 0xFFFFFFFFFFFFFFFF
    return value & 0x7FFFFFFFFFFFFFFF


def _to_device(data: Any, device: torch.device) -> Any:
    if isinstance(data, torch.Tensor):
        return data.to(device, non_blocking=True)
    if isinstance(data, Mapping):
        return {k: _to_device(v, device) for k, v in data.items()}
    if isinstance(data, (list, tuple)) and not hasattr(data, "_fields"):
        return type(data)(_to_device(v, device) for v in data)
    return data


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _check_log_value(plugin: str, hook: str, key: Any, value: Any) -> None:
    if not isinstance(key, str):
        raise TypeError(
            f"plugin {plugin!r}, hook {hook!r}: returned a log key {key!r} that is not a string"
        )
    if isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor)):
        raise TypeError(
            f"plugin {plugin!r}, hook {hook!r}: log {key!r} is {type(value).__name__}; hooks "
            f"return a mapping of names to numbers or 0-d tensors"
        )
    if isinstance(value, torch.Tensor) and value.numel() != 1:
        raise TypeError(
            f"plugin {plugin!r}, hook {hook!r}: log {key!r} is a tensor of shape "
            f"{tuple(value.shape)}; return a number or a 0-d tensor"
        )


def _to_float(value: Any) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().cpu().reshape(()).item())
    return float(value)


class Trainer:
    """Runs training and evaluation, dispatching every hook to the enabled plugins.

    The first arguments are vis4d's ``Trainer`` arguments, by the same names:

    :param device: where the model and batches go (``"cpu"``, ``"cuda"``, ``torch.device``);
        ``None`` or ``"auto"`` picks CUDA when it is available.
    :param output_dir: the run's folder (checkpoints, logs, the interrupt checkpoint).
    :param train_dataloader: the training loader (batches are dicts).
    :param test_dataloader: a list of evaluation loaders (one loader is accepted too).
    :param train_data_connector: a :class:`~hookwise.DataConnector` selecting the model's
        inputs from the batch: ``model(**connector(batch))``. ``None`` calls ``model(batch)``.
    :param test_data_connector: the same for evaluation (defaults to the train connector).
    :param callbacks: vis4d-style ``Callback`` objects, registered in this order under their
        class names (``Name#2`` for a second one); an object without hookwise hooks is offered
        to the installed adapters (a Lightning callback, with ``hookwise-lightning``).
    :param num_epochs: the number of epochs (-1: unlimited).
    :param num_steps: the number of training batches (-1: unlimited).
    :param epoch: the epoch to start from.
    :param global_step: the step to start from.
    :param check_val_every_n_epoch: validate after every n-th epoch (``None``: never).
    :param val_check_interval: also validate whenever ``global_step % n == 0`` (``None``: off).
    :param log_every_n_steps: kept for vis4d compatibility (logging plugins read it).

    hookwise's own arguments (keyword only):

    :param plugins: plugin names to enable (``"name"``, ``"name@instance"``,
        ``"package.module:Object"``), ``(name, params)`` pairs, a mapping ``{name: params}``,
        or a ready :class:`~hookwise.PluginManager`.
    :param seed: the seed; data order depends only on it and the epoch. ``None`` draws one
        (saved in checkpoints). A given seed also seeds torch, ``random`` and numpy at fit start.
    :param scheduler_interval: step schedulers per ``"epoch"`` (after ``on_train_epoch_end``)
        or per ``"step"``. vis4d's ``LRSchedulerWrapper`` objects are stepped as in vis4d.
    :param profile_hooks: time every plugin's hooks (see :attr:`profiler`).
    :param handle_signals: during ``fit``, turn SIGINT/SIGTERM into a clean stop with a
        checkpoint (main thread only).

    Distributed runs (see ``docs/distributed.md``): under ``torchrun`` the trainer initialises
    the process group (gloo on the CPU, NCCL on CUDA, where ``"cuda"`` means
    ``cuda:LOCAL_RANK``), wraps the model in ``DistributedDataParallel`` during ``fit``, gives
    the train loader a ``DistributedSampler`` seeded with ``seed`` and the evaluation loaders a
    :class:`~hookwise.distributed.DistributedEvalSampler` (no padding), registers plugins marked
    ``rank_zero_only = True`` on rank 0 only, writes checkpoints from rank 0, and combines stop
    requests and signals across ranks at points every rank reaches together.

    :param dist_timeout: seconds a collective call waits for the other ranks before failing
        (so a lost rank ends the run in bounded time).
    :param dist_stop_check_interval: in a distributed run, stop requests and signals are
        combined across ranks (one small all-reduce) at every epoch end, after every
        validation, and every this many training steps (``None``: only at epoch ends and
        validations). All ranks stop at the same step.
    :param use_distributed_sampler: replace the loaders' samplers in a distributed run
        (``False`` when the data is already split per rank, e.g. by data factories that take
        ``rank`` and ``world_size``; loaders with a ``DistributedSampler`` are always kept).
    :param ddp_kwargs: keyword arguments for ``DistributedDataParallel`` (for example
        ``{"find_unused_parameters": True}``).
    """

    def __init__(
        self,
        device: torch.device | str | None = "auto",
        output_dir: str | os.PathLike[str] = "hookwise-runs/run",
        train_dataloader: DataLoader[Any] | None = None,
        test_dataloader: Sequence[DataLoader[Any]] | DataLoader[Any] | None = None,
        train_data_connector: Any = None,
        test_data_connector: Any = None,
        callbacks: Sequence[Any] | None = None,
        num_epochs: int = settings.DEFAULT_NUM_EPOCHS,
        num_steps: int = -1,
        epoch: int = 0,
        global_step: int = 0,
        check_val_every_n_epoch: int | None = 1,
        val_check_interval: int | None = None,
        log_every_n_steps: int = 50,
        *,
        plugins: PluginsArg = None,
        seed: int | None = None,
        scheduler_interval: str = "epoch",
        profile_hooks: bool = False,
        handle_signals: bool = True,
        dist_timeout: float = settings.DEFAULT_DIST_TIMEOUT_S,
        dist_stop_check_interval: int | None = 10,
        use_distributed_sampler: bool = True,
        ddp_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        checked = settings.check_all(
            {
                "device": device,
                "num_epochs": num_epochs,
                "num_steps": num_steps,
                "epoch": epoch,
                "global_step": global_step,
                "check_val_every_n_epoch": check_val_every_n_epoch,
                "val_check_interval": val_check_interval,
                "log_every_n_steps": log_every_n_steps,
                "seed": seed,
                "scheduler_interval": scheduler_interval,
                "profile_hooks": profile_hooks,
                "handle_signals": handle_signals,
                "dist_timeout": dist_timeout,
                "dist_stop_check_interval": dist_stop_check_interval,
                "use_distributed_sampler": use_distributed_sampler,
                "ddp_kwargs": ddp_kwargs,
            }
        )
        torch_device = checked["device"]
        if torch_device == "auto":
            torch_device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.device = distributed.device_for_rank(torch_device)
        self.output_dir = Path(output_dir)
        self.train_dataloader = train_dataloader
        self.test_dataloader: list[DataLoader[Any]] | None = (
            _as_list(test_dataloader) if test_dataloader is not None else None
        )
        self.train_data_connector = train_data_connector
        self.test_data_connector = (
            test_data_connector if test_data_connector is not None else train_data_connector
        )
        self.num_epochs: int = checked["num_epochs"]
        self.num_steps: int = checked["num_steps"]
        self.epoch: int = checked["epoch"]
        self.global_step: int = checked["global_step"]
        self.check_val_every_n_epoch: int | None = checked["check_val_every_n_epoch"]
        self.val_check_interval: int | None = checked["val_check_interval"]
        self.log_every_n_steps: int = checked["log_every_n_steps"]
        self.scheduler_interval: str = checked["scheduler_interval"]
        self.seed: int | None = checked["seed"]
        self.handle_signals: bool = checked["handle_signals"]
        self.dist_timeout: float = checked["dist_timeout"]
        self.dist_stop_check_interval: int | None = checked["dist_stop_check_interval"]
        self.use_distributed_sampler: bool = checked["use_distributed_sampler"]
        self.ddp_kwargs: dict[str, Any] = checked["ddp_kwargs"]
        self._world = 1
        self._owns_process_group = False
        self._agreed_stop = False
        self._agreed_signal = False
        if num_epochs == -1 and num_steps == -1:
            logger.info("Neither num_epochs nor num_steps is set: training runs until stopped.")

        self.pm = plugins if isinstance(plugins, PluginManager) else PluginManager()
        if not isinstance(plugins, PluginManager):
            for name, params in _plugin_entries(plugins):
                self.pm.enable(name, **params)
        for callback in callbacks or []:
            self.pm.enable_object(callback, self._callback_name(callback))
        self.pm.describe_position = self._position
        self.pm.on_tolerated_failure = self._tolerated_failure

        #: The latest value of every logged key (``train/…``, ``val/…``, ``test/…``).
        self._latest: dict[str, Any] = {}
        #: Functions called with each hook's merged logs (prefixed names -> numbers or detached
        #: 0-d tensors, as returned) right after they are merged: how a logging plugin sees
        #: every logged scalar without converting values every step (:attr:`metrics` does).
        self.log_listeners: list[Callable[[Mapping[str, Any]], None]] = []
        self._clash_warned: set[tuple[str, str, str]] = set()
        self._stop: StopRequest | None = None
        self._signal: int | None = None
        self._is_setup = False
        self._batch_in_epoch = 0
        self._epoch_complete = False
        #: Whether the epoch schedulers stepped for the epoch that ended (a checkpoint taken in
        #: ``on_train_epoch_end`` comes before that step; resuming from it makes the step).
        self._epoch_schedulers_stepped = True
        self._resume_batch = 0
        self._pending_rng: Mapping[str, Any] | None = None
        #: The checkpoint the current (or last) fit resumed from; ``None``: it did not resume.
        self.resumed_from: Path | None = None
        self._model: nn.Module | None = None
        self._optimizers: list[torch.optim.Optimizer] = []
        self._lr_schedulers: list[Any] = []
        self._loss_module: Any = None
        self.profiler: Any = None
        if profile_hooks:
            from hookwise.profiler import HookProfiler

            self.profiler = HookProfiler(self.pm)

    # -- public state -----------------------------------------------------------------------------

    @property
    def metrics(self) -> dict[str, float]:
        """The latest value of every logged key, as floats (read off the device on access)."""
        return {key: _to_float(value) for key, value in self._latest.items()}

    @property
    def stop_request(self) -> StopRequest | None:
        """The stop request, once one was made."""
        return self._stop

    @property
    def should_stop(self) -> bool:
        """Whether the run will stop at its next check: a plugin requested it (see
        :attr:`stop_request`) or SIGINT/SIGTERM arrived."""
        return self._stop is not None or self._signal is not None

    def request_stop(
        self, reason: str, plugin: str | None = None, *, all_ranks: bool = False
    ) -> None:
        """Ask the trainer to stop at its next check (after the current batch, or after the
        epoch's validation). A latch: the first request is kept, nothing clears it. The plugin
        that asked is found from the call stack when not given.

        In a distributed run a request made on some ranks takes effect on every rank at the
        next point where the ranks combine their requests (see ``dist_stop_check_interval``),
        so all stop at the same step. ``all_ranks=True`` promises that every rank makes this
        request at this same step (for example after an all-reduce of the verdict): the stop
        then takes effect at once, as in one process.
        """
        if all_ranks:
            self._agreed_stop = True
        if self._stop is not None:
            return
        source = plugin or self._calling_plugin()
        self._stop = StopRequest(reason, source, self.epoch, self.global_step)
        logger.info(
            "Stop requested%s at epoch %d, step %d: %s",
            f" by plugin {source!r}" if source else "",
            self.epoch,
            self.global_step,
            reason,
        )

    def validates_after_epoch(self, epoch: int) -> bool:
        """Whether the trainer validates after training epoch ``epoch``."""
        return (
            self.check_val_every_n_epoch is not None
            and bool(self.test_dataloader)
            and (epoch + 1) % self.check_val_every_n_epoch == 0
        )

    def get_state(
        self,
        metrics: Mapping[str, Any] | None = None,
        optimizers: list[torch.optim.Optimizer] | None = None,
        lr_schedulers: list[Any] | None = None,
    ) -> TrainerState:
        """A fresh :class:`TrainerState` (vis4d's ``Trainer.get_state``)."""
        train = self.train_dataloader
        tests = self.test_dataloader
        state = TrainerState(
            current_epoch=self.epoch,
            num_epochs=self.num_epochs,
            global_step=self.global_step,
            num_steps=self.num_steps,
            train_dataloader=train,
            num_train_batches=_length(train),
            test_dataloader=tests,
            num_test_batches=[_length(t) or 0 for t in tests] if tests is not None else None,
            train_module=self,
            train_engine="hookwise",
        )
        if metrics is not None:
            state["metrics"] = metrics  # type: ignore[typeddict-item]
        if optimizers is not None:
            state["optimizers"] = optimizers
        if lr_schedulers is not None:
            state["lr_schedulers"] = lr_schedulers
        return state

    # -- fit --------------------------------------------------------------------------------------

    def fit(
        self,
        model: nn.Module,
        optimizers: Sequence[torch.optim.Optimizer] | torch.optim.Optimizer,
        lr_schedulers: Sequence[Any] | Any = None,
        loss_module: Any = None,
        *,
        resume_from: str | os.PathLike[str] | None = None,
    ) -> dict[str, float]:
        """Train ``model``; return :attr:`metrics`.

        :param model: the model (moved to the trainer's device).
        :param optimizers: one optimizer or a list.
        :param lr_schedulers: ``torch.optim.lr_scheduler`` objects (or vis4d wrappers), or None.
        :param loss_module: ``loss_module(outputs, batch)`` returns ``(total, metrics)`` (a
            :class:`~hookwise.LossModule`) or just the total loss.
        :param resume_from: a checkpoint path, or ``"last"`` for the newest checkpoint in the
            output folder: restores weights, optimizers, schedulers, position, RNG and plugin
            state, so the run continues as if it had never stopped.
        :raises TrainingInterrupted: after a SIGINT/SIGTERM ended the run cleanly.
        """
        if self.train_dataloader is None:
            raise ConfigError("Trainer.fit needs a train_dataloader")
        if loss_module is None:
            raise ConfigError("Trainer.fit needs a loss_module: loss_module(outputs, batch)")
        self._setup_distributed()
        self._model = model = self._wrap_model(model.to(self.device))
        self._optimizers = _as_list(optimizers)
        self._lr_schedulers = _as_list(lr_schedulers)
        self._loss_module = loss_module
        self._stop = None
        self.resumed_from = None
        self._signal = None
        self._agreed_stop = self._agreed_signal = False
        profiler = self.profiler
        if profiler is not None:
            profiler.begin("fit")
        first_step = self.global_step
        with self._signal_handlers():
            try:
                self._ensure_setup()
                if resume_from is not None:
                    self.resume(resume_from)
                elif self.seed is not None:
                    _seed_everything(self.seed)
                if self.seed is None:
                    self.seed = int(torch.initial_seed() & 0x7FFFFFFF)
                    self.seed = distributed.broadcast(self.seed) if self._world > 1 else self.seed
                first_step = self.global_step
                self.pm.hook.on_fit_start(trainer_state=self.get_state(), model=model)
                while not self._done():
                    self._train_epoch(model, loss_module)
                    if not self._epoch_complete:  # a signal: the epoch stays open
                        break
                    self.epoch += 1
                    # the position is now the start of the next epoch (for checkpoints taken
                    # after fit, or at its end): resuming there must not skip that epoch
                    self._epoch_complete, self._batch_in_epoch = False, 0
            except BaseException as exc:
                if self._signal is not None and isinstance(exc, KeyboardInterrupt):
                    self._distributed_failure(exc)
                    raise  # a second Ctrl-C exits at once: no hook, no half-step checkpoint
                self._report_exception(model, exc, fatal=True)
                self._distributed_failure(exc)
                raise
            checkpoint = self._write_interrupt_checkpoint() if self._signal is not None else None
            self.pm.hook.on_fit_end(trainer_state=self.get_state(), model=model)
            self._report_tolerated_failures()
        if profiler is not None:
            profiler.end("fit", steps=self.global_step - first_step)
        if self._signal is not None:
            raise TrainingInterrupted(self._signal, checkpoint)
        if profiler is not None:
            profiler.log_report()
        return self.metrics

    def _done(self) -> bool:
        if self._stopping(sync=True):
            return True
        if self.num_steps != -1 and self.global_step >= self.num_steps:
            logger.info("Trainer.fit stopped: num_steps=%d reached.", self.num_steps)
            return True
        if self.num_epochs != -1 and self.epoch >= self.num_epochs:
            logger.info("Trainer.fit stopped: num_epochs=%d reached.", self.num_epochs)
            return True
        return False

    def _train_epoch(self, model: nn.Module, loss_module: Any) -> None:
        hook = self.pm.hook
        loader = self.train_dataloader = self._shard_train_loader(self.train_dataloader)
        assert loader is not None
        optimizers = self._optimizers
        connector = self.train_data_connector
        device = self.device
        move = device.type != "cpu"
        per_step_schedulers = (
            [s for s in self._lr_schedulers if hasattr(s, "step_on_batch")]
            if self.scheduler_interval == "epoch"
            else list(self._lr_schedulers)
        )
        batch_start = self.pm.caller("on_train_batch_start")
        before_step = self.pm.caller("on_before_optimizer_step")
        batch_end = self.pm.caller("on_train_batch_end")

        start = self._resume_batch
        self._resume_batch = 0
        self._epoch_complete = False
        self._epoch_schedulers_stepped = False
        self._batch_in_epoch = start
        if start == 0:
            self._pending_rng_if_epoch_start()
        hook.on_train_epoch_start(
            trainer_state=self.get_state(), model=model, loss_module=loss_module
        )
        model.train()
        self._seed_loader(loader, self.epoch)
        iterator = iter(loader)
        for _ in range(start):
            next(iterator)
        if start:
            self._restore_pending_rng()
        batch_idx = start
        # get_state() costs microseconds (it measures the loaders); within an epoch only the
        # step and the loss metrics change, so each batch hook gets a fresh copy of this one.
        epoch_state = self.get_state()
        for batch in iterator:
            for optimizer in optimizers:
                optimizer.zero_grad(set_to_none=True)
            if move:
                batch = _to_device(batch, device)
            if batch_start.calls or batch_start.wrappers:
                batch_start.call_ordered(
                    trainer_state={**epoch_state, "global_step": self.global_step},
                    model=model,
                    loss_module=loss_module,
                    batch=batch,
                    batch_idx=batch_idx,
                )
            outputs = model(**connector(batch)) if connector is not None else model(batch)
            total, metrics = _compute_loss(loss_module, outputs, batch)
            total.backward()  # type: ignore[no-untyped-call]
            has_before_step = bool(before_step.calls or before_step.wrappers)
            for optimizer in optimizers:
                if has_before_step:
                    before_step.call_ordered(
                        trainer_state={
                            **epoch_state,
                            "global_step": self.global_step,
                            "metrics": metrics,
                        },
                        model=model,
                        optimizer=optimizer,
                    )
                optimizer.step()
            self.global_step += 1
            self._batch_in_epoch = batch_idx + 1
            for scheduler in per_step_schedulers:
                if hasattr(scheduler, "step_on_batch"):
                    scheduler.step_on_batch(self.global_step)
                else:
                    scheduler.step()
            if batch_end.calls or batch_end.wrappers:
                results = batch_end.call_attributed(
                    trainer_state={
                        **epoch_state,
                        "global_step": self.global_step,
                        "metrics": metrics,
                    },
                    model=model,
                    loss_module=loss_module,
                    outputs=outputs,
                    batch=batch,
                    batch_idx=batch_idx,
                )
                if results:
                    self._merge_logs("train/", "on_train_batch_end", results)
            if (
                self.val_check_interval is not None
                and self.test_dataloader
                and self.global_step % self.val_check_interval == 0
            ):
                self.test(model, is_val=True)
                model.train()
            batch_idx += 1
            if self._stopping(sync=self._stop_check_due()) or (
                self.num_steps != -1 and self.global_step >= self.num_steps
            ):
                break
        if self._interrupted():
            # A signal ends the run inside the epoch: no epoch-end hooks, scheduler step or
            # validation, so resuming continues at the next batch as if nothing had happened.
            return
        self._epoch_complete = True
        results = self.pm.caller("on_train_epoch_end").call_attributed(
            trainer_state=self.get_state(
                optimizers=self._optimizers, lr_schedulers=self._lr_schedulers
            ),
            model=model,
            loss_module=loss_module,
        )
        if results:
            self._merge_logs("train/", "on_train_epoch_end", results)
        self._step_epoch_schedulers(self.epoch)
        if self.validates_after_epoch(self.epoch) and not self._interrupted():
            self.test(model, is_val=True)

    def _step_epoch_schedulers(self, epoch: int) -> None:
        if self.scheduler_interval == "epoch":
            for scheduler in self._lr_schedulers:
                if hasattr(scheduler, "step_on_batch"):
                    scheduler.step(epoch)
                else:
                    scheduler.step()
        self._epoch_schedulers_stepped = True

    # -- test -------------------------------------------------------------------------------------

    @torch.no_grad()
    def test(self, model: nn.Module, is_val: bool = False) -> dict[str, float]:
        """Run one evaluation pass over every test loader and return its prefixed metrics.

        Logs are named ``val/<key>`` when ``is_val`` (validation during fit) and
        ``test/<key>`` otherwise; ``on_validation_end`` receives them.
        """
        if not self.test_dataloader:
            raise ConfigError("Trainer.test needs a test_dataloader")
        profiler = self.profiler
        if profiler is not None:
            profiler.begin("eval")
        model = model.to(self.device)
        if self._model is None:
            self._model = model
        self._setup_distributed()
        self._ensure_setup()
        self._shard_eval_loaders()
        hook = self.pm.hook
        connector = self.test_data_connector
        device = self.device
        move = device.type != "cpu"
        batch_end = self.pm.caller("on_test_batch_end")
        model.eval()
        # evaluation forward passes bypass DDP: ranks may run different numbers of batches
        forward = model.module if isinstance(model, DistributedDataParallel) else model
        hook.on_test_epoch_start(trainer_state=self.get_state(), model=model)
        pass_state = self.get_state()  # copied for each batch hook (see _train_epoch)
        for loader_idx, loader in enumerate(self.test_dataloader):
            self._seed_loader(loader, -1 - loader_idx)
            for batch_idx, batch in enumerate(loader):
                if move:
                    batch = _to_device(batch, device)
                outputs = forward(**connector(batch)) if connector is not None else forward(batch)
                if batch_end.calls or batch_end.wrappers:
                    batch_end.call_ordered(
                        trainer_state={**pass_state},
                        model=model,
                        outputs=outputs,
                        batch=batch,
                        batch_idx=batch_idx,
                        dataloader_idx=loader_idx,
                    )
        prefix = "val/" if is_val else "test/"
        results = self.pm.caller("on_test_epoch_end").call_attributed(
            trainer_state=self.get_state(), model=model
        )
        logged = self._merge_logs(prefix, "on_test_epoch_end", results)
        metrics = {key: _to_float(value) for key, value in logged.items()}
        hook.on_validation_end(trainer_state=self.get_state(), model=model, metrics=metrics)
        if profiler is not None:
            profiler.end("eval")
        return metrics

    # -- logs -------------------------------------------------------------------------------------

    def _merge_logs(self, prefix: str, hook: str, results: list[tuple[str, Any]]) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        owners: dict[str, str] = {}
        for plugin, logs in results:
            try:
                if not isinstance(logs, Mapping):
                    raise TypeError(
                        f"plugin {plugin!r}, hook {hook!r}: returned {type(logs).__name__}; "
                        f"hooks return None or a mapping of names to numbers"
                    )
                for key, value in logs.items():
                    _check_log_value(plugin, hook, key, value)
            except TypeError as exc:  # the plugin's error policy decides; its logs are dropped
                self.pm.handle_failure(hook, plugin, exc)
                continue
            for key, value in logs.items():
                name = prefix + key
                if name in merged:
                    first = owners[name]
                    if (name, first, plugin) not in self._clash_warned:
                        self._clash_warned.add((name, first, plugin))
                        logger.warning(
                            "plugins %r and %r both returned %r from %s; the later one is "
                            "kept as %r",
                            first,
                            plugin,
                            name,
                            hook,
                            f"{name}@{plugin}",
                        )
                    name = f"{name}@{plugin}"
                else:
                    owners[name] = plugin
                merged[name] = value.detach() if isinstance(value, torch.Tensor) else value
        self._latest.update(merged)
        if merged:
            for listener in self.log_listeners:
                listener(merged)
        return merged

    # -- setup, errors, signals ------------------------------------------------------------------

    def _ensure_setup(self) -> None:
        if not self._is_setup:
            self._is_setup = True
            self.pm.hook.setup()

    def _position(self) -> str:
        where = f"epoch {self.epoch}, step {self.global_step}"
        if self._world > 1:
            return f"rank {distributed.get_rank()} of {self._world}, {where}"
        return where

    def _report_exception(self, model: nn.Module, exc: BaseException, fatal: bool) -> None:
        """Run ``on_exception``; errors raised there are logged, never hiding ``exc``."""
        if isinstance(exc, Exception):
            add_note(exc, f"hookwise: the run failed at {self._position()}")
        for call in self.pm.caller("on_exception").calls:
            try:
                call.call(
                    {
                        "trainer_state": self.get_state(),
                        "model": model,
                        "exception": exc,
                        "fatal": fatal,
                    }
                )
            except Exception:
                logger.exception(
                    "plugin %r failed in hook 'on_exception' while handling %s",
                    call.plugin_name,
                    type(exc).__name__,
                )

    def _report_tolerated_failures(self) -> None:
        """At the end of fit, say how often each plugin's tolerated failures happened."""
        for name, failure in self.pm.failures.items():
            if failure.count > 1:
                logger.warning(
                    "plugin %r failed %d times in this run (on_error=%s; the first failure was "
                    "reported with its traceback); the last one, in hook %r: %s: %s",
                    name,
                    failure.count,
                    failure.policy,
                    failure.hook,
                    type(failure.exception).__name__,
                    failure.exception,
                )

    def _tolerated_failure(self, failure: HookFailure) -> None:
        if self._model is not None and failure.hook != "on_exception":
            self._report_exception(self._model, failure.exception, fatal=False)

    def _calling_plugin(self) -> str | None:
        frame = inspect.currentframe()
        plugins = {id(self.pm.get_plugin(n)): n for n in self.pm.plugin_names()}
        while frame is not None:
            owner = frame.f_locals.get("self")
            if owner is not None and id(owner) in plugins and owner is not self:
                return plugins[id(owner)]
            module = sys.modules.get(frame.f_globals.get("__name__", ""))
            if module is not None and id(module) in plugins:
                return plugins[id(module)]
            frame = frame.f_back
        return None

    @contextlib.contextmanager
    def _signal_handlers(self) -> Iterator[None]:
        if not self.handle_signals or threading.current_thread() is not threading.main_thread():
            yield
            return

        owner = os.getpid()

        def handler(signum: int, _frame: Any) -> None:
            if os.getpid() != owner:
                # A process forked during fit (a DataLoader worker) inherited this handler: the
                # trainer's process ends the run and shuts its workers down, so a worker ignores
                # Ctrl-C; any other signal gets its default action.
                if signum != signal.SIGINT:
                    signal.signal(signum, signal.SIG_DFL)
                    os.kill(os.getpid(), signum)
                return
            if self._signal is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt  # a second Ctrl-C exits at once
            self._signal = signum
            logger.warning(
                "%s received: finishing the current step, writing a checkpoint and ending the "
                "run (press Ctrl-C again to exit at once)",
                signal.Signals(signum).name,
            )

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    # -- checkpoints ------------------------------------------------------------------------------

    def checkpoint_state(self) -> dict[str, Any]:
        """The complete checkpoint of the run as it is now (see :mod:`hookwise.checkpointing`)."""
        from hookwise.distributed import unwrap_model

        model = self._model
        if model is None:
            raise HookwiseError("there is nothing to checkpoint before fit or test has started")
        return {
            "format": checkpointing.FORMAT,
            "format_version": checkpointing.FORMAT_VERSION,
            "epoch": self.epoch,
            "global_step": self.global_step,
            "batch_in_epoch": self._batch_in_epoch,
            "epoch_complete": self._epoch_complete,
            "epoch_schedulers_stepped": self._epoch_schedulers_stepped,
            "seed": self.seed,
            "model": unwrap_model(model).state_dict(),
            "optimizers": [o.state_dict() for o in self._optimizers],
            "lr_schedulers": [
                s.state_dict() for s in self._lr_schedulers if hasattr(s, "state_dict")
            ],
            "rng": checkpointing.capture_rng_state(),
            "plugins": self.pm.state_dict(),
            "metrics": self.metrics,
        }

    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        """Write the complete checkpoint to ``path`` atomically; return the path.

        In a distributed run only rank 0 writes (every rank holds the same weights); the other
        ranks return the path without writing. The call makes no collective call, so any rank
        may make it, in an exception handler too; a plugin that needs the file complete on
        every rank calls :func:`hookwise.distributed.synchronize` afterwards, at a point every
        rank reaches together.
        """
        if self._world > 1 and distributed.get_rank() != 0:
            return Path(path)
        return checkpointing.atomic_save(self.checkpoint_state(), path)

    def find_last_checkpoint(self) -> Path:
        """The newest ``*.ckpt`` under the output folder (``last.ckpt`` wins a tie)."""
        candidates = [p for p in self.output_dir.rglob("*.ckpt") if p.is_file()]
        if not candidates:
            raise CheckpointError(
                f"no checkpoint to resume under {str(self.output_dir)!r}; run fit with the "
                f"checkpoint plugin enabled, or give a checkpoint path"
            )
        return max(candidates, key=lambda p: (p.stat().st_mtime_ns, p.name == "last.ckpt"))

    def resume(self, path: str | os.PathLike[str]) -> Path:
        """Restore a checkpoint written by :meth:`save_checkpoint` into the current fit (the
        file is then :attr:`resumed_from`)."""
        from hookwise.distributed import unwrap_model

        file = self._resume_file(path)
        self.resumed_from = file
        data = self._load_resume_checkpoint(file)
        model = self._model
        assert model is not None
        target = unwrap_model(model)
        weights = data["model"]
        if set(weights) != set(target.state_dict()):  # keys that fit are never renamed
            weights = checkpointing.strip_module_prefix(weights)
        try:
            target.load_state_dict(weights)
        except RuntimeError as exc:
            raise CheckpointError(
                f"checkpoint {str(file)!r} does not fit the model: {exc}"
            ) from exc
        saved_optimizers = data.get("optimizers", [])
        if len(saved_optimizers) != len(self._optimizers):
            raise CheckpointError(
                f"checkpoint {str(file)!r} has {len(saved_optimizers)} optimizer states; the "
                f"run has {len(self._optimizers)} optimizers"
            )
        for optimizer, state in zip(self._optimizers, saved_optimizers, strict=True):
            optimizer.load_state_dict(state)
        stateful = [s for s in self._lr_schedulers if hasattr(s, "load_state_dict")]
        for scheduler, state in zip(stateful, data.get("lr_schedulers", []), strict=False):
            scheduler.load_state_dict(state)
        missing = self.pm.load_state_dict(data.get("plugins", {}))
        for name in missing:
            logger.info("checkpoint %s has no state for plugin %r; it starts fresh", file, name)
        self.seed = data.get("seed", self.seed)
        self.global_step = int(data["global_step"])
        if data.get("epoch_complete", True):
            if not data.get("epoch_schedulers_stepped", True):
                with warnings.catch_warnings():  # the optimizers did step, before the save
                    warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step")
                    self._step_epoch_schedulers(int(data["epoch"]))
            self.epoch = int(data["epoch"]) + 1
            self._resume_batch = 0
        else:
            self.epoch = int(data["epoch"])
            self._resume_batch = int(data.get("batch_in_epoch", 0))
        self._latest.update(data.get("metrics", {}))
        self._pending_rng = data.get("rng")
        logger.info(
            "Resumed from %s: epoch %d, batch %d, step %d",
            file,
            self.epoch,
            self._resume_batch,
            self.global_step,
        )
        return file

    def _pending_rng_if_epoch_start(self) -> None:
        if self._pending_rng is not None:
            self._restore_pending_rng()

    def _restore_pending_rng(self) -> None:
        if self._pending_rng is not None:
            checkpointing.restore_rng_state(self._pending_rng)
            self._pending_rng = None

    def _write_interrupt_checkpoint(self) -> Path | None:
        try:
            return self.save_checkpoint(self.output_dir / "checkpoints" / "interrupted.ckpt")
        except Exception:
            logger.exception("could not write the interrupt checkpoint")
            return None

    # -- distributed ------------------------------------------------------------------------------

    @property
    def rank(self) -> int:
        """This process's global rank (0 when not distributed; ``RANK`` under torchrun)."""
        return distributed.get_rank()

    @property
    def world_size(self) -> int:
        """The number of processes (1 when not distributed; ``WORLD_SIZE`` under torchrun)."""
        return distributed.get_world_size()

    @property
    def owns_process_group(self) -> bool:
        """Whether this trainer initialised the process group (:meth:`close` destroys it)."""
        return self._owns_process_group

    def close(self) -> None:
        """Destroy the process group if this trainer created it; a no-op otherwise.

        Also runs at interpreter exit. Call it (or use the trainer as a context manager) to
        release the group earlier; a later ``fit`` or ``test`` initialises a new one.
        """
        if self._owns_process_group:
            self._owns_process_group = False
            atexit.unregister(self.close)
            distributed.destroy_process_group()
        self._world = 1

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _setup_distributed(self) -> None:
        """Join torchrun's process group (once) and fit the plugins to this rank."""
        if distributed.init_process_group(self.device, self.dist_timeout):
            self._owns_process_group = True
            atexit.register(self.close)
        world = distributed.get_world_size() if distributed.is_distributed() else 1
        if world > 1 and self._world == 1:
            # the first run of this trainer in this group: every rank uses rank 0's run folder
            self.output_dir = Path(distributed.broadcast(str(self.output_dir)))
        self._world = world
        if world > 1:
            self._prepare_plugins_for_rank()

    def _prepare_plugins_for_rank(self) -> None:
        """Unregister rank-zero-only plugins on the other ranks; refuse error policies that
        would let the ranks drift apart (DESIGN decision 9)."""
        rank = distributed.get_rank()
        for name in self.pm.plugin_names():
            plugin = self.pm.get_plugin(name)
            if rank != 0 and distributed.is_rank_zero_only(plugin):
                self.pm.unregister(name=name)
                logger.debug("plugin %r is rank_zero_only: not registered on rank %d", name, rank)
                continue
            policy = self.pm.error_policy(name)
            if policy == "raise":
                continue
            functions = [
                impl.function
                for caller in self.pm.get_hookcallers(plugin) or []
                for impl in caller.get_hookimpls()
                if impl.plugin is plugin
            ]
            if not distributed.is_collective_free(plugin, functions):
                raise ConfigError(
                    f"plugin {name!r} has on_error={policy!r}, which a distributed run "
                    f"({self._world} processes) allows only for plugins that make no collective "
                    f"call: a failure tolerated on one rank would leave the ranks out of step. "
                    f"Use on_error='raise', or, if the plugin never calls all_gather_object, "
                    f"broadcast, synchronize or another collective, mark its class "
                    f"`collective_free = True` (or `rank_zero_only = True` when it acts on rank "
                    f"0 only)."
                )

    def _wrap_model(self, model: nn.Module) -> nn.Module:
        if self._world == 1 or isinstance(model, DistributedDataParallel):
            return model
        device_ids = [self.device] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids, **self.ddp_kwargs)

    def _shard_train_loader(self, loader: DataLoader[Any] | None) -> DataLoader[Any] | None:
        if loader is None or self._world == 1 or not self.use_distributed_sampler:
            return loader
        seed = self.seed if self.seed is not None else 0
        return distributed.shard_train_loader(
            loader, seed=seed, num_replicas=self._world, rank=distributed.get_rank()
        )

    def _shard_eval_loaders(self) -> None:
        loaders = self.test_dataloader
        if not loaders or self._world == 1 or not self.use_distributed_sampler:
            return
        rank = distributed.get_rank()
        sharded = [
            distributed.shard_eval_loader(loader, num_replicas=self._world, rank=rank)
            for loader in loaders
        ]
        if any(new is not old for new, old in zip(sharded, loaders, strict=True)):
            self.test_dataloader = sharded

    def _stop_check_due(self) -> bool:
        """Whether this step is a point where every rank combines its stop requests."""
        if self._world == 1:
            return False
        step = self.global_step
        every = self.dist_stop_check_interval
        if every is not None and step % every == 0:
            return True
        validate = self.val_check_interval
        return validate is not None and bool(self.test_dataloader) and step % validate == 0

    def _stopping(self, sync: bool) -> bool:
        """Whether training stops now. In a distributed run only what every rank agreed on
        counts (combined at ``sync`` points), so every rank stops at the same step."""
        if self._world == 1:
            return self._stop is not None or self._signal is not None
        if sync:
            self._sync_stop()
        return self._agreed_stop or self._agreed_signal

    def _interrupted(self) -> bool:
        """Whether a signal ended the run (agreed across ranks in a distributed run)."""
        if self._world == 1:
            return self._signal is not None
        self._sync_stop()
        return self._agreed_signal

    def _sync_stop(self) -> None:
        """Combine stop requests and signals across ranks: one small all-reduce, plus one
        gather of the stop reasons when some rank asked to stop."""
        requested, signum = distributed.all_reduce_max(
            [int(self._stop is not None), self._signal or 0]
        )
        if signum and not self._agreed_signal:
            self._agreed_signal = True
            if self._signal is None:
                self._signal = signum
                logger.warning(
                    "%s was received by another rank: every rank ends the run at step %d",
                    signal.Signals(signum).name,
                    self.global_step,
                )
        if requested and not self._agreed_stop:
            self._agreed_stop = True
            requests = distributed.all_gather_object(self._stop)
            if self._stop is None:
                rank, first = next((r, q) for r, q in enumerate(requests) if q is not None)
                self._stop = StopRequest(
                    f"{first.reason} (requested on rank {rank})",
                    first.plugin,
                    self.epoch,
                    self.global_step,
                )
                logger.info(
                    "Stop requested on rank %d%s: %s; every rank stops at step %d",
                    rank,
                    f" by plugin {first.plugin!r}" if first.plugin else "",
                    first.reason,
                    self.global_step,
                )

    def _distributed_failure(self, exc: BaseException) -> None:
        """On a fatal error in a distributed run: name this rank, record the error for
        torchrun's summary, and tear the process group down without any collective call, so
        that the other ranks fail fast (or torchrun ends them) instead of waiting."""
        if self._world == 1 and not self._owns_process_group:
            return
        rank, world = distributed.get_rank(), distributed.get_world_size()
        if distributed.is_peer_failure(exc):
            logger.error(
                "rank %d of %d: a collective call failed, most likely because another rank "
                "failed first (see its error): %s: %s",
                rank,
                world,
                type(exc).__name__,
                exc,
            )
        else:
            distributed.record_failure(exc)  # torchrun's summary names this as the root cause
            notes = "; ".join(getattr(exc, "__notes__", []))
            logger.error(
                "rank %d of %d: the run failed with %s: %s%s",
                rank,
                world,
                type(exc).__name__,
                exc,
                f" ({notes})" if notes else "",
            )
        if self._owns_process_group:
            self._owns_process_group = False
            atexit.unregister(self.close)
            distributed.abort_process_group()
        self._world = 1

    def _resume_file(self, path: str | os.PathLike[str]) -> Path:
        """The checkpoint to resume: ``"last"`` is resolved on rank 0 and shared."""
        if str(path) != "last":
            return Path(path)
        if self._world == 1:
            return self.find_last_checkpoint()
        found: str | None = None
        error: str | None = None
        if distributed.get_rank() == 0:
            try:
                found = str(self.find_last_checkpoint())
            except CheckpointError as exc:
                error = str(exc)
        found, error = distributed.broadcast((found, error))
        if error is not None or found is None:
            raise CheckpointError(f"rank 0: {error}")
        return Path(found)

    def _load_resume_checkpoint(self, file: Path) -> dict[str, Any]:
        """Load ``file``; in a distributed run every rank raises if any rank failed to."""
        if self._world == 1:
            return checkpointing.load_checkpoint(file, map_location=self.device)
        data: dict[str, Any] = {}
        error: CheckpointError | None = None
        try:
            data = checkpointing.load_checkpoint(file, map_location=self.device)
        except CheckpointError as exc:
            error = exc
        failures = distributed.all_gather_object(None if error is None else str(error))
        if error is not None:
            raise error
        for rank, message in enumerate(failures):
            if message is not None:
                raise CheckpointError(
                    f"rank {rank} could not load the checkpoint to resume, so no rank does: "
                    f"{message}. Every rank reads the file: put it on storage all nodes share."
                )
        return data

    # -- helpers ----------------------------------------------------------------------------------

    def _seed_loader(self, loader: DataLoader[Any], epoch: int) -> None:
        """Give the loader generators seeded from (seed, epoch), so data order depends on
        nothing else (evaluation passes never shift the training order)."""
        seed = self.seed if self.seed is not None else 0
        sampler = loader.sampler
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)
        elif isinstance(sampler, RandomSampler):
            generator = torch.Generator()
            generator.manual_seed(_derive_seed(seed, epoch, 1))
            sampler.generator = generator
        loader_generator = torch.Generator()
        loader_generator.manual_seed(_derive_seed(seed, epoch, 2))
        loader.generator = loader_generator

    def _callback_name(self, callback: Callback) -> str:
        base = type(callback).__name__
        name, count = base, 1
        while self.pm.get_plugin(name) is not None:
            count += 1
            name = f"{base}#{count}"
        return name


def _length(loader: Any) -> int | None:
    if loader is None:
        return None
    try:
        return len(loader)
    except TypeError:
        return None


def _compute_loss(loss_module: Any, outputs: Any, batch: Any) -> tuple[torch.Tensor, Any]:
    result = loss_module(outputs, batch)
    if isinstance(result, tuple):
        total, metrics = result
        return total, metrics
    return result, {"loss": result.detach()}


def _seed_everything(seed: int) -> None:
    import random

    torch.manual_seed(seed)
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed % 2**32)


def _plugin_entries(plugins: Any) -> list[tuple[str, dict[str, Any]]]:
    if plugins is None:
        return []
    if isinstance(plugins, Mapping):
        return [(str(name), dict(params or {})) for name, params in plugins.items()]
    entries: list[tuple[str, dict[str, Any]]] = []
    for item in plugins:
        if isinstance(item, str):
            entries.append((item, {}))
        elif isinstance(item, tuple) and len(item) == 2:
            entries.append((str(item[0]), dict(item[1])))
        elif hasattr(item, "name") and hasattr(item, "params"):
            entries.append((item.name, dict(item.params)))
        else:
            raise ConfigError(
                f"plugins entries are names, (name, params) pairs or plugin specs, got {item!r}"
            )
    return entries


__all__ = ["StopRequest", "Trainer", "TrainingInterrupted"]
