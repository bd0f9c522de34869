"""``CheckpointCallback``: decides when to save, what the files are called and which to keep.

The checkpoint itself (its content, format version and atomic write) belongs to the core:
the plugin calls :meth:`hookwise.Trainer.save_checkpoint`, so every file it writes is complete
(model, optimizers, schedulers, position inside the epoch, RNG states, every plugin's state)
and ``Trainer.fit(..., resume_from=path)`` continues the run exactly.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hookwise import distributed
from hookwise.callback import Callback, default_output_folder
from hookwise.checkpointing import atomic_save
from hookwise.errors import CheckpointError, ConfigError
from hookwise.hookspecs import hookimpl
from hookwise.monitoring import monitored_value, validation_key
from hookwise.saving import BackgroundWriteError

from hookwise_checkpoint._files import (
    BEST,
    EMERGENCY,
    LAST,
    best_file_name,
    checkpoint_subfolder,
    delete_quietly,
    finish_interrupted_save,
    is_own_file_name,
    link_or_copy,
    periodic_file_name,
    remove_temporaries,
    same_checkpoint,
)

if TYPE_CHECKING:
    from hookwise.connectors import CallbackConnector
    from hookwise.hookspecs import MetricLogs
    from hookwise.plugins import PluginManager
    from hookwise.state import TrainerState
    from torch import nn

logger = logging.getLogger("hookwise.checkpoint")

#: Version of the plugin's own entry in the checkpoint (``plugins["checkpoint"]``).
STATE_VERSION = 1
_MODES = ("min", "max")


def _check_int(plugin: str, name: str, value: Any, minimum: int, *, none_ok: bool = False) -> None:
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        allowed = f"an integer >= {minimum}" + (" or None" if none_ok else "")
        raise ConfigError(f"{plugin}: {name} must be {allowed}, got {value!r}")


class CheckpointCallback(Callback):
    """Saves complete checkpoints of the run and keeps the ones you ask for.

    Files go to ``{save_prefix}/checkpoints/``:

    - ``epoch={e}-step={s}.ckpt`` every ``checkpoint_period`` epochs (``epoch_based=True``) or
      steps (``epoch_based=False``); ``keep_last`` limits how many are kept.
    - ``last.ckpt``: the newest checkpoint written (``save_last``).
    - ``best-epoch={e}-step={s}-{metric}={value}.ckpt``: the ``save_top_k`` best by
      ``monitor``, decided after every validation pass; ``best.ckpt`` is the best of them.
    - ``emergency.ckpt``: the state when a fatal error ended the run (``save_on_exception``).

    An epoch checkpoint is written after that epoch's validation (in ``on_validation_end``),
    or at ``on_train_epoch_end`` in epochs without validation, so it holds the state that
    validation updated (best scores, early stopping) and a resumed run starts at the next
    epoch. A step checkpoint is written in ``on_train_batch_end`` and is just as complete:
    resuming from it skips the batches that epoch already used. The plugin's hooks run last
    (``trylast``), so the other plugins' state for that step is in the file; they name the
    plugins they rely on (``after=["ema", "early_stopping"]``: the step's average, the
    training weights back, early stopping's count of this pass). Each name of one
    checkpoint is a hard link to the same file where the file system allows (a copy where it
    does not), and every file appears atomically. Only rank 0 writes; every rank takes part
    in the save (``save_checkpoint(..., all_ranks=True)``), so the file holds each rank's RNG
    states and a resume on as many processes is bit-exact; the other ranks then wait at a
    barrier until the file is complete (with ``async_save``, until the write has started).
    With sharded checkpoints (``strategy="fsdp"``, or ``checkpoint_format="sharded"`` under
    DDP) each checkpoint is a folder that every rank writes its part of (the trainer's
    collective save, always synchronous); once it is complete rank 0 alone gives it its other
    names (a new folder of hard links to its files) and removes the folders no longer kept.

    Resume with ``Trainer.fit(..., resume_from=path)`` or ``resume_from="last"``; the plugin's
    own state (the files it keeps, the best scores) is in the checkpoint, so a resumed run goes
    on keeping and deleting the right files.

    :param save_prefix: the folder that gets ``checkpoints/``; default: the trainer's
        ``output_dir``.
    :param checkpoint_period: save every this many epochs (epoch mode) or steps (step mode).
    :param keep_last: how many ``epoch=..-step=..`` files to keep (the newest; default 3, a
        few, so a long run does not fill the disk); ``None`` keeps all, ``0`` writes only
        ``last.ckpt``.
    :param monitor: the validation metric that ranks checkpoints, e.g. ``"val/loss"`` (a name
        without ``val/`` gets it). ``None``: no best checkpoints. A validation pass without
        this key is an error that lists the keys it has.
    :param mode: ``"min"`` (lower is better) or ``"max"``.
    :param save_top_k: how many best checkpoints to keep (``-1``: all that were ever best
        of their time, ``0``: none). Needs ``monitor`` when more than 1.
    :param save_last: keep ``last.ckpt`` pointing at the newest checkpoint.
    :param save_on_exception: write ``emergency.ckpt`` when a fatal error ends the run, with
        no collective call (rank 0 writes it when the error reaches rank 0). Not with sharded
        checkpoints in a distributed run: their save needs every rank (a warning says so).
    :param epoch_based: save by epochs (``True``, vis4d's default) or by steps.
    :param async_save: write in the background (:meth:`hookwise.Trainer.save_checkpoint`
        with ``asynchronous=True``): the step is blocked only while the state is copied to
        host memory; the links (``last.ckpt``, ``best.ckpt``) and the deletes of files no
        longer kept happen once the new file is durable. A failed write is raised, naming the
        file, at the trainer's next step or at fit end (not at the save); ``fit`` returns only
        after the write finished. Costs host memory for one copy of the state.
    :param train_connector: accepted as in vis4d; unused.
    :param test_connector: accepted as in vis4d; unused.
    """

    #: With sharded checkpoints (``strategy="fsdp"``, ``checkpoint_format="sharded"``) every
    #: rank makes the (collective) save; rank 0 alone then links, keeps and deletes folders.
    supports_fsdp = True
    supports_sharded_checkpoints = True

    def __init__(
        self,
        *,
        save_prefix: str | os.PathLike[str] | None = None,
        checkpoint_period: int = 1,
        keep_last: int | None = 3,
        monitor: str | None = None,
        mode: str = "min",
        save_top_k: int = 1,
        save_last: bool = True,
        save_on_exception: bool = True,
        epoch_based: bool = True,
        async_save: bool = False,
        train_connector: CallbackConnector | Mapping[str, Any] | None = None,
        test_connector: CallbackConnector | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            epoch_based=epoch_based, train_connector=train_connector, test_connector=test_connector
        )
        name = "checkpoint"
        _check_int(name, "checkpoint_period", checkpoint_period, 1)
        _check_int(name, "keep_last", keep_last, 0, none_ok=True)
        _check_int(name, "save_top_k", save_top_k, -1)
        if mode not in _MODES:
            raise ConfigError(f"{name}: mode must be 'min' or 'max', got {mode!r}")
        if monitor is None and save_top_k not in (0, 1):
            raise ConfigError(
                f"{name}: save_top_k={save_top_k} keeps the best checkpoints by a metric; "
                f"set monitor (e.g. monitor='val/loss') or leave save_top_k at 1"
            )
        if save_prefix is not None and not isinstance(save_prefix, (str, os.PathLike)):
            raise ConfigError(f"{name}: save_prefix must be a path, got {save_prefix!r}")
        self.save_prefix = save_prefix
        self.checkpoint_period = checkpoint_period
        self.keep_last = keep_last
        self.monitor = validation_key(monitor, name) if monitor is not None else None
        self.mode = mode
        self.save_top_k = save_top_k
        self.save_last = bool(save_last)
        self.save_on_exception = bool(save_on_exception)
        if not isinstance(async_save, bool):
            raise ConfigError(f"{name}: async_save must be True or False, got {async_save!r}")
        self.async_save = async_save
        #: The checkpoint folder, ``{save_prefix}/checkpoints`` (known at fit start when
        #: ``save_prefix`` is not given).
        self.output_dir: Path | None = (
            Path(save_prefix) / "checkpoints" if save_prefix is not None else None
        )
        self._kept: list[str] = []
        self._best: list[dict[str, Any]] = []
        #: The files this object wrote (absolute paths): files it may delete.
        self._written: set[str] = set()
        #: The folder the resumed state's files were listed in (its files are deletable only
        #: when that is this run's folder).
        self._inherited_folder: str | None = None
        #: While the emergency checkpoint is written: the processes of the run and the rank
        #: writing (recorded in it, so that ``last`` can tell a rank-0-only file).
        self._emergency: dict[str, int] | None = None
        self._pending_epoch: int | None = None
        #: While a checkpoint is written: its names and the files dropped after it (saved in
        #: it, so that a resume from it finishes a save the process was killed in).
        self._saving: dict[str, list[str]] | None = None
        #: From the resumed checkpoint: the save it was written by, to finish.
        self._resumed_save: dict[str, list[str]] | None = None
        self._in_fit = False
        self._write_failed = False
        #: With ``async_save``, while a write is not yet durable: what was kept before it, to
        #: go back to if it fails.
        self._unconfirmed: tuple[list[str], list[dict[str, Any]]] | None = None
        self._nan_warned = False

    # -- what the plugin keeps ------------------------------------------------------------------

    @property
    def kept_checkpoints(self) -> list[Path]:
        """The periodic checkpoints kept, oldest first."""
        return [self._folder() / name for name in self._kept]

    @property
    def best_checkpoints(self) -> list[tuple[float, Path]]:
        """``(score, path)`` of the best checkpoints kept, best first."""
        return [(float(b["score"]), self._folder() / str(b["file"])) for b in self._best]

    @property
    def best_score(self) -> float | None:
        """The best monitored value seen so far (``None`` before the first validation)."""
        return float(self._best[0]["score"]) if self._best else None

    def _folder(self) -> Path:
        if self.output_dir is None:
            raise ConfigError(
                "checkpoint: the checkpoint folder is not known yet (it is the trainer's "
                "output_dir, known at fit start); pass save_prefix=... to set it"
            )
        return self.output_dir

    def _resolve_folder(self, trainer_state: TrainerState) -> Path:
        if self.output_dir is None:
            self.output_dir = default_output_folder(
                trainer_state,
                checkpoint_subfolder(_registered_name(trainer_state, self)),
                plugin="checkpoint",
                setting="saving checkpoints",
            )
        return self.output_dir

    def _check_folder_is_own(self, trainer_state: TrainerState, folder: Path) -> None:
        """Two checkpoint plugins of one trainer that would keep files in one folder (both
        given the same ``save_prefix``) are an error: each would delete files the other
        lists."""
        for other, name in _other_checkpoint_plugins(trainer_state, self):
            theirs = (
                Path(other.save_prefix) / "checkpoints"
                if other.save_prefix is not None
                else default_output_folder(
                    trainer_state, checkpoint_subfolder(name), plugin=name, setting="saving"
                )
            )
            if os.path.abspath(theirs) == os.path.abspath(folder):
                mine = _registered_name(trainer_state, self) or "checkpoint"
                raise ConfigError(
                    f"plugins {mine!r} and {name!r} would both keep and delete checkpoints in "
                    f"{str(folder)!r}; give one of them another save_prefix (or leave "
                    f"save_prefix out: each instance then gets its own folder, "
                    f"checkpoints@NAME for checkpoint@NAME)"
                )

    # -- hooks ----------------------------------------------------------------------------------

    def setup(self) -> None:
        """Agree on the checkpoint folder across ranks (rank 0's wins)."""
        if self.output_dir is not None:
            self.output_dir = Path(distributed.broadcast(str(self.output_dir)))

    def on_fit_start(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Resolve the checkpoint folder (rank 0's, on every rank): ``save_prefix``'s, or the
        output folder of the trainer running this fit."""
        if self.save_prefix is None:
            self.output_dir = None  # the plugin object may be reused by another trainer
        folder = self._resolve_folder(trainer_state)
        self._check_folder_is_own(trainer_state, folder)
        self.output_dir = Path(distributed.broadcast(str(folder)))
        resumed_save, self._resumed_save = self._resumed_save, None
        if self._inherited_folder == os.path.abspath(folder) and distributed.is_rank_zero():
            self._tidy_after_kill(trainer_state, folder, resumed_save)
        self._in_fit = True
        self._pending_epoch = None
        self._write_failed = False

    def _tidy_after_kill(
        self, trainer_state: TrainerState, folder: Path, save: dict[str, list[str]] | None
    ) -> None:
        """A fit resumed in this plugin's own folder: remove what writes killed half way left
        (temporary files), and when it resumed from the first file of a save, finish that
        save (its other names, the files it dropped), so that the folder holds what it would
        hold had the process not been killed (``last.ckpt`` current, ``keep_last`` kept)."""
        done = [f"removed {name}" for name in remove_temporaries(folder)]
        trainer = trainer_state.get("trainer")
        resumed = getattr(trainer, "resumed_from", None)
        if save is not None and resumed is not None and save["names"]:
            primary = folder / save["names"][0]
            if primary.exists() and same_checkpoint(primary, Path(resumed)):
                done += finish_interrupted_save(folder, save["names"], save["doomed"])
        if done:
            logger.info("checkpoint: finished what the interrupted run left: %s", ", ".join(done))

    def on_fit_end(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Forget the fit's pending work."""
        self._in_fit = False
        self._pending_epoch = None

    def on_train_epoch_start(
        self, trainer_state: TrainerState, model: nn.Module, loss_module: Any
    ) -> None:
        """A new epoch has no pending epoch checkpoint."""
        self._pending_epoch = None

    @hookimpl(trylast=True, after=["ema"], every_n_steps="checkpoint_period")
    def on_train_batch_end(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> MetricLogs | None:
        """Step mode: save every ``checkpoint_period`` steps (the trigger's steps: the trainer
        calls this only then)."""
        if not self.epoch_based:
            self._save(trainer_state, model, periodic=True)
        return None

    @hookimpl(trylast=True, every_n_epochs="checkpoint_period")
    def on_train_epoch_end(
        self, trainer_state: TrainerState, model: nn.Module, loss_module: Any
    ) -> MetricLogs | None:
        """Epoch mode, every ``checkpoint_period`` epochs (the trigger's epochs): save now if
        this epoch has no validation, else after it."""
        if not self.epoch_based:
            return None
        epoch = trainer_state["current_epoch"]
        trainer = trainer_state.get("trainer")
        if trainer is not None and trainer.validates_after_epoch(epoch):
            self._pending_epoch = epoch
        else:
            self._save(trainer_state, model, periodic=True)
        return None

    @hookimpl(trylast=True, after=["ema", "early_stopping"])
    def on_validation_end(
        self, trainer_state: TrainerState, model: nn.Module, metrics: Mapping[str, float]
    ) -> None:
        """Rank the pass by ``monitor``; write the epoch checkpoint that waited for it."""
        if not (self._in_fit or any(k.startswith("val/") for k in metrics)):
            return  # a standalone test pass: nothing to save
        if trainer_state.get("sanity_check"):  # before training: check the key, save nothing
            if self.monitor is not None:
                monitored_value(metrics, self.monitor, "checkpoint")
            return
        score: float | None = None
        if self.monitor is not None:
            value = monitored_value(metrics, self.monitor, "checkpoint")
            if math.isnan(value):
                if not self._nan_warned:
                    self._nan_warned = True
                    logger.warning(
                        "checkpoint: %s is NaN at epoch %d, step %d; a NaN never ranks as best",
                        self.monitor,
                        trainer_state["current_epoch"],
                        trainer_state["global_step"],
                    )
            elif self._ranks(value):
                score = value
        epoch = trainer_state["current_epoch"]
        periodic = self._pending_epoch is not None and self._pending_epoch == epoch
        self._pending_epoch = None
        if periodic or score is not None:
            self._save(trainer_state, model, periodic=periodic, score=score)

    @hookimpl(trylast=True, after=["ema"])
    def on_exception(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        exception: BaseException,
        fatal: bool,
    ) -> None:
        """Write ``emergency.ckpt`` when a fatal error ends the fit (no collective call).

        It runs after the other plugins' ``on_exception`` (``trylast``), so that one that
        swapped weights for evaluation (EMA) has put the training weights back.

        The file holds the state at the failure, for inspection or to resume after fixing the
        cause (``resume_from="last"`` picks it, being the newest, in a single-process run). A
        failure inside a step may leave that step half done, so a resume from it is not
        guaranteed bit-exact; the periodic checkpoints are. In a distributed run only rank 0
        writes it, with no collective call, so it does not hold the other ranks' state:
        ``last`` passes over it (with a warning) and takes the newest clean checkpoint.
        """
        if isinstance(exception, BackgroundWriteError) and self._unconfirmed is not None:
            self._kept, self._best = self._unconfirmed  # the failed file is not kept
            self._unconfirmed = None
        if not (fatal and self.save_on_exception and self._in_fit) or self._write_failed:
            return
        trainer = trainer_state.get("trainer")
        if trainer is None:
            return
        if getattr(trainer, "sharded_checkpoints", False):
            logger.warning(
                "checkpoint: no emergency checkpoint: a sharded checkpoint is written by every "
                "rank together, and the others are not here; resume from the newest checkpoint"
            )
            return
        self._emergency = {"world_size": int(trainer.world_size), "rank": int(trainer.rank)}
        try:
            path = trainer.save_checkpoint(self._resolve_folder(trainer_state) / EMERGENCY)
        except Exception:
            logger.exception("checkpoint: could not write the emergency checkpoint")
            return
        finally:
            self._emergency = None
        logger.warning(
            "checkpoint: the run failed at epoch %d, step %d (%s); its state is saved in %s",
            trainer_state["current_epoch"],
            trainer_state["global_step"],
            type(exception).__name__,
            path,
        )

    # -- saving ---------------------------------------------------------------------------------

    def _ranks(self, value: float) -> bool:
        """Whether ``value`` enters the top ``save_top_k``."""
        if self.save_top_k == 0:
            return False
        if self.save_top_k == -1:
            best = self.best_score
            return best is None or self._better(value, best)
        if len(self._best) < self.save_top_k:
            return True
        return self._better(value, float(self._best[-1]["score"]))

    def _better(self, value: float, than: float) -> bool:
        return value < than if self.mode == "min" else value > than

    def _save(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        *,
        periodic: bool,
        score: float | None = None,
    ) -> None:
        """Update what is kept, write one checkpoint under every name it gets, drop the rest.

        The bookkeeping comes first, so the plugin state stored in the new file already lists
        it; if the write fails, the bookkeeping is rolled back.
        """
        folder = self._resolve_folder(trainer_state)
        epoch = trainer_state["current_epoch"]
        step = trainer_state["global_step"]
        kept_before = list(self._kept)
        best_before = [dict(entry) for entry in self._best]
        names: list[str] = []
        doomed: list[str] = []
        if periodic and self.keep_last != 0:
            name = periodic_file_name(epoch, step)
            if name in self._kept:
                self._kept.remove(name)
            self._kept.append(name)
            names.append(name)
            if self.keep_last is not None and len(self._kept) > self.keep_last:
                excess = len(self._kept) - self.keep_last
                doomed += self._kept[:excess]
                del self._kept[:excess]
        if score is not None and self.monitor is not None:
            name = best_file_name(epoch, step, self.monitor, score)
            self._best = [entry for entry in self._best if entry["file"] != name]
            self._best.append({"score": score, "file": name, "epoch": epoch, "step": step})
            self._best.sort(key=lambda entry: float(entry["score"]), reverse=self.mode == "max")
            if self.save_top_k > 0 and len(self._best) > self.save_top_k:
                doomed += [str(entry["file"]) for entry in self._best[self.save_top_k :]]
                del self._best[self.save_top_k :]
            names.append(name)
            if self._best[0]["file"] == name:
                names.append(BEST)
        if self.save_last:
            names.append(LAST)
        if not names:
            return
        keep = set(names) | set(self._kept) | {str(entry["file"]) for entry in self._best}
        self._saving = {"names": list(names), "doomed": [d for d in doomed if d not in keep]}
        try:
            if distributed.is_rank_zero():
                doomed = [name for name in doomed if name not in keep]
                self._write(trainer_state, model, folder, names, doomed, (kept_before, best_before))
            elif (trainer := trainer_state.get("trainer")) is not None:
                # every rank saves together: the others' RNG states go into rank 0's file
                trainer.save_checkpoint(folder / names[0], all_ranks=True)
        except BaseException as exc:
            self._kept, self._best = kept_before, best_before
            # an earlier background write failed, not this one (never started): the
            # emergency checkpoint is still tried, as when the trainer reports that failure
            self._write_failed = not isinstance(exc, BackgroundWriteError)
            raise
        finally:
            self._saving = None
            distributed.synchronize()

    def _delete(self, folder: Path, name: str) -> None:
        """Delete ``folder/name`` only when the plugin can tell it wrote it there: a name of
        its own pattern, written by this object, or listed by a resumed state that was saved
        for this very folder."""
        own = os.path.abspath(folder / name) in self._written or (
            self._inherited_folder is not None and self._inherited_folder == os.path.abspath(folder)
        )
        if is_own_file_name(name) and own:
            delete_quietly(folder / name)
        elif (folder / name).exists():
            logger.info(
                "checkpoint: left %s in place: this run did not write it in %s", name, folder
            )

    def _write(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        folder: Path,
        names: list[str],
        doomed: list[str],
        before: tuple[list[str], list[dict[str, Any]]],
    ) -> None:
        """Write the checkpoint as ``names[0]``; once it is durable (at once, or in the
        background with ``async_save``), link the other names to it and delete ``doomed``.
        ``before``: what was kept before this save (restored if a background write fails)."""
        epoch, step = trainer_state["current_epoch"], trainer_state["global_step"]

        def finish(primary: Path) -> None:
            if self._unconfirmed is before:  # this write's, not a later save's
                self._unconfirmed = None
            for name in names[1:]:
                link_or_copy(primary, folder / name)
            self._written.update(os.path.abspath(folder / name) for name in names)
            for name in doomed:
                self._delete(folder, name)
            logger.info("checkpoint: saved epoch %d, step %d as %s", epoch, step, ", ".join(names))

        primary = folder / names[0]
        trainer = trainer_state.get("trainer")
        if trainer is None:  # hooks called without a hookwise trainer (vis4d-style tests)
            finish(atomic_save(self._vis4d_checkpoint(trainer_state, model), primary))
        elif self.async_save:
            # set before the write starts: its finish (in the writer thread) clears it
            earlier, self._unconfirmed = self._unconfirmed, before
            try:
                trainer.save_checkpoint(primary, asynchronous=True, on_done=finish, all_ranks=True)
            except BackgroundWriteError:
                self._unconfirmed = earlier  # the earlier write failed; this one never started
                raise
        else:
            finish(trainer.save_checkpoint(primary, all_ranks=True))

    @staticmethod
    def _vis4d_checkpoint(trainer_state: TrainerState, model: nn.Module) -> dict[str, Any]:
        content: dict[str, Any] = {
            "epoch": trainer_state["current_epoch"],
            "global_step": trainer_state["global_step"],
            "state_dict": distributed.unwrap_model(model).state_dict(),
        }
        if "optimizers" in trainer_state:
            content["optimizers"] = [o.state_dict() for o in trainer_state["optimizers"]]
        if "lr_schedulers" in trainer_state:
            content["lr_schedulers"] = [
                s.state_dict() for s in trainer_state["lr_schedulers"] if hasattr(s, "state_dict")
            ]
        return content

    # -- state ----------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The files kept and the best scores (plain values; names relative to the folder)."""
        return {
            "version": STATE_VERSION,
            "monitor": self.monitor,
            "mode": self.mode,
            "kept": list(self._kept),
            "best": [dict(entry) for entry in self._best],
            "folder": (
                self._inherited_folder
                if self.output_dir is None
                else os.path.abspath(self.output_dir)
            ),
            **({} if self._emergency is None else {"emergency": dict(self._emergency)}),
            **({} if self._saving is None else {"saving": dict(self._saving)}),
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned. A checkpoint ranked by another
        ``monitor`` or ``mode`` restarts the ranking (its files are left on disk)."""
        if not isinstance(state_dict, Mapping) or state_dict.get("version") != STATE_VERSION:
            raise CheckpointError(
                f"checkpoint: the saved state of the checkpoint plugin is not version "
                f"{STATE_VERSION} ({state_dict!r:.200}); resume with the hookwise-checkpoint "
                f"release that wrote it, or enable the plugin under another name to start fresh"
            )
        kept = state_dict.get("kept", [])
        best = state_dict.get("best", [])
        _check_saved_names(kept, best)
        folder = state_dict.get("folder")
        self._inherited_folder = folder if isinstance(folder, str) else None
        self._resumed_save = _checked_save(state_dict.get("saving"))
        self._kept = list(kept)
        if state_dict.get("monitor") == self.monitor and state_dict.get("mode") == self.mode:
            self._best = [dict(b) for b in best]
        else:
            self._best = []
            if best:
                logger.warning(
                    "checkpoint: the checkpoint ranked by monitor=%r, mode=%r; this run ranks by "
                    "monitor=%r, mode=%r, so the ranking starts over (earlier best files stay)",
                    state_dict.get("monitor"),
                    state_dict.get("mode"),
                    self.monitor,
                    self.mode,
                )


def _check_saved_names(kept: Any, best: Any) -> None:
    """A resumed state names only files the plugin writes, bare names in its own folder.

    :raises CheckpointError: a name with a folder part, ``..``, or not of the plugin's own
        patterns (a damaged or crafted checkpoint); nothing is deleted.
    """
    if not (isinstance(kept, list) and all(isinstance(k, str) for k in kept)):
        raise CheckpointError(f"checkpoint: saved 'kept' is not a list of names: {kept!r:.200}")
    if not (
        isinstance(best, list)
        and all(isinstance(b, Mapping) and {"score", "file"} <= set(b) for b in best)
    ):
        raise CheckpointError(
            f"checkpoint: saved 'best' is not a list of {{score, file, ...}}: {best!r:.200}"
        )
    names = [("kept", name) for name in kept] + [("best", b["file"]) for b in best]
    for where, name in names:
        if not is_own_file_name(name):
            raise CheckpointError(
                f"checkpoint: the saved state lists {name!r:.200} in {where!r}, which is not a "
                f"file name the checkpoint plugin writes ('epoch=E-step=S.ckpt' or "
                f"'best-epoch=E-step=S-METRIC=VALUE.ckpt', inside its own folder); the "
                f"checkpoint is damaged or was crafted, and is refused (nothing was deleted)"
            )


def _checked_save(saving: Any) -> dict[str, list[str]] | None:
    """The ``saving`` entry of a resumed state: the names of the save that wrote the file
    (the plugin's own patterns, ``last.ckpt``, ``best.ckpt``) and the files it dropped (own
    patterns only: only those are ever deleted).

    :raises CheckpointError: anything else (a damaged or crafted checkpoint); nothing is
        linked or deleted.
    """
    if saving is None:
        return None
    names = saving.get("names") if isinstance(saving, Mapping) else None
    doomed = saving.get("doomed") if isinstance(saving, Mapping) else None
    if (
        isinstance(names, list)
        and isinstance(doomed, list)
        and all(is_own_file_name(n) or n in (LAST, BEST) for n in names)
        and all(is_own_file_name(n) for n in doomed)
    ):
        return {"names": list(names), "doomed": list(doomed)}
    raise CheckpointError(
        f"checkpoint: the saved state's 'saving' entry ({saving!r:.200}) does not name files "
        f"the checkpoint plugin writes (bare 'epoch=E-step=S.ckpt', 'best-...', 'last.ckpt', "
        f"'best.ckpt'); the checkpoint is damaged or was crafted, and is refused (nothing was "
        f"linked or deleted)"
    )


def _plugin_manager(trainer_state: Mapping[str, Any]) -> PluginManager | None:
    """The plugin manager of the trainer running the hooks (``None`` without one)."""
    api = trainer_state.get("trainer")
    return None if api is None else api.plugin_manager


def _registered_name(trainer_state: Mapping[str, Any], plugin: Any) -> str | None:
    """The name ``plugin`` is registered under in the trainer's plugin manager, if known."""
    pm = _plugin_manager(trainer_state)
    name = pm.get_name(plugin) if pm is not None else None
    return name if isinstance(name, str) else None


def _other_checkpoint_plugins(
    trainer_state: Mapping[str, Any], plugin: Any
) -> list[tuple[CheckpointCallback, str]]:
    """The trainer's other checkpoint plugins, with their registered names."""
    pm = _plugin_manager(trainer_state)
    if pm is None:
        return []
    found = []
    for name in pm.plugin_names():
        other = pm.get_plugin(name)
        if isinstance(other, CheckpointCallback) and other is not plugin:
            found.append((other, name))
    return found
