"""``LoggingCallback``: progress lines or a live bar, the metrics file, TensorBoard, curves."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import sys
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from hookwise import Callback, ConfigError
from hookwise.distributed import is_rank_zero
from hookwise.values import tensors
from hookwise.values import to_floats as values_to_floats

from hookwise_logging._format import compose_log_str, format_metrics, format_value
from hookwise_logging._plot import panel_name, plot_curves
from hookwise_logging._records import FORMATS, MetricsFile, Row, to_floats
from hookwise_logging._timer import Timer

if TYPE_CHECKING:
    import os

    from hookwise import CallbackConnector, TrainerAPI, TrainerState
    from hookwise.hookspecs import MetricLogs
    from torch import nn

logger = logging.getLogger("hookwise")

#: Events kept unconverted before they are written anyway (a plugin logging every step).
MAX_PENDING = 1000
#: The curves file written by ``plot=True``.
PLOT_FILE = "curves.png"
#: The TensorBoard folder written by ``tensorboard=True``.
TENSORBOARD_DIR = "tensorboard"

_EXTRAS = {
    "plot": ("matplotlib", "plot=True"),
    "tensorboard": ("tensorboard", "tensorboard=True"),
}


def _require_extra(extra: str) -> None:
    module, switch = _EXTRAS[extra]
    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            f"logging: {switch} needs {module}, which is not installed. Install the plugin's "
            f"{extra!r} extra: pip install 'hookwise-logging[{extra}]'"
        )


class LoggingCallback(Callback):
    """Shows training progress and records every logged scalar.

    vis4d's ``LoggingCallback`` is the floor: every ``refresh_rate`` batches it logs the line
    ``Epoch e: i/n, ETA: h:mm:ss, x it/s, loss: ..., <metric>: ...`` with the mean of each loss
    metric since the previous line, and returns those means (logged as ``train/<name>``); in
    step mode (``epoch_based=False``) it counts global steps (``Iter: s/N, ...``). hookwise
    adds:

    * a live progress bar (tqdm) when stderr is a terminal, plain ``logging`` lines (logger
      ``"hookwise"``, level INFO) when it is not;
    * a line at the end of each epoch in epoch mode (a refresh also happens on the epoch's last
      batch), and a summary line after every evaluation pass;
    * every scalar the trainer logs (``train/``, ``val/``, ``test/``, from every plugin) written
      to ``{save_prefix}/metrics.csv`` or ``metrics.jsonl``; optionally TensorBoard scalars and
      a PNG of the curves at the end of fit;
    * values read off the device only at refresh steps and after evaluation (loss metrics are
      kept as tensors in between), never every step;
    * the timer pauses during evaluation and resumes at the next batch; vis4d's step-mode
      ``ValueError("Timer already paused!")`` is gone.

    Only rank 0 prints and writes files.

    :param refresh_rate: log (and refresh the bar's metrics) every this many batches
        (epoch mode) or steps (step mode); also the interval of the evaluation progress lines.
    :param save_prefix: the folder for the metrics file, ``tensorboard/`` and ``curves.png``;
        defaults to the trainer's ``output_dir``.
    :param progress_bar: ``True`` for a tqdm bar, ``False`` for log lines, ``None`` (default)
        for a bar exactly when stderr is a terminal.
    :param metrics_file: ``"csv"`` (``metrics.csv``, default), ``"jsonl"`` (``metrics.jsonl``)
        or ``None`` for no file. A fresh fit starts the file anew; a resumed fit keeps the rows
        written before its checkpoint was taken (the checkpoint counts them), so the rows a
        killed process wrote after it (a validation, a final test) are written again once,
        and the file ends as an uninterrupted run's; a test pass without a fit appends.
    :param tensorboard: also write TensorBoard scalars to ``{save_prefix}/tensorboard``
        (needs the ``tensorboard`` extra: ``pip install 'hookwise-logging[tensorboard]'``).
    :param plot: at the end of fit, draw every logged key against the step into
        ``{save_prefix}/curves.png``, ``train/x`` and ``val/x`` in one panel (needs the
        ``plot`` extra, matplotlib: ``pip install 'hookwise-logging[plot]'``).
    :param epoch_based: count batches per epoch (``True``) or global steps (``False``).
    :param train_connector: kept for vis4d compatibility (unused).
    :param test_connector: kept for vis4d compatibility (unused).
    """

    #: No hook makes a collective call (``on_error="warn"`` is allowed in distributed runs).
    collective_free: ClassVar[bool] = True

    def __init__(
        self,
        *,
        refresh_rate: int = 50,
        save_prefix: str | os.PathLike[str] | None = None,
        progress_bar: bool | None = None,
        metrics_file: str | None = "csv",
        tensorboard: bool = False,
        plot: bool = False,
        epoch_based: bool = True,
        train_connector: CallbackConnector | Mapping[str, Any] | None = None,
        test_connector: CallbackConnector | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(epoch_based, train_connector, test_connector)
        if isinstance(refresh_rate, bool) or not isinstance(refresh_rate, int) or refresh_rate < 1:
            raise ConfigError(
                f"logging: refresh_rate must be a positive integer, got {refresh_rate!r}"
            )
        if metrics_file is not None and metrics_file not in FORMATS:
            raise ConfigError(
                f"logging: metrics_file must be one of {sorted(FORMATS)} or None (no file), "
                f"got {metrics_file!r}"
            )
        for name, value in (("tensorboard", tensorboard), ("plot", plot)):
            if not isinstance(value, bool):
                raise ConfigError(f"logging: {name} must be true or false, got {value!r}")
        if progress_bar is not None and not isinstance(progress_bar, bool):
            raise ConfigError(
                f"logging: progress_bar must be true, false or unset (a bar on a terminal), "
                f"got {progress_bar!r}"
            )
        if tensorboard:
            _require_extra("tensorboard")
        if plot:
            _require_extra("plot")
        self._refresh_rate = refresh_rate
        self.save_prefix = save_prefix
        self.progress_bar = progress_bar
        self.metrics_file = metrics_file
        self.tensorboard = tensorboard
        self.plot = plot

        self._metrics: defaultdict[str, list[Any]] = defaultdict(list)
        #: A resumed window (see :meth:`load_state_dict`) survives the next epoch start once.
        self._keep_window = False
        self.train_timer = Timer()
        self.test_timer = Timer()
        self.last_step = 0
        self._iters = 0
        self._test_iters = 0

        self._trainer: TrainerAPI | None = None
        self._listening = False
        self._in_fit = False
        self._rank_zero = True
        self._bar_mode = False
        self._directory: Path | None = None
        self._warned_no_directory = False
        self._file: MetricsFile | None = None
        self._writer: Any = None
        self._redirect: contextlib.ExitStack | None = None
        self._train_bar: Any = None
        self._test_bar: Any = None
        #: Every row written so far (``epoch``, ``step`` and the logged keys), in order.
        self.history: list[Row] = []
        self._pending: list[tuple[int, int, Mapping[str, Any]]] = []
        self._flush_with_next_logs = False
        #: From a resumed checkpoint: how many rows were written before it.
        self._resume_rows: int | None = None
        #: A resumed fit until its first epoch start, which continues the checkpoint's epoch.
        self._continuing = False

    # -- state --------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The loss metrics collected since the last progress line (as CPU tensors), so that a
        run resumed inside a refresh window logs the same means as an uninterrupted one; and
        how many rows the metrics file holds at this point (what is pending is written first),
        so that a resumed fit keeps exactly the rows written before its checkpoint, whatever
        the killed process wrote after it. (The row of a step whose checkpoint is written
        inside its ``on_train_batch_end`` is not among them: the trainer merges that step's
        logs after the hook, and a fit resumed from the checkpoint merges them again, from
        the checkpoint, at its start.)"""
        # What is pending stays pending (saved as floats, restored by a resume), so rows are
        # written at the same points with or without an interruption: a checkpoint between a
        # step's row and that step's validation row must not split them into two lines.
        pending = [
            {"epoch": epoch, "step": step, "logs": values}
            for epoch, step, values in _pending_floats(self._pending)
        ]
        rows = len(self.history) if self._resume_rows is None else self._resume_rows
        return {
            "pending": pending,
            "window": {
                key: [value.detach().cpu() for value in values]
                for key, values in self._metrics.items()
            },
            "rows": rows,  # a state loaded and not yet resumed from: as loaded
            # the step's logs, merged again by a resumed fit, are written as they would have
            # been: at once after a progress line, else with the next rows of that step
            "flush_next": self._flush_with_next_logs,
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the metrics of the refresh window :meth:`state_dict` saved."""
        window = state_dict.get("window", {})
        if not isinstance(window, Mapping) or not all(
            isinstance(key, str)
            and isinstance(values, list)
            and all(isinstance(v, torch.Tensor) and v.numel() == 1 for v in values)
            for key, values in window.items()
        ):
            raise ValueError(
                "logging: the checkpoint's 'window' is not a mapping of metric names to lists "
                "of one-element tensors; resume without this plugin's state or from another "
                "checkpoint"
            )
        self._metrics = defaultdict(list, {key: list(values) for key, values in window.items()})
        self._keep_window = True
        rows = state_dict.get("rows")
        self._flush_with_next_logs = state_dict.get("flush_next") is True
        pending = state_dict.get("pending", [])
        if not isinstance(pending, list) or not all(
            isinstance(event, Mapping)
            and isinstance(event.get("epoch"), int)
            and isinstance(event.get("step"), int)
            and isinstance(event.get("logs"), Mapping)
            for event in pending
        ):
            raise ValueError(
                "logging: the checkpoint's 'pending' is not a list of logged rows; resume "
                "without this plugin's state or from another checkpoint"
            )
        self._pending = [(e["epoch"], e["step"], dict(e["logs"])) for e in pending]
        if rows is None:  # a checkpoint of an older release: rows up to its step are kept
            self._resume_rows = None
        elif isinstance(rows, int) and not isinstance(rows, bool) and rows >= 0:
            self._resume_rows = rows
        else:
            raise ValueError(
                f"logging: the checkpoint's 'rows' ({rows!r:.80}) is not a count of rows; "
                f"resume without this plugin's state or from another checkpoint"
            )

    @property
    def refresh_rate(self) -> int:
        """Batches (or steps) between two progress lines."""
        return self._refresh_rate

    @property
    def output_dir(self) -> Path | None:
        """Where the files go (known once a fit or test started)."""
        return self._directory

    # -- fit ------------------------------------------------------------------------------------

    def on_fit_start(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Attach to the trainer, open the outputs, start the step-mode timer and bar."""
        self._in_fit = True
        self._attach(trainer_state)
        self._start_history(trainer_state)
        if not self.epoch_based:
            self.train_timer.reset()
            self._iters = 0
            self.last_step = trainer_state.get("global_step", 0)
            if not self._keep_window:
                self._metrics.clear()
            self._keep_window = False
            if self._bar_mode:
                total = self._total_steps(trainer_state)
                self._train_bar = self._open_bar(
                    "Iter", total, initial=trainer_state.get("global_step", 0)
                )

    def on_fit_end(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Write what is pending, close the bars, draw the curves, close TensorBoard."""
        self.flush()
        self._close_bars()
        if self.plot and self._rank_zero and self._directory is not None:
            panels = plot_curves(self.history, self._directory / PLOT_FILE)
            if panels:
                logger.info("Curves of %s written to %s", ", ".join(panels), self._directory)
            else:
                logger.info("Nothing was logged: %s not written", PLOT_FILE)
        self._finish()
        self._in_fit = False

    def on_exception(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        exception: BaseException,
        fatal: bool,
    ) -> None:
        """On a fatal error: keep what was logged (write it), close bars and files."""
        if fatal:
            self._close_bars()
            try:
                self.flush()
            finally:
                self._finish()
                self._in_fit = False

    # -- training -------------------------------------------------------------------------------

    def on_train_epoch_start(
        self, trainer_state: TrainerState, model: nn.Module, loss_module: Any
    ) -> None:
        """Epoch mode: reset the timer and the running means, open the epoch's bar."""
        if not self._continuing:  # a resumed epoch goes on: its rows are written as they were
            self.flush()
        self._continuing = False
        if self._in_fit:  # what a sanity pass's state restore left is not a resume
            self._resume_rows = None
        if self.epoch_based:
            self.train_timer.reset()
            self.last_step = 0
            self._iters = 0
            if not self._keep_window:  # a resume inside the epoch continues its window
                self._metrics.clear()
            self._keep_window = False
            if self._bar_mode:
                self._close_train_bar()
                epoch = trainer_state.get("current_epoch", 0)
                total = trainer_state.get("num_train_batches")
                self._train_bar = self._open_bar(f"Epoch {epoch}", total)

    def on_train_batch_start(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        loss_module: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """Resume the timer paused by an evaluation pass."""
        timer = self.train_timer
        if timer._paused_at is not None:  # running (nearly every step): no call at all
            timer.resume()

    def on_train_batch_end(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> MetricLogs | None:
        """Collect this step's loss metrics; at a refresh step log their means and return them."""
        metrics = trainer_state.get("metrics")
        if metrics:
            collected = self._metrics
            # as stored (tensors): no read off the device; a dict's without a copy
            stored = dict.items(metrics) if isinstance(metrics, dict) else tensors(metrics).items()
            for key, value in stored:
                collected[key].append(value)
        self._iters += 1
        if self.epoch_based:
            cur_iter = batch_idx + 1
            total = trainer_state.get("num_train_batches") or -1
        else:
            cur_iter = trainer_state.get("global_step", 0)
            total = self._total_steps(trainer_state)
        bar = self._train_bar
        if bar is not None and cur_iter > bar.n:
            bar.update(cur_iter - bar.n)
        refresh = cur_iter % self._refresh_rate == 0 or (self.epoch_based and cur_iter == total)
        if not refresh or cur_iter == self.last_step:
            return None
        log_dict = self._means()
        self._metrics.clear()
        self.last_step = cur_iter
        if self._rank_zero:
            if bar is not None:
                bar.set_postfix_str(", ".join(format_metrics(log_dict)), refresh=False)
            elif not self._bar_mode:
                prefix = f"Epoch {trainer_state.get('current_epoch', 0)}"
                logger.info(
                    compose_log_str(
                        prefix if self.epoch_based else "Iter",
                        cur_iter,
                        total,
                        self.train_timer.time(),
                        self._iters,
                        log_dict,
                    )
                )
            if self._listening:
                self._flush_with_next_logs = True
            else:
                self._record(trainer_state, {f"train/{k}": v for k, v in log_dict.items()})
                self.flush()
        returned: MetricLogs = dict(log_dict)
        return returned

    def on_train_epoch_end(
        self, trainer_state: TrainerState, model: nn.Module, loss_module: Any
    ) -> None:
        """Epoch mode: close the epoch's bar (its last state stays on screen)."""
        if self.epoch_based:
            self._close_train_bar()

    # -- evaluation -----------------------------------------------------------------------------

    def on_test_epoch_start(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Pause the training timer, start the evaluation timer and bar."""
        if trainer_state.get("sanity_check"):
            return  # the sanity pass before training shows and records nothing
        if not self._in_fit:
            self._attach(trainer_state)
            if not self.history and self._file is not None:
                self.history = self._file.read()
        self.train_timer.pause()
        self.test_timer.reset()
        self._test_iters = 0
        if self._bar_mode:
            self._close_test_bar()
            total = sum(trainer_state.get("num_test_batches") or []) or None
            self._test_bar = self._open_bar(self._pass_name(), total, leave=False)

    def on_test_batch_end(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Advance the bar, or log a progress line every ``refresh_rate`` batches."""
        if trainer_state.get("sanity_check"):
            return
        self._test_iters += 1
        if self._test_bar is not None:
            self._test_bar.update(1)
            return
        cur_iter = batch_idx + 1
        if self._rank_zero and not self._bar_mode and cur_iter % self._refresh_rate == 0:
            counts = trainer_state.get("num_test_batches") or []
            total = counts[dataloader_idx] if dataloader_idx < len(counts) else -1
            line = compose_log_str(
                self._pass_name(), cur_iter, total, self.test_timer.time(), self._test_iters
            )
            logger.info(line)

    def on_validation_end(
        self, trainer_state: TrainerState, model: nn.Module, metrics: Mapping[str, float]
    ) -> None:
        """Log a summary of the pass and write its values."""
        if trainer_state.get("sanity_check"):
            return
        self._close_test_bar()
        if self._rank_zero:
            where = (
                f" (epoch {trainer_state.get('current_epoch', 0)}, "
                f"step {trainer_state.get('global_step', 0)})"
                if self._in_fit
                else ""
            )
            if metrics:
                values = ", ".join(
                    f"{panel_name(k)}: {format_value(v)}" for k, v in metrics.items()
                )
                logger.info("%s%s: %s", self._pass_name(), where, values)
            if not self._listening and metrics:
                self._record(trainer_state, dict(metrics))
        self.flush()
        if not self._in_fit:
            self._finish()

    # -- outputs --------------------------------------------------------------------------------

    def flush(self) -> None:
        """Convert the pending logged values (one device transfer) and write them out."""
        if not self._pending:
            return
        events, self._pending = self._pending, []
        rows = to_floats(events)
        self.history.extend(rows)
        if self._file is not None:
            self._file.append(rows, self.history)
        writer = self._tensorboard_writer()
        if writer is not None:
            for row in rows:
                step = int(row["step"])
                for key, value in row.items():
                    if key not in ("epoch", "step"):
                        writer.add_scalar(key, value, step)
            writer.flush()

    def _on_logs(self, logs: Mapping[str, Any]) -> None:
        """The trainer's log listener: keep the merged logs, unconverted, until a refresh."""
        trainer = self._trainer
        assert trainer is not None  # listening means attached
        self._pending.append((self._row_epoch(trainer.epoch), trainer.global_step, logs))
        if self._flush_with_next_logs or len(self._pending) >= MAX_PENDING:
            self._flush_with_next_logs = False
            self.flush()

    def _record(self, trainer_state: TrainerState, logs: Mapping[str, Any]) -> None:
        """Keep logs when the trainer has no log listeners (vis4d-style direct calls)."""
        epoch = self._row_epoch(int(trainer_state.get("current_epoch", 0)))
        step = int(trainer_state.get("global_step", 0))
        self._pending.append((epoch, step, logs))

    def _row_epoch(self, epoch: int) -> int:
        """The epoch a row is filed under: during fit the current one; after it (a standalone
        test) the last trained one, whose weights are evaluated (the trainer's epoch then
        counts the epochs done), so every numbering counts from 0 and names real epochs."""
        return epoch if self._in_fit or epoch == 0 else epoch - 1

    def _attach(self, trainer_state: TrainerState) -> None:
        """Find the trainer and the output folder; listen to the trainer's merged logs."""
        self._rank_zero = is_rank_zero()
        trainer = trainer_state.get("trainer")
        if trainer is not self._trainer:
            self._trainer = trainer
            self._listening = False
            if self._rank_zero and trainer is not None:
                trainer.add_log_listener(self._on_logs)
                self._listening = True
        if not self._rank_zero:
            self._bar_mode = False
            return
        _make_logs_visible()
        self._bar_mode = (
            self.progress_bar if self.progress_bar is not None else _stderr_is_terminal()
        )
        if self._bar_mode and self._redirect is None:
            from tqdm.contrib.logging import (  # type: ignore[import-untyped, unused-ignore]
                logging_redirect_tqdm,
            )

            self._redirect = contextlib.ExitStack()
            self._redirect.enter_context(logging_redirect_tqdm([logging.root, logger]))
        directory = self.save_prefix
        if directory is None and trainer is not None:
            directory = trainer.output_dir
        if directory is None:
            self._directory = None
            self._file = None
            if (self.metrics_file or self.tensorboard or self.plot) and not (
                self._warned_no_directory
            ):
                self._warned_no_directory = True
                logger.warning(
                    "logging: no save_prefix was given and the trainer state has no trainer "
                    "(whose output_dir is the default), so no metrics file, TensorBoard "
                    "scalars or curves are written; pass save_prefix=FOLDER"
                )
            return
        self._directory = Path(directory)
        if self.metrics_file is not None and (
            self._file is None or self._file.path.parent != self._directory
        ):
            self._file = MetricsFile(self._directory, self.metrics_file)

    def _start_history(self, trainer_state: TrainerState) -> None:
        """A fresh fit starts the file anew; a resumed one keeps the rows up to its step."""
        if not self._rank_zero:
            return
        step = int(trainer_state.get("global_step", 0))
        fresh = step == 0 and int(trainer_state.get("current_epoch", 0)) == 0
        file = self._file
        resume, self._resume_rows = self._resume_rows, None
        self._continuing = not fresh
        previous = self.history or (
            file.read(until_torn=True) if file is not None and not fresh else []
        )
        if fresh:
            kept = []
        elif resume is not None:  # the rows written before the checkpoint, exactly
            kept = [dict(row) for row in previous[:resume]]
        else:
            kept = [row for row in previous if int(row["step"]) <= step]
        if file is not None:
            file.rewrite(kept)
        self.history = kept

    def _tensorboard_writer(self) -> Any:
        if not self.tensorboard or not self._rank_zero or self._directory is None:
            return None
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self._directory / TENSORBOARD_DIR))
        return self._writer

    def _finish(self) -> None:
        """Stop listening to the trainer, close TensorBoard, stop redirecting log records
        through tqdm (the next fit or test attaches again)."""
        if self._trainer is not None:
            self._trainer.remove_log_listener(self._on_logs)
        self._trainer = None
        self._listening = False
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._redirect is not None:
            self._redirect.close()
            self._redirect = None

    # -- helpers --------------------------------------------------------------------------------

    def _means(self) -> dict[str, float]:
        """The mean of every collected metric, averaged as floats. The tensors are read on the
        CPU one by one (``item()``, the cheapest read there), else stacked on their device and
        read off it together (``_slow_means`` for values of several devices or shapes)."""
        metrics = self._metrics
        values = [value for collected in metrics.values() for value in collected]
        numbers: list[Any] | None = None
        try:
            if all(type(value) is torch.Tensor and value.is_cpu for value in values):
                numbers = [value.item() for value in values]
            elif all(type(value) is torch.Tensor for value in values):
                numbers = torch.stack(values).detach().reshape(-1).tolist()
                if len(numbers) != len(values):  # one of them was not a one-element tensor
                    numbers = None
        except RuntimeError:  # mixed shapes ([] and [1]) or devices, or several elements
            numbers = None
        if numbers is None:
            return self._slow_means()
        means: dict[str, float] = {}
        start = 0
        for key, collected in metrics.items():
            end = start + len(collected)
            means[key] = _mean(numbers[start:end])
            start = end
        return means

    def _slow_means(self) -> dict[str, float]:
        """:meth:`_means` for values of several devices or shapes, or numbers (a tensor of
        several elements counts as its mean)."""
        tensors = {
            key: [v for v in values if isinstance(v, torch.Tensor)]
            for key, values in self._metrics.items()
        }
        by_device: dict[torch.device, list[torch.Tensor]] = {}
        for values in tensors.values():
            for value in values:
                by_device.setdefault(value.device, []).append(value)
        read: dict[int, float] = {}
        for device_values in by_device.values():
            flat = torch.stack([v.detach().float().mean() for v in device_values]).tolist()
            read.update(zip(map(id, device_values), flat, strict=True))
        return {
            key: _mean([read[id(v)] if isinstance(v, torch.Tensor) else float(v) for v in values])
            for key, values in self._metrics.items()
        }

    def _total_steps(self, trainer_state: TrainerState) -> int:
        num_steps = trainer_state.get("num_steps", -1)
        if num_steps != -1:
            return num_steps
        epochs = trainer_state.get("num_epochs", -1)
        batches = trainer_state.get("num_train_batches")
        return epochs * batches if epochs != -1 and batches else -1

    def _pass_name(self) -> str:
        return "Validation" if self._in_fit else "Testing"

    def _open_bar(
        self, description: str, total: int | None, *, initial: int = 0, leave: bool = True
    ) -> Any:
        from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]

        return tqdm(
            total=total if total is not None and total >= 0 else None,
            initial=initial,
            desc=description,
            leave=leave,
            file=sys.stderr,
            dynamic_ncols=True,
            unit="it",
        )

    def _close_train_bar(self) -> None:
        if self._train_bar is not None:
            self._train_bar.close()
            self._train_bar = None

    def _close_test_bar(self) -> None:
        if self._test_bar is not None:
            self._test_bar.close()
            self._test_bar = None

    def _close_bars(self) -> None:
        self._close_test_bar()
        self._close_train_bar()


def _stderr_is_terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty is not None and isatty())


_HANDLER_MARK = "_hookwise_logging_handler"


def _make_logs_visible() -> None:
    """When the application configured no logging at all, show the ``hookwise`` logger's
    INFO records on stderr (otherwise Python drops them and the progress lines are lost)."""
    if logger.hasHandlers():
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", "%H:%M:%S"))
    setattr(handler, _HANDLER_MARK, True)
    logger.addHandler(handler)
    if logger.level == logging.NOTSET and logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)  # only when nobody chose a level for it


def _mean(numbers: list[float]) -> float:
    """The mean of ``numbers`` (``nan`` for none)."""
    return sum(numbers) / len(numbers) if numbers else float("nan")


def _pending_floats(
    events: list[tuple[int, int, Mapping[str, Any]]],
) -> list[tuple[int, int, dict[str, float]]]:
    """Pending events with their values read as floats (one device transfer for all, as
    :func:`~hookwise_logging._records.to_floats`), event by event: not merged, the rows are
    merged when written, as without an interruption."""
    numbers = iter(values_to_floats([v for _, _, logs in events for v in logs.values()]))
    return [(epoch, step, {key: next(numbers) for key in logs}) for epoch, step, logs in events]
