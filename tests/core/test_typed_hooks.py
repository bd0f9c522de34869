"""Typed hooks: ``hookwise.hooks`` is generated from the hook specs and kept in step with them;
its markers work at run time; mypy rejects a plugin whose hook signature is wrong (and accepts
a correct one), for ``@hooks.<hook>`` functions and methods, ``Callback`` overrides and
``TrainerState`` keys."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hookwise import Callback, PluginManager, TrainerState, _typegen, hooks, hookspecs
from hookwise._hook_marker import MARKER_OPTIONS
from hookwise.testing import run_fit


def test_generated_module_is_up_to_date() -> None:
    assert _typegen.TARGET.read_text(encoding="utf-8") == _typegen.generate(), (
        "core/hookwise/hooks.py is out of date with hookspecs.py: run python -m hookwise._typegen"
    )


def test_check_fails_when_the_specs_change(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "hooks.py"
    target.write_text(_typegen.generate(), encoding="utf-8")
    monkeypatch.setattr(_typegen, "TARGET", target)
    assert _typegen.main(["--check"]) == 0

    def on_train_batch_end(trainer_state: TrainerState, batch_idx: str) -> None:
        """Changed: batch_idx is a string."""

    monkeypatch.setattr(hookspecs, "on_train_batch_end", on_train_batch_end)
    assert _typegen.main(["--check"]) == 1
    assert "out of date: run python -m hookwise._typegen" in capsys.readouterr().err
    assert _typegen.main([]) == 0  # regenerates
    assert "*, trainer_state: TrainerState, batch_idx: str) -> None" in target.read_text()
    assert _typegen.main(["--check"]) == 0


def test_one_marker_and_one_protocol_per_hook() -> None:
    for hook in hookspecs.HOOK_NAMES:
        marker = getattr(hooks, hook)
        assert marker.hook == hook and marker.options_given == {}
        protocol = getattr(hooks, _typegen._camel(hook))
        assert protocol.__doc__ == f"The full signature of :func:`hookwise.hookspecs.{hook}`."
        assert hook in hooks.__all__


def test_marker_is_hookimpl_with_the_hook_as_specname() -> None:
    @hooks.on_validation_end.options(after=["ema"], tryfirst=True)
    def remember(metrics: dict[str, float]) -> None:
        pass

    options = remember.hookwise_impl  # type: ignore[attr-defined]
    assert options["specname"] == "on_validation_end"
    assert options["tryfirst"] is True and options["after"] == ["ema"]

    with pytest.raises(TypeError, match="unknown options \\['wrapper'\\]"):
        hooks.on_train_batch_end.options(wrapper=True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="marks a function"):
        hooks.on_train_batch_end(None)  # type: ignore[type-var]
    assert set(MARKER_OPTIONS) == set(_typegen._OPTION_TYPES)  # every option is typed


class StepLogger:
    """A plain class: marked methods with free names, each asking for what it uses."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.passes = 0

    @hooks.on_train_batch_end.options(every_n_steps=2)
    def record(self, trainer_state: TrainerState) -> dict[str, float]:
        self.steps.append(trainer_state["global_step"])
        return {"logged_step": float(trainer_state["global_step"])}

    @hooks.on_validation_end
    def count(self, metrics: dict[str, float]) -> None:
        self.passes += 1


def test_marked_methods_run_in_a_fit() -> None:
    logger = StepLogger()
    result = run_fit([logger], epochs=2, batches=3)
    assert logger.steps == [2, 4, 6]  # the trigger given to the marker
    assert result.metrics["train/logged_step"] == 6.0
    assert logger.passes == 3  # two validations and the test
    pm = PluginManager()
    pm.enable_object(StepLogger(), "steps")
    assert pm.hook_order("on_train_batch_end") == ["steps"]


# -- mypy -------------------------------------------------------------------------------------

GOOD = """
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from hookwise import Callback, TrainerState, hooks
from hookwise.hookspecs import MetricLogs


@hooks.on_train_batch_end.options(every_n_steps=10)
def log_step(batch_idx: int, trainer_state: TrainerState) -> dict[str, float]:
    return {"step": float(trainer_state["global_step"] + batch_idx)}


@hooks.on_validation_end
def untyped(metrics):
    return None


@hooks.setup
def ready() -> None:
    pass


class Plain:
    @hooks.on_before_optimizer_step
    def clip(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)

    @hooks.on_exception
    def report(self, exception: BaseException, fatal: bool) -> None:
        pass


class GradNorm(Callback):
    def on_train_batch_end(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> MetricLogs | None:
        if "metrics" in trainer_state:
            return {"loss": trainer_state["metrics"]["loss"]}
        return None

    def on_validation_end(
        self, trainer_state: TrainerState, model: nn.Module, metrics: Mapping[str, float]
    ) -> None:
        trainer = trainer_state["trainer"]  # the trainer API, typed
        trainer.log("checked", float(trainer.global_step))
        trainer.request_stop(f"done at epoch {trainer.epoch} in {trainer.output_dir.name}")


full: hooks.OnValidationEnd = GradNorm().on_validation_end
"""

