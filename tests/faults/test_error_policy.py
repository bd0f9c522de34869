"""A plugin raises: the per-plugin error policy (raise / warn / disable), for real, in a fit."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import pytest
import torch
from faultkit import (
    FileRecorder,
    TinyModel,
    fit,
    hooks_of,
    isolated_pm,
    make_trainer,
    read_events,
    tiny_loss,
)
from hookwise import Callback, ConfigError, PluginManager, Trainer
from hookwise.checkpointing import load_checkpoint
from torch import nn


class Failing(Callback):
    """Raises in ``on_train_batch_end`` from step ``at_step`` on; counts its calls."""

    def __init__(self, at_step: int = 2) -> None:
        super().__init__()
        self.at_step = at_step
        self.calls = 0
        self.epoch_ends = 0

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.calls += 1
        step = trainer_state["global_step"]
        if step >= self.at_step:
            raise RuntimeError(f"injected failure at step {step}")

    def on_train_epoch_end(self, trainer_state: Any, model: nn.Module, loss_module: Any) -> None:
        self.epoch_ends += 1


class Emergency(Callback):
    """What the checkpoint plugin does on a fatal failure: save the run, here to ``path``."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.calls: list[tuple[bool, str]] = []

    def on_exception(
        self, trainer_state: Any, model: nn.Module, exception: BaseException, fatal: bool
    ) -> None:
        self.calls.append((fatal, str(exception)))
        if fatal:
            trainer_state["train_module"].save_checkpoint(self.path)


