"""The trainer API for plugins (``trainer_state["trainer"]``, :class:`hookwise.TrainerAPI`) and
the stage every hook call carries (``trainer_state["stage"]``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import (
    TRAINER_API_VERSION,
    HookwiseError,
    Trainer,
    TrainerAPI,
    TrainerState,
    hookimpl,
    trainer_api,
)


def _fit(parts: dict[str, Any], **trainer_kwargs: Any) -> Trainer:
    trainer = Trainer(**{**parts["trainer"], **trainer_kwargs})
    trainer.fit(parts["model"], parts["optimizer"], loss_module=parts["loss"])
    return trainer


def test_every_hook_gets_the_trainer_api_and_its_stage(
    fit_parts: Callable[..., dict[str, Any]],
) -> None:
    seen: list[tuple[str, str, str]] = []

    class Record:
        def _note(self, hook: str, trainer_state: TrainerState) -> None:
            trainer = trainer_api(trainer_state)
            assert trainer is trainer_state["train_module"]
            seen.append((hook, trainer_state["stage"], trainer.stage))

        @hookimpl
        def on_fit_start(self, trainer_state: TrainerState) -> None:
            self._note("on_fit_start", trainer_state)

        @hookimpl
        def on_train_batch_end(self, trainer_state: TrainerState) -> None:
            self._note("on_train_batch_end", trainer_state)

        @hookimpl
        def on_test_epoch_start(self, trainer_state: TrainerState) -> None:
            self._note("on_test_epoch_start", trainer_state)

        @hookimpl
        def on_test_batch_end(self, trainer_state: TrainerState) -> None:
            self._note("on_test_batch_end", trainer_state)

        @hookimpl
        def on_validation_end(self, trainer_state: TrainerState) -> None:
            self._note("on_validation_end", trainer_state)

        @hookimpl
        def on_fit_end(self, trainer_state: TrainerState) -> None:
            self._note("on_fit_end", trainer_state)

    parts = fit_parts(n_train=8, test_sizes=(4,))
    trainer = _fit(parts, callbacks=[Record()], num_epochs=1)
    trainer.test(parts["model"])
    stages: dict[str, set[str]] = {hook: set() for hook, _, _ in seen}
    for hook, stage, api_stage in seen:
        assert stage == api_stage
        stages[hook].add(stage)
    assert stages["on_fit_start"] == {"train"}
    assert stages["on_train_batch_end"] == {"train"}
    assert stages["on_fit_end"] == {"train"}  # after the validation pass: back to train
    for hook in ("on_test_epoch_start", "on_test_batch_end", "on_validation_end"):
        assert stages[hook] == {"val", "test"}, hook


def test_a_val_stage_trigger_runs_only_in_validation(
    fit_parts: Callable[..., dict[str, Any]],
) -> None:
    calls: list[tuple[str, str]] = []

    class ValOnly:
        @hookimpl(stages=("val",))
        def on_validation_end(self, trainer_state: TrainerState) -> None:
            calls.append(("on_validation_end", trainer_state["stage"]))

        @hookimpl(stages=("val",))
        def on_test_batch_end(self, trainer_state: TrainerState) -> None:
            calls.append(("on_test_batch_end", trainer_state["stage"]))

    parts = fit_parts(n_train=8, test_sizes=(4,))
    trainer = _fit(parts, callbacks=[ValOnly()], num_epochs=2)
    during_fit = list(calls)
    trainer.test(parts["model"])  # a standalone test: stage "test", filtered out
    assert calls == during_fit
    assert during_fit.count(("on_validation_end", "val")) == 2
    assert {stage for hook, stage in during_fit} == {"val"}
    assert ("on_test_batch_end", "val") in during_fit


def test_step_validation_inside_an_epoch_returns_to_the_train_stage(
    fit_parts: Callable[..., dict[str, Any]],
) -> None:
    stages: list[str] = []

    class Train:
        @hookimpl(stages=("train",))
        def on_train_batch_start(self, trainer_state: TrainerState) -> None:
            stages.append(trainer_state["stage"])

    parts = fit_parts(n_train=16, test_sizes=(4,))
    _fit(parts, callbacks=[Train()], num_epochs=1, val_check_interval=1)
    assert stages == ["train"] * 4


def test_log_from_any_hook_is_named_by_stage_and_attributed(
    fit_parts: Callable[..., dict[str, Any]],
) -> None:
    merges: list[dict[str, Any]] = []

    class Logs:
        @hookimpl
        def on_fit_start(self, trainer_state: TrainerState) -> None:
            trainer = trainer_api(trainer_state)
            trainer.add_log_listener(merges.append)
            trainer.add_log_listener(merges.append)  # added once
            trainer.log("started", 1)

        @hookimpl
        def on_test_batch_end(self, trainer_state: TrainerState, batch_idx: int) -> None:
            trainer_api(trainer_state).log("batch", float(batch_idx))

        @hookimpl
        def on_train_epoch_start(self, trainer_state: TrainerState) -> None:
            trainer_api(trainer_state).log("run/epoch", torch.tensor(3.0), prefix="")

        @hookimpl
        def on_fit_end(self, trainer_state: TrainerState) -> None:
            trainer_api(trainer_state).remove_log_listener(merges.append)
            trainer_api(trainer_state).log("ended", 1.0)

    parts = fit_parts(n_train=8, test_sizes=(8,))
    trainer = _fit(parts, callbacks=[Logs()], num_epochs=1)
    names = [name for merge in merges for name in merge]
    assert names.count("train/started") == 1
    assert "val/batch" in names and "run/epoch" in names
    assert "train/ended" not in names  # the listener was removed first
    assert trainer.metrics["train/ended"] == 1.0
    assert trainer.metrics["val/batch"] == 1.0  # the last batch of the pass
    assert trainer.metrics["run/epoch"] == 3.0


def test_log_refuses_a_value_that_is_not_a_number(
    fit_parts: Callable[..., dict[str, Any]],
) -> None:
    class Bad:
        @hookimpl
        def on_fit_start(self, trainer_state: TrainerState) -> None:
            trainer_api(trainer_state).log("text", "high")  # type: ignore[arg-type]

    parts = fit_parts(n_train=4)
    with pytest.raises(TypeError, match=r"plugin '.*Bad.*'.*'text' is str"):
        _fit(parts, callbacks=[Bad()], num_epochs=1)


def test_the_api_reports_settings_rank_and_stop_requests(
    fit_parts: Callable[..., dict[str, Any]],
) -> None:
    seen: dict[str, Any] = {}

    class Ask:
        @hookimpl
        def on_train_epoch_end(self, trainer_state: TrainerState) -> None:
            trainer: TrainerAPI = trainer_state["trainer"]
            seen.update(
                version=trainer.api_version,
                settings=dict(trainer.run_settings),
                rank=(trainer.rank, trainer.world_size),
                optimizers=len(trainer.optimizers),
                output_dir=trainer.output_dir,
                validates=trainer.validates_after_epoch(trainer.epoch),
                manager=trainer.plugin_manager.get_plugin("Ask") is self,
            )
            trainer.request_stop("enough")
            seen["stop"] = (trainer.should_stop, trainer.interrupted)

    parts = fit_parts(n_train=8)
    trainer = _fit(parts, callbacks=[Ask()], num_epochs=5, seed=7)
    assert seen["version"] == TRAINER_API_VERSION == trainer.api_version
    assert seen["settings"]["num_epochs"] == 5 and seen["settings"]["seed"] == 7
    assert seen["settings"]["log_every_n_steps"] == 50
    assert seen["rank"] == (0, 1) and seen["optimizers"] == 1
    assert seen["output_dir"] == parts["trainer"]["output_dir"]
    assert seen["validates"] is True and seen["manager"] is True
    assert seen["stop"] == (True, False)
    assert trainer.stop_request is not None and trainer.stop_request.reason == "enough"
    assert trainer.epoch == 1  # stopped after the first epoch
    with pytest.raises(TypeError):
        trainer.run_settings["num_epochs"] = 1  # type: ignore[index]


def test_save_checkpoint_weights_only_keeps_the_weights(
    fit_parts: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    parts = fit_parts(n_train=4)
    trainer = _fit(parts, num_epochs=1)
    full = torch.load(trainer.save_checkpoint(tmp_path / "full.ckpt"), weights_only=True)
    light = torch.load(
        trainer.save_checkpoint(tmp_path / "light.ckpt", weights_only=True), weights_only=True
    )
    assert {"optimizers", "rng", "plugins"} <= set(full)
    assert not {"optimizers", "rng", "plugins"} & set(light)
    assert light["model"].keys() == full["model"].keys() and light["global_step"] == 1


def test_trainer_api_names_the_fix_when_a_state_has_no_trainer() -> None:
    with pytest.raises(HookwiseError, match=r"no 'trainer'.*trainer_state.get\('trainer'\)"):
        trainer_api({"global_step": 0})


def test_log_listeners_is_deprecated_for_the_api_methods(tmp_path: Path) -> None:
    trainer = Trainer(device="cpu", output_dir=tmp_path / "run")
    with pytest.warns(
        DeprecationWarning,
        match=r"Trainer.log_listeners is deprecated and goes in trainer API version 2 "
        r"\(this is version 1\); use trainer_state\['trainer'\].add_log_listener",
    ):
        listeners = trainer.log_listeners
    trainer.add_log_listener(print)
    assert listeners == [print]
