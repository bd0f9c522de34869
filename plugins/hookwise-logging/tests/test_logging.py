"""Tests of the ``logging`` plugin: real tiny fits, checking lines, files and their numbers."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import subprocess
import sys
import textwrap
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import Callback, ConfigError, PluginManager, TrainerState
from hookwise.hookspecs import hookimpl
from hookwise.testing import FitResult
from hookwise_logging import LoggingCallback, Timer
from hookwise_logging._format import compose_log_str, format_metrics
from hookwise_logging._plot import group_series, plot_curves

RunFit = Callable[..., FitResult]


LOGGER = "hookwise"


class LogSpy(Callback):
    """Records, independently of the plugin, every log the trainer merges and every step's
    loss metrics."""

    def __init__(self) -> None:
        super().__init__()
        self.logs: dict[tuple[int, str], float] = {}
        self.losses: dict[int, float] = {}
        self.trainer: Any = None

    def on_fit_start(self, trainer_state: Any, model: torch.nn.Module) -> None:
        self.trainer = trainer = trainer_state["trainer"]
        trainer.add_log_listener(self._listen)

    def _listen(self, logs: Mapping[str, Any]) -> None:
        for key, value in logs.items():
            self.logs[(self.trainer.global_step, key)] = float(value)

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> Any:
        self.losses[trainer_state["global_step"]] = float(trainer_state["metrics"]["loss"])


class StepValue(Callback):
    """Returns a tensor-valued log every step (another plugin's logs go to the file too)."""

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> Any:
        return {"extra": torch.tensor(trainer_state["global_step"] * 0.5)}


def read_csv(path: Path, *, once: bool = True) -> dict[tuple[int, str], float]:
    """``{(step, key): value}`` of every filled cell; ``once``: no key twice at a step."""
    cells: dict[tuple[int, str], float] = {}
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            for key, text in row.items():
                if key not in ("epoch", "step") and text != "":
                    if once:
                        assert (int(row["step"]), key) not in cells, f"{key} twice, {row}"
                    cells[(int(row["step"]), key)] = float(text)
    return cells


def read_jsonl(path: Path) -> dict[tuple[int, str], float]:
    cells: dict[tuple[int, str], float] = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        for key, value in row.items():
            if key not in ("epoch", "step"):
                cells[(row["step"], key)] = value
    return cells


def progress_lines(caplog: pytest.LogCaptureFixture) -> list[re.Match[str]]:
    """The records that are progress lines, parsed."""
    return [match for m in messages(caplog) if (match := LINE.match(m))]


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


# -- the metrics file -----------------------------------------------------------------------


def test_csv_holds_every_logged_scalar_with_the_trainers_values(run_fit: RunFit) -> None:
    spy = LogSpy()
    result = run_fit(
        [("logging", {"refresh_rate": 2}), StepValue(), spy], epochs=2, batches=3, test=True
    )
    cells = read_csv(result.output_dir / "metrics.csv")
    assert cells == spy.logs  # every scalar the trainer logged, same step, same value

    keys = {key for _, key in cells}
    assert keys == {"train/loss", "train/cross_entropy", "train/extra", "val/loss", "test/loss"}
    # train/loss is the mean of the step losses since the last line (epoch mode: 2/3, 3/3)
    losses = spy.losses
    expected = {
        2: (losses[1] + losses[2]) / 2,
        3: losses[3],
        5: (losses[4] + losses[5]) / 2,
        6: losses[6],
    }
    assert {s: v for (s, k), v in cells.items() if k == "train/loss"} == pytest.approx(expected)
    assert [s for (s, k) in cells if k == "train/extra"] == [1, 2, 3, 4, 5, 6]
    assert cells[(6, "test/loss")] == pytest.approx(result.test_metrics["test/loss"])
    assert sorted(p.name for p in result.output_dir.iterdir()) == ["metrics.csv"]


def test_jsonl_file_and_no_file(run_fit: RunFit, tmp_path: Path) -> None:
    spy = LogSpy()
    result = run_fit([("logging", {"refresh_rate": 3, "metrics_file": "jsonl"}), spy], epochs=2)
    assert read_jsonl(result.output_dir / "metrics.jsonl") == spy.logs
    assert sorted(p.name for p in result.output_dir.iterdir()) == ["metrics.jsonl"]

    quiet = run_fit([("logging", {"metrics_file": None})], tmp_path=tmp_path / "quiet")
    assert not quiet.output_dir.exists() or not any(quiet.output_dir.iterdir())


# An expected manifest change: the resume leaves out the saving plugin.
@pytest.mark.filterwarnings("ignore::hookwise.ManifestChangedWarning")
def test_a_resumed_fit_keeps_the_rows_up_to_its_checkpoint(run_fit: RunFit) -> None:
    class SaveAfterFirstValidation(Callback):
        def on_validation_end(self, trainer_state: Any, model: Any, metrics: Any) -> None:
            trainer = trainer_state["train_module"]
            if trainer_state["current_epoch"] == 0 and "val/loss" in metrics:
                trainer.save_checkpoint(trainer.output_dir / "checkpoints" / "epoch0.ckpt")

    first = run_fit([("logging", {"refresh_rate": 1}), SaveAfterFirstValidation()], epochs=2)
    before = read_csv(first.output_dir / "metrics.csv")
    assert (6, "test/loss") in before

    checkpoint = first.output_dir / "checkpoints" / "epoch0.ckpt"
    spy = LogSpy()
    second = run_fit([("logging", {"refresh_rate": 1}), spy], epochs=3, resume_from=checkpoint)
    after = read_csv(second.output_dir / "metrics.csv")
    # rows up to step 3 come from the first run, the rest from the resumed one, once each
    assert {k: v for k, v in after.items() if k[0] <= 3} == {
        k: v for k, v in before.items() if k[0] <= 3
    }
    assert {k: v for k, v in after.items() if k[0] > 3} == spy.logs
    assert sorted(s for s, k in after if k == "train/loss") == list(range(1, 10))
    assert [s for s, k in after if k == "test/loss"] == [9]  # the first run's test is gone


class SaveAtStep(Callback):
    """Saves a checkpoint at the end of ``step``, after every other plugin's hook (the
    checkpoint plugin's order)."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step
        self.path: Path | None = None

    @hookimpl(trylast=True)
    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if trainer_state["global_step"] == self.step:
            trainer = trainer_state["train_module"]
            self.path = trainer.output_dir / "checkpoints" / f"step{self.step}.ckpt"
            trainer.save_checkpoint(self.path)


# An expected manifest change: the resume leaves out the saving plugin.
@pytest.mark.filterwarnings("ignore::hookwise.ManifestChangedWarning")
@pytest.mark.parametrize("epoch_based", [True, False], ids=["epochs", "steps"])
def test_a_resume_inside_a_refresh_window_logs_the_uninterrupted_means(
    run_fit: RunFit, epoch_based: bool
) -> None:
    # refresh every 4 batches of 6 per epoch; the checkpoint at step 2 is inside a window
    params = {"refresh_rate": 4, "epoch_based": epoch_based}
    saver = SaveAtStep(2)
    whole = run_fit([("logging", params), saver], epochs=2, batches=6, test=False)
    assert saver.path is not None
    expected = read_csv(whole.output_dir / "metrics.csv")
    resumed = run_fit(
        [("logging", params)], epochs=2, batches=6, test=False, resume_from=saver.path
    )
    got = read_csv(resumed.output_dir / "metrics.csv")  # the same run folder, continued
    means = sorted(step for step, key in expected if key == "train/loss")
    assert means == ([4, 6, 10, 12] if epoch_based else [4, 8, 12])
    assert got == expected  # the first mean after the resume (step 4) included steps 1 and 2


# -- extras: plot and TensorBoard -------------------------------------------------------------


def test_plot_writes_a_png_of_the_curves(run_fit: RunFit, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("matplotlib", reason="the 'plot' extra (matplotlib) is not installed")
    from PIL import Image

    caplog.set_level(logging.INFO, logger=LOGGER)
    result = run_fit([("logging", {"refresh_rate": 1, "plot": True})], epochs=2)
    path = result.output_dir / "curves.png"
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert width >= 600 and height >= 250
        colors = image.convert("RGB").getcolors(maxcolors=width * height)
        assert len(colors) > 20  # drawn, not blank
    with Image.open(path) as image:
        image.verify()
    assert any(m.startswith("Curves of loss, cross_entropy written") for m in messages(caplog))


def test_plot_panels_pair_train_and_val_keys(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the 'plot' extra (matplotlib) is not installed")
    rows = [
        {"epoch": 0, "step": 1, "train/CrossEntropyLoss": 1.0, "train/lr-SGD": 0.1},
        {"epoch": 0, "step": 1, "train/loss": 1.0},
        {"epoch": 0, "step": 2, "val/loss": 0.9, "val/accuracy/top1": 0.5},
    ]
    panels = plot_curves(rows, tmp_path / "c.png")
    assert panels == ["loss", "CrossEntropyLoss", "lr-SGD", "accuracy/top1"]
    assert group_series(rows)["loss"] == {"train/loss": ([1], [1.0]), "val/loss": ([2], [0.9])}
    assert plot_curves([], tmp_path / "none.png") == []
    assert not (tmp_path / "none.png").exists()


def test_tensorboard_scalars_match_the_csv(run_fit: RunFit) -> None:
    pytest.importorskip("tensorboard", reason="the 'tensorboard' extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import (  # type: ignore[import-untyped, unused-ignore]
        EventAccumulator,
    )

    result = run_fit([("logging", {"refresh_rate": 1, "tensorboard": True})], epochs=2)
    events = EventAccumulator(str(result.output_dir / "tensorboard"))
    events.Reload()
    cells = read_csv(result.output_dir / "metrics.csv")
    tags = set(events.Tags()["scalars"])
    assert tags == {key for _, key in cells}
    for tag in tags:
        scalars = {e.step: e.value for e in events.Scalars(tag)}
        expected = {s: v for (s, k), v in cells.items() if k == tag}
        assert scalars == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(("extra", "module"), [("plot", "matplotlib"), ("tensorboard", None)])
def test_a_missing_extra_fails_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, extra: str, module: str | None
) -> None:
    monkeypatch.setitem(sys.modules, module or "tensorboard", None)  # as if not installed
    with pytest.raises(ConfigError) as info:
        PluginManager().enable("logging", **{extra: True})
    assert f"pip install 'hookwise-logging[{extra}]'" in str(info.value)
    assert f"{extra}=True needs" in str(info.value)


def test_extras_never_switch_on_because_they_are_installed(run_fit: RunFit) -> None:
    result = run_fit(["logging"], epochs=1)
    assert sorted(p.name for p in result.output_dir.iterdir()) == ["metrics.csv"]


# -- lines and the progress bar ---------------------------------------------------------------

LINE = re.compile(
    r"^(?P<prefix>Epoch \d+|Iter): (?P<i>\d+)/(?P<n>-?\d+), ETA: (\d+:\d\d:\d\d|---), "
    r"\d+\.\d\d(it/s|s/it), loss: (?P<loss>\d+\.\d{4}), cross_entropy: \d+\.\d{4}$"
)


def test_plain_lines_when_stderr_is_not_a_terminal(
    run_fit: RunFit, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    result = run_fit([("logging", {"refresh_rate": 2})], epochs=2, batches=3)
    lines = progress_lines(caplog)
    progress = [(m["prefix"], m["i"], m["n"]) for m in lines]
    assert progress == [
        ("Epoch 0", "2", "3"),
        ("Epoch 0", "3", "3"),
        ("Epoch 1", "2", "3"),
        ("Epoch 1", "3", "3"),
    ]
    # the printed loss is the logged one
    cells = read_csv(result.output_dir / "metrics.csv")
    printed = [float(m["loss"]) for m in lines]
    logged = [v for (s, k), v in sorted(cells.items()) if k == "train/loss"]
    assert printed == pytest.approx(logged, abs=5e-5)
    all_messages = messages(caplog)
    assert any(
        re.match(r"^Validation \(epoch 0, step 3\): loss: \d\.\d{4}$", m) for m in all_messages
    )
    assert any(re.match(r"^Validation: 2/2, ETA: ", m) for m in all_messages)
    assert any(re.match(r"^Testing: 2/2, ETA: ", m) for m in all_messages)
    assert any(re.match(r"^Testing: loss: \d\.\d{4}$", m) for m in all_messages)
    assert "\r" not in capsys.readouterr().err  # no bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_when_stderr_is_a_terminal(
    run_fit: RunFit, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run_fit([("logging", {"refresh_rate": 2})], epochs=2, batches=3)
    monkeypatch.undo()
    shown = terminal.getvalue()
    assert re.search(r"Epoch 0: 100%.*3/3.*loss: \d\.\d{4}, cross_entropy: \d\.\d{4}", shown)
    assert re.search(r"Epoch 1: 100%.*3/3", shown)
    assert "Validation" in shown  # the evaluation bar
    assert not [m for m in messages(caplog) if LINE.match(m)]  # the bar replaces the lines
    assert any(m.startswith("Validation (epoch 1, step 6): loss:") for m in messages(caplog))


def test_progress_bar_can_be_forced_either_way(
    run_fit: RunFit, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run_fit([("logging", {"refresh_rate": 2, "progress_bar": False})], epochs=1, test=False)
    monkeypatch.undo()
    assert "%|" not in terminal.getvalue()
    assert [m for m in messages(caplog) if LINE.match(m)]


@pytest.mark.slow
def test_lines_show_without_any_logging_configuration(tmp_path: Path) -> None:
    """A plain script that configures no logging still prints the lines (on stderr)."""
    script = textwrap.dedent(
        f"""
        from hookwise.testing import run_fit
        run_fit([("logging", {{"refresh_rate": 3}})], epochs=1, tmp_path={str(tmp_path)!r})
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"^\[\d\d:\d\d:\d\d\] Epoch 0: 3/3, ETA: 0:00:00, ", done.stderr, re.M)
    assert done.stdout == ""


