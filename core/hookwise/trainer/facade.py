"""``Trainer``: vis4d's trainer API over the parts that do the work.

The facade keeps vis4d v0.1.2's constructor and methods (``fit``, ``test``, ``get_state``) and
hookwise's own (checkpoints, stopping, metrics); the work is done by its parts:
:mod:`~hookwise.trainer.fit_loop` and :mod:`~hookwise.trainer.evaluation` (the loops),
:mod:`~hookwise.trainer.stopping` (the stop latch and signals), :mod:`~hookwise.trainer.resume`
(checkpoint state, RNG, position), :mod:`~hookwise.trainer.strategy` (processes, wrapping,
sharding) and :mod:`~hookwise.trainer.logs` (merging logged values).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from hookwise import distributed, settings
from hookwise.api import Stage
from hookwise.errors import ConfigError
from hookwise.plugins import HookFailure, PluginManager
from hookwise.saving import AsyncSaver, SyncSaver
from hookwise.state import TrainerState
from hookwise.trainer._util import as_list, length, plugin_manager
from hookwise.trainer.evaluation import EvaluationLoop
from hookwise.trainer.failures import report_exception
from hookwise.trainer.fit_loop import FitLoop
from hookwise.trainer.logs import LogMerger
from hookwise.trainer.optimization import Optimization
from hookwise.trainer.output_dir import check_fresh_output_dir
from hookwise.trainer.plugin_api import PluginAPIControl
from hookwise.trainer.position import Position
from hookwise.trainer.resume import AUTO_RESUME, CheckpointControl
from hookwise.trainer.stopping import StopControl, StopLatch
from hookwise.trainer.strategy import DistributedControl, ProcessGroupOwner, Strategy
from hookwise.trainer.vis4d_view import Vis4dView

logger = logging.getLogger("hookwise")
PluginsArg = PluginManager | Iterable[Any] | Mapping[str, Mapping[str, Any]] | None


# Vis4dView.output_dir is a property (an OutputDir, which is a Path) where the other parts
# annotate a plain Path attribute: the same value, so mypy's base-class check is silenced.
class Trainer(  # type: ignore[misc]
    StopControl, CheckpointControl, DistributedControl, PluginAPIControl, Vis4dView
):
    """Runs training and evaluation, dispatching every hook to the enabled plugins.

    It implements :class:`~hookwise.TrainerAPI`, the trainer API for plugins, and passes
    itself to every hook as ``trainer_state["trainer"]`` (typed as that protocol) and
    ``trainer_state["train_module"]`` (for vis4d code).

    The first arguments are vis4d's ``Trainer`` arguments, by the same names; every setting is
    defined (type, default, check) in :mod:`hookwise.settings`:

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

    Distributed runs (``docs/distributed.md``): under ``torchrun`` the trainer joins the process
    group (gloo on the CPU, NCCL on CUDA as ``cuda:LOCAL_RANK``), wraps or shards the model
    (``strategy``), gives the loaders per-rank samplers, registers ``rank_zero_only`` plugins
    on rank 0 only, and combines stop requests across ranks where all ranks meet.

    :param dist_timeout: seconds a collective call waits for the other ranks before failing
        (so a lost rank ends the run in bounded time).
    :param dist_stall_timeout: seconds without a heartbeat from another rank (a stopped, hung
        or lost process) before every other rank ends with an error naming it (see
        :mod:`hookwise.watchdog`; 5 minutes by default). SIGINT or SIGTERM while another rank
        is silent ends the rank at once, with exit status ``128 + signal``.
    :param dist_stop_check_interval: in a distributed run, stop requests and signals are
        combined across ranks (one small all-reduce) at every epoch end, after every
        validation, and every this many training steps (``None``: only at epoch ends and
        validations). All ranks stop at the same step.
    :param use_distributed_sampler: replace the loaders' samplers in a distributed run
        (``False`` when the data is already split per rank; a ``DistributedSampler`` is kept).
    :param ddp_kwargs: keyword arguments for ``DistributedDataParallel``.
    :param strategy: ``"ddp"`` or ``"fsdp"`` (FSDP2 ``fully_shard``, sharded checkpoints).
    :param fsdp_wrap: FSDP's units: module class names or a parameter count (``None``: one).
    :param checkpoint_format: under ``ddp``, ``"full"`` (one file) or ``"sharded"`` (a folder).
    :param num_sanity_val_steps: before the first training step, validate on this many batches
        of each loader (a sanity pass: hooks see ``trainer_state["sanity_check"] = True``; it
        logs nothing, restores plugin state and RNG after, and is skipped on resume; 0: off).
    :param overwrite: let ``fit`` start a new run in an ``output_dir`` that holds an earlier
        run's metrics or checkpoints (by default that is refused: resume it, or give a new
        folder).
    :param resume_on_restart: when ``torchrun --max-restarts`` restarted the workers after
        a failure, ``fit`` continues from the newest complete checkpoint of ``output_dir``
        (from step 0 when there is none) instead of starting over (default ``True``).

    The training features (``docs/training-features.md``; plugins read ``run_settings``):

    :param precision: ``"32"``, ``"bf16"`` (autocast on the CPU and CUDA) or ``"fp16"``
        (autocast and a gradient scaler, CUDA only) for the forward pass and the loss.
    :param accumulate_grad_batches: one optimizer step per this many batches.
    :param gradient_clip_val: clip gradients to this norm (or value) before each optimizer
        step, after unscaling and before ``on_before_optimizer_step`` (``None``: off).
    :param gradient_clip_algorithm: ``"norm"`` or ``"value"``.
    :param compile: ``model.compile(**compile_kwargs)`` (in place) before fit and test.
    :param compile_kwargs: keyword arguments for ``model.compile``.
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
        dist_stall_timeout: float = settings.DEFAULT_DIST_STALL_TIMEOUT_S,
        dist_stop_check_interval: int | None = 10,
        use_distributed_sampler: bool = True,
        ddp_kwargs: Mapping[str, Any] | None = None,
        strategy: str = "ddp",
        fsdp_wrap: Sequence[str] | str | int | None = None,
        checkpoint_format: str = "full",
        overwrite: bool = False,
        resume_on_restart: bool = True,
        num_sanity_val_steps: int = 0,
        precision: str = "32",
        accumulate_grad_batches: int = 1,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str = "norm",
        compile: bool = False,
        compile_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        given = dict(locals())
        checked = settings.check_all(
            {s.name: given[s.name] for s in settings.all_settings("trainer")}
        )
        self._apply_settings(checked)
        self.output_dir = Path(output_dir)
        self.train_dataloader = train_dataloader
        self.test_dataloader = None if test_dataloader is None else as_list(test_dataloader)
        self.train_data_connector = train_data_connector
        self.test_data_connector = (
            test_data_connector if test_data_connector is not None else train_data_connector
        )
        self._position = Position(epoch=checked["epoch"], global_step=checked["global_step"])
        self.pm = plugin_manager(plugins, callbacks, self._describe_position, self._tolerated)
        self._latch = StopLatch()
        self._logs = LogMerger(self.pm.handle_failure)
        self._fit_loop = FitLoop(self)
        self._eval_loop = EvaluationLoop(self)
        self._init_run(profile_hooks=checked["profile_hooks"])

    def _init_run(self, *, profile_hooks: bool) -> None:
        self._group = ProcessGroupOwner()
        self._strategy: Strategy = Strategy()
        self._is_setup = False
        self._pending_rng: Mapping[str, Any] | None = None
        self._sync_saver = SyncSaver()
        self._async_saver = AsyncSaver()
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

    def _apply_settings(self, checked: Mapping[str, Any]) -> None:
        self._settings = dict(checked)
        self._stage: Stage = "train"
        device = checked["device"]
        if device == "auto":
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.device = distributed.device_for_rank(device)
        self.num_epochs: int = checked["num_epochs"]
        self.num_steps: int = checked["num_steps"]
        self.check_val_every_n_epoch: int | None = checked["check_val_every_n_epoch"]
        self.val_check_interval: int | None = checked["val_check_interval"]
        self.log_every_n_steps: int = checked["log_every_n_steps"]
        self.scheduler_interval: str = checked["scheduler_interval"]
        self.seed: int | None = checked["seed"]
        self.handle_signals: bool = checked["handle_signals"]
        self.dist_timeout: float = checked["dist_timeout"]
        self.dist_stall_timeout: float = checked["dist_stall_timeout"]
        self.dist_stop_check_interval: int | None = checked["dist_stop_check_interval"]
        self.use_distributed_sampler: bool = checked["use_distributed_sampler"]
        self.ddp_kwargs: dict[str, Any] = checked["ddp_kwargs"]
        self.overwrite: bool = checked["overwrite"]
        self.resume_on_restart: bool = checked["resume_on_restart"]
        self.num_sanity_val_steps: int = checked["num_sanity_val_steps"]
        self._sanity_steps = 0  # > 0 while the sanity pass runs
        self._optimization = Optimization(checked, self.device)
        if self.num_epochs == -1 and self.num_steps == -1:
            logger.info("Neither num_epochs nor num_steps is set: training runs until stopped.")

    # -- position and settings (vis4d's attributes) -----------------------------------------------

    @property
    def epoch(self) -> int:
        """The current epoch (0-based); the epoch a fit starts from before it starts."""
        return self._position.epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self._position.epoch = value

    @property
    def global_step(self) -> int:
        """Optimizer steps done so far (one per batch, one per accumulation window)."""
        return self._position.global_step

    @global_step.setter
    def global_step(self, value: int) -> None:
        self._position.global_step = value

    # -- public state -----------------------------------------------------------------------------

    @property
    def metrics(self) -> dict[str, float]:
        """The latest value of every logged key, as floats (read off the device on access)."""
        return self._logs.metrics

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
        """A fresh :class:`TrainerState` (vis4d's); hooks get it read-only (``_hook_state``)."""
        train = self.train_dataloader
        tests = list(self.test_dataloader) if self.test_dataloader is not None else None
        state = TrainerState(
            current_epoch=self._position.epoch,
            num_epochs=self.num_epochs,
            global_step=self._position.global_step,
            num_steps=self.num_steps,
            train_dataloader=train,
            num_train_batches=length(train),
            test_dataloader=tests,
            num_test_batches=[length(t) or 0 for t in tests] if tests is not None else None,
            stage=self._stage,
            trainer=self,
            train_module=self,
            train_engine="vis4d",  # vis4d code takes its own trainer's branch (YOLOX's)
        )
        if self._sanity_steps:
            state["sanity_check"] = True
        if metrics is not None:
            state["metrics"] = metrics  # type: ignore[typeddict-item]
        if optimizers is not None:
            state["optimizers"] = list(optimizers)
        if lr_schedulers is not None:
            state["lr_schedulers"] = list(lr_schedulers)
        return state

    # -- fit and test -----------------------------------------------------------------------------

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
            state, so the run continues as if it had never stopped. After torchrun restarted
            the workers (``--max-restarts``), ``None`` means the newest complete checkpoint
            of the output folder when there is one (``resume_on_restart``).
        :raises TrainingInterrupted: after a SIGINT/SIGTERM ended the run cleanly.
        """
        if self.train_dataloader is None:
            raise ConfigError("Trainer.fit needs a train_dataloader")
        if loss_module is None:
            raise ConfigError("Trainer.fit needs a loss_module: loss_module(outputs, batch)")
        if resume_from is None and self.resume_on_restart and distributed.restart_count() > 0:
            resume_from = AUTO_RESUME  # torchrun restarted the workers: continue the run
        if resume_from is None and self._model is None:  # this trainer's first fit
            check_fresh_output_dir(self.output_dir, overwrite=self.overwrite)
        self._setup_distributed()
        self._optimization.compile_model(model)
        self._model = model = self._strategy.wrap_model(model.to(self.device))
        self._optimizers = as_list(optimizers)
        self._strategy.bind_optimizers(model, self._optimizers)
        self._lr_schedulers = as_list(lr_schedulers)
        self._loss_module = loss_module
        self._latch.reset()
        self.resumed_from = None
        return self._fit_loop.run(model, loss_module, resume_from)

    def test(self, model: nn.Module, is_val: bool = False) -> dict[str, float]:
        """Run one evaluation pass over every test loader and return its prefixed metrics.

        Logs are named ``val/<key>`` when ``is_val`` (validation during fit) and
        ``test/<key>`` otherwise; ``on_validation_end`` receives them.
        """
        self._optimization.compile_model(model)
        return self._eval_loop.run(model, is_val=is_val)

    # -- what the parts share --------------------------------------------------------------

    @property
    def _latest(self) -> dict[str, Any]:
        return self._logs.latest

    def _merge_logs(self, prefix: str, hook: str, results: list[tuple[str, Any]]) -> dict[str, Any]:
        return self._logs.merge(prefix, hook, results)

    def _ensure_setup(self) -> None:
        """Call the ``setup`` hook, once per trainer (at its first fit or test)."""
        if not self._is_setup:
            self._is_setup = True
            ignored = self.pm.caller("setup").call_attributed()
            if ignored:
                self._logs.ignore("setup", ignored)

    def _seed_or_zero(self) -> int:
        return self.seed if self.seed is not None else 0

    def _describe_position(self) -> str:
        where = f"epoch {self.epoch}, step {self.global_step}"
        world = self._strategy.world_size
        return f"rank {distributed.get_rank()} of {world}, {where}" if world > 1 else where

    def _fail(self, model: nn.Module, exc: BaseException) -> None:
        """A fit failed with ``exc``: run ``on_exception`` (not after a second Ctrl-C, which
        exits at once) and, in a distributed run, tear the process group down."""
        if not (self._latch.signal is not None and isinstance(exc, KeyboardInterrupt)):
            report_exception(self.pm, self._hook_state, model, exc, fatal=True)
        self._abort_distributed(exc)

    def _tolerated(self, failure: HookFailure) -> None:
        if self._model is not None and failure.hook != "on_exception":
            report_exception(self.pm, self._hook_state, self._model, failure.exception, fatal=False)