#: Each line marked ``# E`` must get a mypy error, and no other line may.
BAD = """
from typing import Any

from torch import nn

from hookwise import Callback, TrainerState, hooks


@hooks.on_train_batch_end  # E: batch_idx is an int
def wrong_type(trainer_state: TrainerState, batch_idx: str) -> None:
    pass


@hooks.on_train_batch_end  # E: not an argument of the hook
def wrong_name(trainer_state: TrainerState, batch_index: int) -> None:
    pass


@hooks.on_test_batch_end  # E: on_test_batch_end returns nothing
def wrong_return(batch_idx: int) -> dict[str, float]:
    return {}


@hooks.on_validation_end  # E: unannotated, a parameter that is not an argument of the hook
def untyped(trainer_state, metric):
    return None


class Plain:
    @hooks.on_fit_start  # E: a method with a wrong annotation
    def start(self, model: int) -> None:
        pass


class WrongOverride(Callback):
    def on_train_batch_end(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: str,  # E: narrowed from int
    ) -> None:
        pass

    def on_test_epoch_end(  # E: returns logs or None
        self, trainer_state: TrainerState, model: nn.Module
    ) -> int:
        return 1


def step(state: TrainerState) -> int:
    return state["global_stepp"]  # E: misspelled key


def stop(state: TrainerState) -> None:
    state["trainer"].request_stopp("why")  # E: the trainer API has no such member
"""


def _mypy(folder: Path, *files: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYPY", "HOOKWISE_"))}
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--allow-untyped-defs",  # the unannotated examples are on purpose
        "--no-error-summary",
        "--show-error-codes",
        "--cache-dir",
        str(folder / ".mypy_cache"),
        *files,
    ]
    return subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=900, check=False
    )


@pytest.mark.slow
def test_mypy_rejects_wrong_hook_signatures_and_accepts_right_ones(tmp_path: Path) -> None:
    (tmp_path / "good_plugin.py").write_text(textwrap.dedent(GOOD), encoding="utf-8")
    (tmp_path / "bad_plugin.py").write_text(textwrap.dedent(BAD), encoding="utf-8")
    done = _mypy(tmp_path, "good_plugin.py", "bad_plugin.py")
    report = done.stdout + done.stderr
    errors = re.findall(r"^(\w+_plugin)\.py:(\d+): error: (.*)$", report, re.MULTILINE)
    assert errors, report
    assert not [e for e in errors if e[0] == "good_plugin"], report
    marked = {
        number
        for number, line in enumerate(textwrap.dedent(BAD).splitlines(), start=1)
        if "# E" in line
    }
    assert {int(line) for _, line, _ in errors} == marked, report
    assert done.returncode == 1
    assert (
        'Value of type variable "_OnTrainBatchEndImpl" of "__call__" of "_OnTrainBatchEndMarker" '
        'cannot be "Callable[[TrainerState, str], None]"' in report
    )
    assert 'TypedDict "TrainerState" has no key "global_stepp"' in report
    assert "incompatible with supertype" in report


def test_callback_methods_match_the_specs() -> None:
    """``Callback``'s typed methods (which a subclass's overrides are checked against) take the
    hook's arguments by the same names, in the same order, and return what the hook returns."""
    import inspect

    for hook in hookspecs.HOOK_NAMES:
        spec_params, spec_return = _typegen.hook_signature(hook)
        method = inspect.signature(getattr(Callback, hook))
        names = [p for p in method.parameters if p != "self"]
        assert names == [name for name, _ in spec_params], hook
        assert str(method.return_annotation) == spec_return, hook


def test_trainer_state_requires_exactly_what_the_trainer_always_sets() -> None:
    """``TrainerState``'s required keys are those of every hook call's state; the
    ``NotRequired`` ones are those the trainer adds for some hooks only."""
    annotations = TrainerState.__annotations__
    texts = {k: getattr(v, "__forward_arg__", str(v)) for k, v in annotations.items()}
    optional = {k for k, text in texts.items() if text.startswith("NotRequired[")}
    required = set(annotations) - optional
    trainer = run_fit([], epochs=1, batches=2, test=False).trainer
    assert set(trainer.get_state()) == required
    full = trainer.get_state(metrics={}, optimizers=[], lr_schedulers=[])
    # sanity_check is set only during the sanity pass (tests/core/test_sanity_pass.py),
    # accumulating only in batch hooks inside an accumulation window
    # (tests/core/test_training_features.py).
    assert set(full) == set(annotations) - {"sanity_check", "accumulating"}