class Counter(Callback):
    """Counts ``on_train_batch_end`` calls (registered after the failing plugin)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> dict[str, float]:
        self.calls += 1
        return {"counted": float(self.calls)}


def _setup(tmp_path: Path, policy: str) -> tuple[Any, Failing, Emergency, Counter, Path]:
    pm = isolated_pm()
    failing, counter = Failing(at_step=2), Counter()
    emergency = Emergency(tmp_path / "emergency.ckpt")
    events = tmp_path / "events.jsonl"
    pm.register(FileRecorder(events), "recorder")
    pm.register(failing, "failing", on_error=policy)
    pm.register(counter, "counter")
    pm.register(emergency, "emergency")
    trainer = make_trainer(tmp_path / "run", plugins=pm, epochs=2, batches=3)
    return trainer, failing, emergency, counter, events


@pytest.mark.fault("policy.raise")
def test_raise_ends_the_run_naming_plugin_hook_and_step_after_fatal_on_exception(
    tmp_path: Path,
) -> None:
    trainer, _, emergency, counter, events = _setup(tmp_path, "raise")
    with pytest.raises(RuntimeError, match="injected failure at step 2") as info:
        fit(trainer)
    notes = getattr(info.value, "__notes__", [])
    assert "plugin 'failing' failed in hook 'on_train_batch_end' at epoch 0, step 2" in notes
    rendered = "".join(traceback.format_exception(info.value))
    assert "plugin 'failing' failed in hook 'on_train_batch_end' at epoch 0, step 2" in rendered
    # on_exception(fatal=True) ran before the error left fit, once, with the state at the failure.
    assert emergency.calls == [(True, "injected failure at step 2")]
    saved = load_checkpoint(emergency.path)
    assert saved["global_step"] == 2 and saved["epoch"] == 0 and not saved["epoch_complete"]
    assert torch.equal(
        saved["model"]["out.weight"],
        trainer._model.out.weight.detach(),  # type: ignore[union-attr]
    )
    # The run stopped at the failing hook: the plugins after it in that call did not run, no
    # later batch started and the fit did not end normally.
    hooks = hooks_of(read_events(events))
    assert hooks.count("on_train_batch_start") == 2
    assert "on_fit_end" not in hooks and hooks[-1] == "on_exception"
    assert counter.calls == 1 and trainer.global_step == 2
    assert trainer.pm.failures == {}


@pytest.mark.fault("policy.warn")
def test_warn_reports_once_counts_the_rest_and_training_goes_on(
    tmp_path: Path, hookwise_logs: pytest.LogCaptureFixture
) -> None:
    trainer, failing, emergency, counter, events = _setup(tmp_path, "warn")
    fit(trainer)
    assert trainer.global_step == 6 and trainer.epoch == 2  # the whole run happened
    assert failing.calls == 6 and failing.epoch_ends == 2
    # Every later plugin of the same hook call still ran, every time.
    assert counter.calls == 6 and trainer.metrics["train/counted"] == 6.0
    reports = [r for r in hookwise_logs.records if "failed in hook" in r.getMessage()]
    assert len(reports) == 1, [r.getMessage() for r in reports]
    message = reports[0].getMessage()
    assert "plugin 'failing' failed in hook 'on_train_batch_end' at epoch 0, step 2" in message
    assert "on_error=warn" in message
    assert "Traceback (most recent call last)" in message and "injected failure" in message
    failure = trainer.pm.failures["failing"]
    assert failure.count == 5 and failure.policy == "warn" and failure.hook == "on_train_batch_end"
    assert "injected failure at step 6" in str(failure.exception)
    summary = [r.getMessage() for r in hookwise_logs.records if "5 times" in r.getMessage()]
    assert summary and "failing" in summary[0], [r.getMessage() for r in hookwise_logs.records]
    # Tolerated failures reach on_exception with fatal=False, and no emergency checkpoint.
    assert [fatal for fatal, _ in emergency.calls] == [False] * 5
    assert not emergency.path.exists()
    assert hooks_of(read_events(events))[-1] == "on_fit_end"


@pytest.mark.fault("policy.disable")
def test_disable_unregisters_after_the_first_failure(
    tmp_path: Path, hookwise_logs: pytest.LogCaptureFixture
) -> None:
    trainer, failing, emergency, counter, _ = _setup(tmp_path, "disable")
    fit(trainer)
    assert trainer.global_step == 6
    assert "failing" not in trainer.pm.plugin_names()
    assert trainer.pm.hook_order("on_train_batch_end") == ["recorder", "counter"]
    # Two calls (steps 1 and 2), the second failed; no hook of it ran afterwards.
    assert failing.calls == 2 and failing.epoch_ends == 0
    assert counter.calls == 6
    reports = [r.getMessage() for r in hookwise_logs.records if "failed in hook" in r.getMessage()]
    assert len(reports) == 1 and "disabled for the rest of the run" in reports[0]
    assert trainer.pm.failures["failing"].count == 1
    assert emergency.calls == [(False, "injected failure at step 2")]
    assert not emergency.path.exists()
    # Its state is not saved any more either.
    assert "failing" not in trainer.checkpoint_state()["plugins"]


@pytest.mark.fault("policy.invalid")
def test_an_unknown_policy_is_refused_before_anything_runs() -> None:
    pm = isolated_pm()
    with pytest.raises(ConfigError, match=r"plugin 'x': on_error must be one of .*'raise'"):
        pm.register(Failing(), "x", on_error="ignore")
    with pytest.raises(ConfigError, match=r"faultkit:FileRecorder.*on_error must be one of"):
        pm.enable("faultkit:FileRecorder", path="unused", on_error="sometimes")
    assert pm.plugin_names() == []


@pytest.mark.fault("policy.raise", "policy.warn")
def test_policy_given_by_name_when_enabling(tmp_path: Path) -> None:
    """``enable(name, on_error=...)``: the policy is the manager's, never a plugin parameter."""
    pm = isolated_pm()
    pm.enable("faultkit:Flaky", on_error="warn")
    trainer = make_trainer(tmp_path / "run", plugins=pm, epochs=1, batches=3)
    fit(trainer)
    assert trainer.pm.failures["faultkit:Flaky"].count == 3
    pm = isolated_pm()
    pm.enable("faultkit:Flaky")
    with pytest.raises(ValueError, match="flaky") as info:
        fit(make_trainer(tmp_path / "run2", plugins=pm, epochs=1, batches=3))
    assert any("'faultkit:Flaky'" in n for n in info.value.__notes__)


