"""The fit loop: epochs of training steps, with the training hooks, validation and stopping.

One fit::

    setup (once per process) -> resume -> on_fit_start
    per epoch: on_train_epoch_start
        per batch: on_train_batch_start -> forward, loss (autocast), backward
                   -> [at the end of an accumulation window: per optimizer, unscale and
                       clip -> on_before_optimizer_step -> optimizer.step()]
                   -> on_train_batch_end -> [step validation]
        on_train_epoch_end -> schedulers.step() -> [validation]
    on_fit_end

vis4d's known faults are fixed here: ``global_step`` counts optimizer steps (one per batch,
one per window with ``accumulate_grad_batches``; DESIGN.md decision 23), the
epoch-end hooks run when ``num_steps`` ends an epoch early, step validation runs when
``global_step % val_check_interval == 0`` and is logged under ``val/``, and schedulers step
after ``on_train_epoch_end``. Nothing here synchronises host and device per step.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from hookwise.errors import ConfigError
from hookwise.trainer._util import compute_loss, to_device
from hookwise.trainer.data_order import continue_epoch, epoch_order
from hookwise.trainer.failures import report_tolerated_failures
from hookwise.trainer.module_call import DirectForward, direct_forward, tracing
from hookwise.trainer.position import seed_everything, seed_loader
from hookwise.trainer.resume import step_epoch_schedulers
from hookwise.trainer.skipping import iterate_from
from hookwise.trainer.step_state import batch_state, per_step_schedulers, step_batch_schedulers
from hookwise.trainer.stopping import TrainingInterrupted, signal_handlers

if TYPE_CHECKING:
    from hookwise.trainer.facade import Trainer

logger = logging.getLogger("hookwise")

#: The hooks of every training step, in the order :meth:`FitLoop._prepare_epoch` returns them.
_STEP_HOOKS = ("on_train_batch_start", "on_train_batch_end", "on_before_optimizer_step")


class FitLoop:
    """Runs ``Trainer.fit`` for ``trainer``."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self._step_schedulers: list[Any] = []  # the per-step schedulers of this epoch
        self._batches: int | None = None  # this epoch's number of batches (None: the loader's)
        self._before_step: Any = None  # on_before_optimizer_step's caller (None: no impl)
        self._plain = False  # every training feature off
        self._single = True  # one process
        self._direct: DirectForward | None = None  # the loss module's forward, called directly

    def run(self, model: nn.Module, loss_module: Any, resume_from: Any) -> dict[str, float]:
        """Train until a limit is reached, a stop is agreed or a signal arrives."""
        trainer = self.trainer
        profiler = trainer.profiler
        if profiler is not None:
            profiler.begin("fit")
        first_step = trainer.global_step
        latch = trainer._latch
        trainer._stage = "train"  # validation passes set "val" and put it back
        with signal_handlers(latch, enabled=trainer.handle_signals):
            try:
                first_step = self._start(model, resume_from)
                while not self._done():
                    self.train_epoch(model, loss_module)
                    position = trainer._position
                    if not position.epoch_complete:  # a signal: the epoch stays open
                        break
                    # the position is now the start of the next epoch (for checkpoints taken
                    # after fit, or at its end): resuming there must not skip that epoch
                    position.epoch += 1
                    position.epoch_complete, position.batch_in_epoch = False, 0
                    position.order = None
                trainer.wait_for_checkpoints()  # a background write's failure fails the fit
            except BaseException as exc:
                self._fail(model, exc)
                raise
            checkpoint = self._end(model)
        if profiler is not None:
            profiler.end("fit", steps=trainer.global_step - first_step)
        if latch.signal is not None:
            raise TrainingInterrupted(latch.signal, checkpoint)
        if profiler is not None:
            profiler.log_report()
        return trainer.metrics

    def _end(self, model: nn.Module) -> Path | None:
        """The interrupt checkpoint (after a signal), ``on_fit_end``; return the checkpoint.
        No background write outlives this, even when a hook raises; one that failed (started
        in ``on_fit_end``) fails the fit."""
        trainer = self.trainer
        try:
            checkpoint = trainer._write_interrupt_checkpoint() if trainer._latch.signal else None
            if checkpoint is None and trainer._latch.signal is None:
                trainer._drop_interrupt_checkpoint()  # a resumed run went past it
            ignored = trainer.pm.caller("on_fit_end").call_attributed(
                trainer_state=trainer._hook_state(), model=model
            )
            if ignored:
                trainer._logs.ignore("on_fit_end", ignored)
            report_tolerated_failures(trainer.pm)
            trainer.close_writer()  # vis4d's writer, if a callback used it
        finally:
            trainer._async_saver.wait()
        try:
            trainer.wait_for_checkpoints()
        except BaseException as exc:
            self._fail(model, exc)
            raise
        trainer._async_saver.release()
        return checkpoint

    def _fail(self, model: nn.Module, exc: BaseException) -> None:
        """The fit failed: ``on_exception`` (an emergency save waits for the write in flight),
        then wait for any write still in flight, so that none outlives ``fit``; its own failure
        is logged (the first error is the one raised)."""
        trainer = self.trainer
        try:
            trainer._fail(model, exc)
        finally:
            trainer._async_saver.release()
            failure = trainer._async_saver.take_failure()
            if failure is not None and failure is not exc:
                logger.error("%s", failure)

    def _start(self, model: nn.Module, resume_from: Any) -> int:
        """Setup, resume or seed, ``on_fit_start``; return the first step of this fit."""
        trainer = self.trainer
        trainer._ensure_setup()
        trainer._position.world_size = trainer._strategy.world_size
        resumed = trainer.resume(resume_from) if resume_from is not None else None
        if resumed is None and trainer.seed is not None:
            seed_everything(trainer.seed)
        if trainer.seed is None:
            seed = int(torch.initial_seed() & 0x7FFFFFFF)
            trainer.seed = trainer._strategy.broadcast(seed)
        ignored = trainer.pm.caller("on_fit_start").call_attributed(
            trainer_state=trainer._hook_state(), model=model
        )
        if ignored:
            trainer._logs.ignore("on_fit_start", ignored)
        # a step checkpoint holds its step's logs, which the killed process merged after it
        trainer._logs.merge_resumed("train/")
        if resume_from is None:
            trainer._eval_loop.sanity_pass(model)
        return trainer.global_step

    def _done(self) -> bool:
        trainer = self.trainer
        if trainer._stopping(sync=True):
            return True
        if trainer.num_steps != -1 and trainer.global_step >= trainer.num_steps:
            logger.info("Trainer.fit stopped: num_steps=%d reached.", trainer.num_steps)
            return True
        if trainer.num_epochs != -1 and trainer.epoch >= trainer.num_epochs:
            logger.info("Trainer.fit stopped: num_epochs=%d reached.", trainer.num_epochs)
            return True
        return False

    # -- one epoch --------------------------------------------------------------------------------

    def train_epoch(self, model: nn.Module, loss_module: Any) -> None:
        """One training epoch (from the resume batch, after a resume), then its end hooks,
        the per-epoch schedulers and the epoch's validation."""
        trainer = self.trainer
        position = trainer._position
        if trainer.train_dataloader is None:  # a plugin may replace it between epochs
            raise ConfigError("Trainer.fit needs a train_dataloader")
        loader = trainer._strategy.shard_train_loader(
            trainer.train_dataloader, seed=trainer._seed_or_zero()
        )
        trainer.train_dataloader = loader
        start, position.resume_batch = position.resume_batch, 0
        position.epoch_complete = position.epoch_schedulers_stepped = False
        position.batch_in_epoch = start
        if start == 0:
            trainer._restore_pending_rng()
        trainer._raise_save_failure()
        ignored = trainer.pm.caller("on_train_epoch_start").call_attributed(
            trainer_state=trainer._hook_state(), model=model, loss_module=loss_module
        )
        if ignored:
            trainer._logs.ignore("on_train_epoch_start", ignored)
        model.train()
        seed_loader(loader, trainer._seed_or_zero(), position.epoch, trainer._strategy.rank)
        iterator, batches = self._epoch_batches(loader, start)
        if start:
            trainer._restore_pending_rng()
        batch_end = trainer.pm.caller("on_train_batch_end")
        batch_end.partial = None  # what a call that raised left (in an earlier fit)
        # a checkpoint written inside the hook saves the logs it returned so far
        trainer._logs.in_progress = ("on_train_batch_end", batch_end)
        self._batches = batches
        self.run_batches(model, loss_module, iterator, start)
        if trainer._interrupted():
            # A signal ends the run inside the epoch: no epoch-end hooks, scheduler step or
            # validation, so resuming continues at the next batch as if nothing had happened.
            return
        self._end_epoch(model, loss_module)

    def _epoch_batches(self, loader: Any, start: int) -> tuple[Iterator[Any], int | None]:
        """The epoch's batches from batch ``start`` on, and its number of batches (``None``:
        the loader's length). A resume on another number of processes continues the saved
        epoch's order (see :mod:`~hookwise.trainer.data_order`); any other epoch skips its
        resumed batches at the sampler (not loading them)."""
        trainer = self.trainer
        position, strategy = trainer._position, trainer._strategy
        saved, position.continuation, position.resumed = position.continuation, None, None
        if saved is None:
            position.order = epoch_order(loader, strategy.world_size)
            return iterate_from(loader, start), None
        file = trainer.resumed_from or Path("the checkpoint")
        continued, position.order = continue_epoch(
            loader, saved, strategy.world_size, strategy.rank, start, file
        )
        seed_loader(continued, trainer._seed_or_zero(), position.epoch, strategy.rank)
        return iter(continued), start + len(continued)

    def _end_epoch(self, model: nn.Module, loss_module: Any) -> None:
        trainer = self.trainer
        position = trainer._position
        position.epoch_complete = True
        results = trainer.pm.caller("on_train_epoch_end").call_attributed(
            trainer_state=trainer._hook_state(
                optimizers=trainer._optimizers, lr_schedulers=trainer._lr_schedulers
            ),
            model=model,
            loss_module=loss_module,
        )
        if results:
            trainer._logs.merge("train/", "on_train_epoch_end", results)
        self.step_epoch_schedulers(position.epoch)
        # A signal that arrived in the epoch's end hooks still gets the epoch's validation
        # (as one arriving during validation does): the epoch is complete in the checkpoint,
        # so a resume would never run it, and its rows and epoch checkpoint would be lost.
        if trainer.validates_after_epoch(position.epoch):
            trainer.test(model, is_val=True)

    def step_epoch_schedulers(self, epoch: int) -> None:
        """Step the per-epoch schedulers for ``epoch`` (with ``scheduler_interval="epoch"``)."""
        trainer = self.trainer
        if trainer.scheduler_interval == "epoch":
            step_epoch_schedulers(trainer._lr_schedulers, epoch)
        trainer._position.epoch_schedulers_stepped = True

    # -- the steps --------------------------------------------------------------------------------

    def run_batches(self, model: nn.Module, loss_module: Any, iterator: Any, start: int) -> None:
        """The training batches of one epoch: the hot path, one hook caller call per hook. An
        optimizer step ends each accumulation window and the epoch (see :func:`batch_state`).
        What does not change within an epoch is looked up once, before the first batch."""
        trainer = self.trainer
        position, logs, optimizers = trainer._position, trainer._logs, trainer._optimizers
        device, move = trainer.device, trainer.device.type != "cpu"
        batch_start, batch_end = self._prepare_epoch(loss_module)
        call_start, call_end = batch_start is not None, batch_end is not None
        # whether a hook receives the loss metrics (else no read-only copy is made of them)
        shared = call_end or self._before_step is not None
        # one get_state() per epoch (it measures loaders); each batch hook call gets a read-only
        # copy (DESIGN decision 25), shared by its implementations
        epoch_state = trainer.get_state()
        last = (self._epoch_length(epoch_state) or 0) - 1  # the epoch's last batch (-1: unknown)
        accumulate, step = trainer._optimization.accumulate, position.global_step
        for batch_idx, batch in enumerate(iterator, start):
            window = position.window_batches
            if not window:
                for optimizer in optimizers:
                    optimizer.zero_grad(set_to_none=True)
            if move:
                batch = to_device(batch, device)
            if call_start:
                state = batch_state(epoch_state, step, inside=window > 0)
                ignored = batch_start.call_args(state, model, loss_module, batch, batch_idx)
                if ignored:  # what it returned: one warning per plugin
                    logs.ignore("on_train_batch_start", ignored)
            outputs, metrics = self._forward_backward(model, loss_module, batch, shared)
            position.window_batches = window = window + 1
            position.batch_in_epoch = batch_idx + 1
            stepped = window >= accumulate or batch_idx == last
            if stepped:
                step = self._optimizer_step(model, epoch_state, metrics)
            if call_end:
                state = batch_state(epoch_state, step, inside=not stepped, metrics=metrics)
                results = batch_end.call_args(state, model, loss_module, outputs, batch, batch_idx)
                if results:
                    logs.merge("train/", "on_train_batch_end", results)
            if stepped and self._after_step(model, step):
                return
        if position.window_batches:  # a loader without a length: its last window steps here
            self._after_step(model, self._optimizer_step(model, epoch_state, None))

    def _epoch_length(self, epoch_state: Any) -> int | None:
        return self._batches if self._batches is not None else epoch_state["num_train_batches"]

    def _prepare_epoch(self, loss_module: Any) -> tuple[Any, Any]:
        """What the steps need, looked up once per epoch; return the callers of the batch start
        and end hooks (``None`` for a hook nobody implements)."""
        trainer = self.trainer
        callers = [trainer.pm.caller(hook) for hook in _STEP_HOOKS]
        start, end, before = (c if c.calls or c.wrappers else None for c in callers)
        self._before_step = before
        self._plain = trainer._optimization.plain
        self._step_schedulers = per_step_schedulers(
            trainer._lr_schedulers, trainer.scheduler_interval
        )
        self._single = trainer._strategy.world_size == 1
        self._direct = direct_forward(loss_module)
        return start, end

    def _forward_backward(
        self, model: nn.Module, loss_module: Any, batch: Any, shared: bool
    ) -> Any:
        """Forward and loss (under the precision's autocast), then backward; return the
        outputs and the loss metrics (read-only when ``shared``: see ``compute_loss``). The
        loss module's ``forward`` is called directly when its call would run nothing else
        (:mod:`hookwise.trainer.module_call`)."""
        trainer = self.trainer
        connector, training = trainer.train_data_connector, trainer._optimization
        direct = self._direct
        if direct is not None and not any(direct.hooks) and not tracing():
            loss_module = direct.shared if shared and direct.shared is not None else direct.forward
        if self._plain:  # no autocast context, no scaling: nothing between the user's calls
            outputs = model(**connector(batch)) if connector is not None else model(batch)
            total, metrics = compute_loss(loss_module, outputs, batch, shared=shared)
            total.backward()  # type: ignore[no-untyped-call]
            return outputs, metrics
        with training.autocast():
            outputs = model(**connector(batch)) if connector is not None else model(batch)
            total, metrics = compute_loss(loss_module, outputs, batch, shared=shared)
        training.backward(total)
        return outputs, metrics

    def _optimizer_step(self, model: nn.Module, epoch_state: Any, metrics: Any) -> int:
        """The step that ends an accumulation window: for every optimizer, unscale and clip
        its gradients, ``on_before_optimizer_step``, its ``step()``; then the per-step
        schedulers. Return the new ``global_step``."""
        trainer = self.trainer
        training, position, plain = trainer._optimization, trainer._position, self._plain
        caller = self._before_step
        # one read-only state for every optimizer's call (DESIGN decision 25)
        state = (
            batch_state(epoch_state, position.global_step, inside=False, metrics=metrics)
            if caller is not None
            else None
        )
        for optimizer in trainer._optimizers:
            if not plain:
                training.unscale_and_clip(optimizer)
            if caller is not None:
                ignored = caller.call_args(state, model, optimizer)
                if ignored:
                    trainer._logs.ignore("on_before_optimizer_step", ignored)
            if plain:
                optimizer.step()
            else:
                training.step(optimizer)
        if not plain:
            training.update()
        position.window_batches = 0
        position.global_step = step = position.global_step + 1
        if self._step_schedulers:
            step_batch_schedulers(self._step_schedulers, step)
        return step

    def _after_step(self, model: nn.Module, step: int) -> bool:
        """Validate when ``val_check_interval`` says so; return whether the epoch ends here
        (a stop agreed, or ``num_steps`` reached)."""
        trainer = self.trainer
        if trainer._async_saver.failed:  # a background write that failed since the last step
            trainer._raise_save_failure()
        interval = trainer.val_check_interval
        if interval is not None and trainer.test_dataloader and step % interval == 0:
            trainer.test(model, is_val=True)
            model.train()
        if self._single:  # one process: a stop or a signal on this rank stops it
            latch = trainer._latch
            if latch.request is not None or latch.signal is not None:
                return True
        elif trainer._stopping(sync=trainer._stop_check_due()):
            return True
        return trainer.num_steps != -1 and step >= trainer.num_steps
