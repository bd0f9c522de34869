"""Checkpoint state and resume: what a checkpoint of a run holds, and restoring it.

A checkpoint (see :mod:`hookwise.checkpointing` for the format) holds everything a fit needs to
continue as if it had never stopped: the weights, optimizers and schedulers, the position
(:class:`~hookwise.trainer.position.Position`), the RNG states (every rank's, when every rank
saves together: :mod:`hookwise.trainer.rank_rng`), every plugin's state and the latest logged
values.
"""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from hookwise import checkpointing, sharded
from hookwise.distributed import unwrap_model
from hookwise.errors import HookwiseError, add_note
from hookwise.manifest import with_saved_state
from hookwise.manifest_changes import changes_text, manifest_changes_of, report_changes
from hookwise.plugins import PluginManager
from hookwise.saving import AsyncSaver, OnDone, SyncSaver
from hookwise.trainer.checkpoint_loading import (
    AUTO_RESUME as AUTO_RESUME,  # the trainer's facade takes it from here
)
from hookwise.trainer.checkpoint_loading import (
    find_last_checkpoint,
    load_for_resume,
    load_optimizers,
    load_plugin_states,
    load_weights,
    resume_file,
)
from hookwise.trainer.data_order import plan_continuation
from hookwise.trainer.position import Position
from hookwise.trainer.rank_rng import gather_rng_states, rng_for_rank

if TYPE_CHECKING:
    from hookwise.trainer.logs import LogMerger
    from hookwise.trainer.optimization import Optimization
    from hookwise.trainer.stopping import StopLatch
    from hookwise.trainer.strategy import Strategy

logger = logging.getLogger("hookwise")

#: The checkpoint a signal leaves, in the run folder's ``checkpoints/``.
INTERRUPT_CHECKPOINT = "interrupted.ckpt"

#: What ``save_checkpoint(path, weights_only=True)`` keeps of a checkpoint.
WEIGHTS_ONLY_KEYS = (
    "format",
    "format_version",
    "versions",
    "manifest",
    "epoch",
    "global_step",
    "seed",
    "model",
    "metrics",
)