# -- step mode and vis4d's timer fault --------------------------------------------------------


def test_step_mode_counts_global_steps_and_survives_back_to_back_validations(
    run_fit: RunFit, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    spy = LogSpy()
    # val_check_interval=3 with 3 batches per epoch: step and epoch validation both run after
    # steps 3 and 6 with no training batch in between (vis4d: "Timer already paused!")
    result = run_fit(
        [("logging", {"refresh_rate": 2, "epoch_based": False}), spy],
        epochs=2,
        batches=3,
        val_check_interval=3,
    )
    lines = progress_lines(caplog)
    assert [(m["prefix"], m["i"], m["n"]) for m in lines] == [
        ("Iter", "2", "6"),
        ("Iter", "4", "6"),
        ("Iter", "6", "6"),
    ]
    cells = read_csv(result.output_dir / "metrics.csv", once=False)  # two validations a step
    losses = spy.losses
    assert {s: v for (s, k), v in cells.items() if k == "train/loss"} == pytest.approx(
        {
            2: (losses[1] + losses[2]) / 2,
            4: (losses[3] + losses[4]) / 2,
            6: (losses[5] + losses[6]) / 2,
        }
    )
    assert len(result.calls.of("on_test_epoch_start", plugin="logging")) == 5  # 4 + test


def test_timer_pause_and_resume_are_idempotent() -> None:
    timer = Timer()
    timer.pause()
    timer.pause()  # vis4d raised ValueError("Timer already paused!") here
    assert timer.paused
    frozen = timer.time()
    assert timer.time() == frozen
    timer.resume()
    timer.resume()
    assert not timer.paused and timer.time() >= frozen


# -- no per-step synchronisation --------------------------------------------------------------


def test_values_are_read_off_the_device_only_at_refresh_steps(
    run_fit: RunFit, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = LogSpy()
    reads: list[int] = []
    package = str(Path(LoggingCallback.__module__.replace(".", "/")).parent)

    def counting(name: str) -> Any:
        original = getattr(torch.Tensor, name)

        def read(self: torch.Tensor, *args: Any) -> Any:
            stack = traceback.extract_stack(limit=8)
            if any(package in frame.filename for frame in stack[:-1]):
                reads.append(spy.trainer.global_step if spy.trainer else -1)
            return original(self, *args)

        return read

    for name in ("item", "tolist", "__float__", "__bool__", "__int__", "__format__"):
        monkeypatch.setattr(torch.Tensor, name, counting(name))
    run_fit(
        [spy, ("logging", {"refresh_rate": 3})],
        epochs=1,
        batches=6,
        test=False,
        check_val_every_n_epoch=None,
    )
    monkeypatch.undo()
    assert reads, "the plugin never read a value (the spy is broken)"
    assert set(reads) == {3, 6}


# -- direct calls as in vis4d's tests ---------------------------------------------------------


def test_direct_calls_without_a_trainer(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    callback = LoggingCallback(refresh_rate=2, save_prefix=tmp_path)
    model = torch.nn.Linear(1, 1)
    state: Any = {"current_epoch": 0, "num_train_batches": 4, "global_step": 0}
    callback.on_train_epoch_start(state, model, None)
    returned = []
    for batch_idx in range(4):
        state["global_step"] = batch_idx + 1
        state["metrics"] = {"loss": float(batch_idx), "l1": 1e-5}  # vis4d gives floats
        returned.append(callback.on_train_batch_end(state, model, None, {}, {}, batch_idx))
    assert returned == [None, {"loss": 0.5, "l1": 1e-5}, None, {"loss": 2.5, "l1": 1e-5}]
    assert any(m.endswith("loss: 0.5000, l1: 1.000e-05") for m in messages(caplog))
    state.pop("metrics")
    callback.on_test_epoch_start(state, model)
    callback.on_test_epoch_start(state, model)  # twice: no timer error
    callback.on_validation_end(state, model, {"test/acc": 0.75})
    cells = read_csv(tmp_path / "metrics.csv")
    assert cells == {
        (2, "train/loss"): 0.5,
        (2, "train/l1"): 1e-5,
        (4, "train/loss"): 2.5,
        (4, "train/l1"): 1e-5,
        (4, "test/acc"): 0.75,
    }


def test_vis4d_logging_test_ported(caplog: pytest.LogCaptureFixture) -> None:
    """vis4d's own LoggingCallback test, with the imports changed."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    callback = LoggingCallback(refresh_rate=1)
    state = TrainerState(
        current_epoch=0,
        num_epochs=0,
        global_step=0,
        num_steps=0,
        train_dataloader=None,
        num_train_batches=1,
        test_dataloader=None,
        num_test_batches=[1],
    )
    model = torch.nn.Linear(1, 1)
    callback.on_train_epoch_start(state, model, None)
    callback.on_train_batch_start(state, model, None, batch={}, batch_idx=0)
    state["metrics"] = {"loss1": 0, "loss2": 1}  # type: ignore[dict-item]  # vis4d: numbers
    logs = callback.on_train_batch_end(state, model, None, outputs={}, batch={}, batch_idx=0)
    state.pop("metrics")
    callback.on_test_epoch_start(state, model)
    callback.on_test_batch_end(state, model, outputs={}, batch={}, batch_idx=0)
    assert logs == {"loss1": 0.0, "loss2": 1.0}
    assert re.match(
        r"^Epoch 0: 1/1, ETA: 0:00:00, \d+\.\d\d(it/s|s/it), loss1: 0\.000e\+00, loss2: 1\.0000$",
        messages(caplog)[0],
    )
    assert re.match(r"^Testing: 1/1, ETA: 0:00:00, ", messages(caplog)[-1])


def test_direct_calls_without_a_folder_warn_once_and_write_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    callback = LoggingCallback(refresh_rate=1)
    state: Any = {"current_epoch": 0, "global_step": 1, "metrics": {"loss": 1.0}}
    callback.on_test_epoch_start(state, torch.nn.Linear(1, 1))
    callback.on_test_epoch_start(state, torch.nn.Linear(1, 1))
    warnings = [m for m in messages(caplog) if "pass save_prefix" in m]
    assert len(warnings) == 1


# -- formatting and parameters ----------------------------------------------------------------


def test_line_format_follows_vis4d() -> None:
    line = compose_log_str(
        "Epoch 1", 1, 1, elapsed=0.5, iters_timed=1, metrics={"loss2": 1.0, "loss": 0.0}
    )
    assert line == "Epoch 1: 1/1, ETA: 0:00:00, 2.00it/s, loss: 0.000e+00, loss2: 1.0000"
    slow = compose_log_str("Iter", 10, 100, elapsed=25.0, iters_timed=10)
    assert slow == "Iter: 10/100, ETA: 0:03:45, 2.50s/it"
    assert compose_log_str("Testing", 5, -1, 1.0, 5).startswith("Testing: 5/-1, ETA: ---, ")
    assert format_metrics({"train/a/b": torch.tensor(2.0), "count": 3}) == ["b: 2.0000", "count: 3"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"refresh_rate": 0}, "refresh_rate must be a positive integer"),
        ({"metrics_file": "xml"}, r"metrics_file must be one of \['csv', 'jsonl'\]"),
        ({"progress_bar": "auto"}, "progress_bar must be true, false or unset"),
        ({"plot": "yes"}, "plot must be true or false"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LoggingCallback(**params)


def test_only_rank_zero_prints_and_writes(
    run_fit: RunFit, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    monkeypatch.setenv("RANK", "1")
    result = run_fit([("logging", {"refresh_rate": 1})], epochs=1)
    assert not (result.output_dir / "metrics.csv").exists()
    assert not [m for m in messages(caplog) if LINE.match(m)]
    assert "train/loss" in result.metrics  # the means are still returned on every rank


def test_plugin_is_valid(assert_plugin_valid: Callable[..., Any]) -> None:
    report = assert_plugin_valid("logging", refresh_rate=1)
    assert "on_train_batch_end" in report.hooks["logging"]


def test_a_saved_window_round_trips_and_a_malformed_one_is_named() -> None:
    plugin = LoggingCallback(refresh_rate=4)
    plugin._metrics["loss"].extend([torch.tensor(1.0), torch.tensor(2.0)])
    restored = LoggingCallback(refresh_rate=4)
    restored.load_state_dict(plugin.state_dict())
    assert restored._means() == {"loss": 1.5}
    with pytest.raises(ValueError, match="logging: the checkpoint's 'window' is not a mapping"):
        restored.load_state_dict({"window": {"loss": ["1.0"]}})


def test_appended_rows_are_the_bytes_a_rewrite_writes(tmp_path: Path) -> None:
    """Rows appended at a refresh (one os.write) read as csv.DictWriter writes them."""
    from hookwise_logging._records import MetricsFile

    rows: list[dict[str, float | int]] = [
        {"epoch": 0, "step": 1, "a": 1e-5, "b": float("nan")},
        {"epoch": 0, "step": 2, "b": float("inf"), "a": -0.0},
        {"epoch": 1, "step": 3, "a": 3},
    ]
    whole = MetricsFile(tmp_path / "whole", "csv")
    whole.rewrite(rows)
    appended = MetricsFile(tmp_path / "appended", "csv")
    appended.rewrite(rows[:1])
    appended.append(rows[1:], rows)
    assert appended.path.read_bytes() == whole.path.read_bytes()
    lines = MetricsFile(tmp_path / "new" / "folder", "jsonl")
    lines.append(rows, rows)  # a JSON lines file and its folder are created on first append
    assert [json.loads(line) for line in lines.path.read_text().splitlines()][2] == rows[2]


def test_means_of_cpu_values_other_shapes_and_numbers() -> None:
    callback = LoggingCallback()
    callback._metrics["a"] = [torch.tensor(1.0), torch.tensor([2.0])]
    callback._metrics["b"] = [3.0, torch.tensor(5)]
    callback._metrics["c"] = []
    means = callback._means()
    assert means["a"] == 1.5 and means["b"] == 4.0 and means["c"] != means["c"]
    callback._metrics.clear()
    callback._metrics["loss"] = [torch.tensor(0.5), torch.tensor(1.5), torch.tensor(2.5)]
    assert callback._means() == {"loss": 1.5}