@pytest.mark.fault("policy.loop-failure")
def test_a_failing_model_reports_fatal_and_names_the_position(tmp_path: Path) -> None:
    class Exploding(TinyModel):
        def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
            if self.training:
                if self.calls == 4:
                    raise FloatingPointError("the model blew up")
                self.calls += 1
            return super().forward(inputs)

    emergency = Emergency(tmp_path / "emergency.ckpt")
    trainer = make_trainer(tmp_path / "run", callbacks=[emergency], epochs=3, batches=3)
    model = Exploding()
    model.calls = 0
    with pytest.raises(FloatingPointError) as info:
        trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), loss_module=tiny_loss)
    assert "hookwise: the run failed at epoch 1, step 4" in info.value.__notes__
    assert emergency.calls == [(True, "the model blew up")]
    assert load_checkpoint(emergency.path)["global_step"] == 4


@pytest.mark.fault("policy.on-exception-fails")
def test_a_failing_on_exception_never_hides_the_original_error(
    tmp_path: Path, hookwise_logs: pytest.LogCaptureFixture
) -> None:
    class BrokenHandler(Callback):
        def on_exception(
            self, trainer_state: Any, model: nn.Module, exception: BaseException, fatal: bool
        ) -> None:
            raise OSError("disk full while handling the failure")

    emergency = Emergency(tmp_path / "emergency.ckpt")
    pm = isolated_pm()
    pm.register(Failing(at_step=1), "failing")
    pm.register(BrokenHandler(), "broken")
    pm.register(emergency, "emergency")
    with pytest.raises(RuntimeError, match="injected failure at step 1"):
        fit(make_trainer(tmp_path / "run", plugins=pm, epochs=1))
    logged = [
        r
        for r in hookwise_logs.records
        if "'broken' failed in hook 'on_exception'" in r.msg % r.args
    ]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "disk full" in str(logged[0].exc_info[1])
    assert emergency.calls == [(True, "injected failure at step 1")] and emergency.path.exists()


# An expected manifest change: the resume leaves out the failing plugin.
@pytest.mark.filterwarnings("ignore::hookwise.ManifestChangedWarning")
@pytest.mark.fault("policy.raise-emergency-checkpoint")
def test_the_checkpoint_plugin_saves_the_run_on_fatal_failures_only(tmp_path: Path) -> None:
    def run(folder: Path, policy: str) -> Trainer:
        pm = PluginManager()  # the installed plugins, the bundled checkpoint plugin among them
        pm.enable("checkpoint")
        pm.register(Failing(at_step=4), "failing", on_error=policy)
        return make_trainer(folder, plugins=pm, epochs=2, batches=3)

    fatal = run(tmp_path / "fatal", "raise")
    with pytest.raises(RuntimeError, match="injected failure at step 4"):
        fit(fatal)
    emergency = tmp_path / "fatal" / "checkpoints" / "emergency.ckpt"
    saved = load_checkpoint(emergency)
    assert saved["global_step"] == 4 and saved["epoch"] == 1
    assert torch.equal(saved["model"]["out.weight"], fatal._model.out.weight.detach())  # type: ignore[union-attr]
    # It resumes (the newest checkpoint, so "last" picks it) once the cause is gone.
    resumed = make_trainer(tmp_path / "fatal", epochs=2, batches=3)
    fit(resumed, resume_from="last")
    assert resumed.global_step == 6

    tolerated = run(tmp_path / "tolerated", "warn")
    fit(tolerated)
    assert tolerated.pm.failures["failing"].count == 3
    assert not (tmp_path / "tolerated" / "checkpoints" / "emergency.ckpt").exists()
    assert (tmp_path / "tolerated" / "checkpoints" / "last.ckpt").exists()