def checkpoint_state(
    *,
    position: Position,
    seed: int | None,
    model: nn.Module,
    optimizers: Sequence[torch.optim.Optimizer],
    lr_schedulers: Sequence[Any],
    pm: PluginManager,
    metrics: Mapping[str, float],
    unmerged_logs: Mapping[str, Any] | None = None,
    manifest: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The complete checkpoint of a run (see :mod:`hookwise.checkpointing`), with the run's
    manifest (:mod:`hookwise.manifest`) when given; ``training``: the entries of
    :meth:`hookwise.trainer.optimization.Optimization.state`; ``unmerged_logs``: the logs
    of the step the checkpoint is written in, not merged yet
    (:meth:`hookwise.trainer.logs.LogMerger.unmerged`)."""
    states = pm.state_dict()
    extra = {"manifest": with_saved_state(manifest, states)} if manifest is not None else {}
    return {
        "format": checkpointing.FORMAT,
        "format_version": checkpointing.FORMAT_VERSION,
        "versions": checkpointing.versions(),
        **extra,
        **position.state(),
        "seed": seed,
        "model": unwrap_model(model).state_dict(),
        "optimizers": [o.state_dict() for o in optimizers],
        "lr_schedulers": [s.state_dict() for s in lr_schedulers if hasattr(s, "state_dict")],
        "rng": checkpointing.capture_rng_state(),
        "plugins": states,
        "plugin_state_versions": pm.state_versions(),
        "metrics": dict(metrics),
        **({} if unmerged_logs is None else {"unmerged_logs": dict(unmerged_logs)}),
        **(training or {}),
    }


def step_epoch_schedulers(
    lr_schedulers: Sequence[Any], epoch: int, *, resuming: bool = False
) -> None:
    """Step the per-epoch schedulers after epoch ``epoch`` (vis4d's wrappers get the epoch).

    ``resuming``: the optimizers stepped before the checkpoint was saved, which torch's
    "scheduler stepped before optimizer" check cannot see.
    """
    if resuming:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step")
            step_epoch_schedulers(lr_schedulers, epoch)
        return
    for scheduler in lr_schedulers:
        if hasattr(scheduler, "step_on_batch"):
            scheduler.step(epoch)
        else:
            scheduler.step()


class CheckpointControl:
    """The trainer's checkpoint methods: saving the run's state and resuming from it."""

    pm: PluginManager
    seed: int | None
    device: torch.device
    output_dir: Path
    scheduler_interval: str
    _position: Position
    _strategy: Strategy
    _latch: StopLatch
    _model: nn.Module | None
    _optimizers: list[torch.optim.Optimizer]
    _lr_schedulers: list[Any]
    _pending_rng: Mapping[str, Any] | None
    resumed_from: Path | None
    _logs: LogMerger
    _sync_saver: SyncSaver
    _async_saver: AsyncSaver
    _settings: dict[str, Any]
    _optimization: Optimization
    #: The resolved config of the run (``hookwise fit`` sets it), recorded in the manifest;
    #: ``None``: the manifest records the trainer's settings instead.
    run_config: Mapping[str, Any] | None = None

    def manifest(self) -> dict[str, Any]:
        """The run's manifest as it is now (:func:`hookwise.manifest.build_manifest`)."""
        from hookwise.manifest import build_manifest

        return build_manifest(
            self.pm, seed=self.seed, config=self.run_config, settings=self._settings
        )

    @property
    def sharded_checkpoints(self) -> bool:
        """Whether :meth:`save_checkpoint` writes a sharded folder, a collective call every
        rank makes (``strategy="fsdp"``, or ``checkpoint_format="sharded"`` under DDP, in a
        distributed run; known once ``fit`` has started)."""
        return self._strategy.sharded_checkpoints

    def checkpoint_state(self) -> dict[str, Any]:
        """The complete checkpoint of the run as it is now (see :mod:`hookwise.checkpointing`)."""
        if self._model is None:
            raise HookwiseError("there is nothing to checkpoint before fit or test has started")
        return checkpoint_state(
            position=self._position,
            seed=self.seed,
            model=self._model,
            optimizers=self._optimizers,
            lr_schedulers=self._lr_schedulers,
            pm=self.pm,
            metrics=self._logs.metrics,
            unmerged_logs=self._logs.unmerged(),
            manifest=self.manifest(),
            training=self._optimization.state(self._model, self._position.window_batches),
        )

    def save_checkpoint(
        self,
        path: str | os.PathLike[str],
        *,
        weights_only: bool = False,
        asynchronous: bool = False,
        on_done: OnDone | None = None,
        all_ranks: bool = False,
    ) -> Path:
        """Write the complete checkpoint to ``path`` atomically; return the path.

        ``weights_only`` writes the weights, the position, the seed and the metrics only (no
        optimizer, scheduler, RNG or plugin state): enough to load the model, not to resume.

        ``asynchronous`` copies the state to host memory now and writes it in the background
        (see :class:`hookwise.saving.AsyncSaver`): the step is blocked only for the copy. At
        most one write is in flight (a second save waits for the first); a failed write is
        raised, naming the file, at the trainer's next step, save or fit end; ``fit`` returns
        (or raises) only once the write has finished. A synchronous save first waits for the
        write in flight. ``on_done(path)`` runs once the file is durable (in the writer
        thread when asynchronous): apply deletes or move ``last`` there, not before.

        With sharded checkpoints (``strategy="fsdp"``, or ``checkpoint_format="sharded"``
        under ``ddp``) ``path`` becomes a folder every rank writes its part of
        (:func:`hookwise.sharded.save`): a collective call every rank makes at the same point,
        holding every rank's RNG states; it is synchronous. Otherwise, in a distributed run
        only rank 0 writes (every rank holds the same weights); the other ranks return the
        path without writing. By default the call then makes no collective call, so any rank
        may make it, in an exception handler too, and the file holds rank 0's RNG states
        only. ``all_ranks=True`` promises that every rank makes this call at this same
        point: each rank's RNG states are gathered to the file (``rng_per_rank``, one
        collective call, first thing), so a resume on as many processes continues every
        rank's randomness bit-exactly. A plugin that needs the file complete on every rank
        calls :func:`hookwise.distributed.synchronize` afterwards, at a point every rank
        reaches together (after a synchronous save).
        """
        sharded_save = self._strategy.sharded_checkpoints  # every rank writes its part
        per_rank = None  # a sharded save is made by every rank together: all_ranks holds
        if (all_ranks or sharded_save) and not weights_only and self._strategy.world_size > 1:
            per_rank = gather_rng_states(self._strategy)
        if self._strategy.rank != 0 and not sharded_save:
            return Path(path)
        state = self.checkpoint_state()
        if per_rank is not None:  # rank 0's entry is its states at the gather
            state["rng"], state["rng_per_rank"] = per_rank[0], per_rank
        if weights_only:
            state = {key: state[key] for key in WEIGHTS_ONLY_KEYS if key in state}
        if sharded_save:  # synchronous; on_done runs on rank 0
            self._async_saver.wait()
            model, parts = self._model, self._optimizers
            assert model is not None  # checkpoint_state() checked
            return sharded.save(Path(path), state, model, parts, weights_only, on_done)
        if asynchronous:
            return self._async_saver.save(state, Path(path), on_done)
        self._async_saver.wait()
        return self._sync_saver.save(state, Path(path), on_done)

    def wait_for_checkpoints(self) -> None:
        """Wait for the checkpoint written in the background, if any; raise its failure.

        :raises CheckpointError: the last background write failed (the message names the file).
        """
        self._async_saver.wait()
        self._raise_save_failure()

    def _raise_save_failure(self) -> None:
        """Raise the failure of a finished background write, once (the trainer's checks)."""
        failure = self._async_saver.take_failure()
        if failure is not None:
            raise failure

    def find_last_checkpoint(self) -> Path:
        """The newest complete checkpoint under the output folder, by the step recorded inside
        (``last.ckpt`` wins a tie; see :mod:`hookwise.last`)."""
        return find_last_checkpoint(self.output_dir)

    def resume(self, path: str | os.PathLike[str]) -> Path | None:
        """Restore a checkpoint written by :meth:`save_checkpoint` into the current fit (the
        file is then :attr:`resumed_from`)."""
        model = self._model
        if model is None:
            raise HookwiseError("resume() restores into a fit: use fit(..., resume_from=path)")
        file = resume_file(path, self.output_dir, self._strategy)
        if file is None:  # AUTO_RESUME and nothing to resume
            return None
        self.resumed_from = file
        folder = sharded.is_sharded(file)
        meta = file / sharded.META_FILE if folder else file
        data = load_for_resume(meta, self.device, self._strategy)
        strategy = self._strategy
        continuation = plan_continuation(data, strategy.world_size, file, rank=strategy.rank)
        changes = manifest_changes_of(data, self.manifest())
        try:
            restored = sharded.restore_training(file, data, model, self._optimizers)
            if not restored:  # one file into a model every rank holds whole
                load_weights(model, data["model"], file)
            load_optimizers(data, file, self._optimizers, self._lr_schedulers, restored=restored)
            load_plugin_states(self.pm, data, file)
            self._optimization.load(data, model, file)
        except Exception as exc:  # a CheckpointError, or a plugin's load_state_dict failing
            if changes:
                add_note(exc, changes_text(file, changes, error=True))
            raise
        if self._strategy.rank == 0:
            report_changes(file, changes)
        self.seed = data.get("seed", self.seed)
        if self._position.restore(data):  # the save came before the epoch's scheduler step
            if self.scheduler_interval == "epoch":
                step_epoch_schedulers(self._lr_schedulers, int(data["epoch"]), resuming=True)
            self._position.epoch_schedulers_stepped = True
        self._position.continuation = continuation
        self._logs.latest.update(data.get("metrics", {}))
        self._logs.resumed = data.get("unmerged_logs")  # merged after on_fit_start
        self._pending_rng = rng_for_rank(
            data, file, rank=self._strategy.rank, world_size=self._strategy.world_size
        )
        logger.info(
            "Resumed from %s: epoch %d, batch %d, step %d",
            file,
            self._position.epoch,
            self._position.resume_batch,
            self._position.global_step,
        )
        return file

    def _restore_pending_rng(self) -> None:
        """Restore the RNG states of the checkpoint resumed from (at the batch it was taken)."""
        if self._pending_rng is not None:
            checkpointing.restore_rng_state(self._pending_rng)
            self._pending_rng = None

    def _write_interrupt_checkpoint(self) -> Path | None:
        if self._strategy.sharded_checkpoints and not self._latch.agreed_signal:
            # the signal came after the ranks last met: a sharded save would wait for them
            logger.warning(
                "no interrupt checkpoint: the signal reached rank %d after the ranks last "
                "agreed, and a sharded checkpoint is written by every rank together",
                self._strategy.rank,
            )
            return None
        try:
            path = self.output_dir / "checkpoints" / INTERRUPT_CHECKPOINT
            # every rank agreed on the signal and comes here: each one's RNG states are saved
            return self.save_checkpoint(path, all_ranks=self._latch.agreed_signal)
        except Exception:
            logger.exception("could not write the interrupt checkpoint")
            return None

    def _drop_interrupt_checkpoint(self) -> None:
        """After a resumed fit that finished: remove the run folder's ``interrupted.ckpt``
        (the trainer's own file, written when a signal stopped an earlier fit of this run).
        The run went past it, and the folder then holds what an uninterrupted run's holds."""
        path = self.output_dir / "checkpoints" / INTERRUPT_CHECKPOINT
        folder = sharded.is_sharded(path)  # written by every rank (sharded checkpoints)
        if self.resumed_from is None or self._strategy.rank != 0 or not (folder or path.is_file()):
            return
        try:
            if folder:
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError as exc:
            logger.warning("could not remove %s, which the resumed run went past: %s", path, exc)
        else:
            logger.info("Removed %s: the resumed run went past it", path)
