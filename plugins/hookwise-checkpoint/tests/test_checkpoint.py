"""The checkpoint plugin in real tiny runs: which files it writes, when, what they hold, which
it keeps; errors; the DDP ``module.`` prefix."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from ckpt_training import DropoutNet, Scripted, assert_same_tensors, load, train
from hookwise import Callback, CheckpointError, ConfigError, TrainerState
from hookwise.checkpointing import load_checkpoint
from hookwise.testing import FitResult
from hookwise_checkpoint import (
    CheckpointCallback,
    best_file_name,
    load_model_weights,
    periodic_file_name,
)
from torch import nn

RunFit = Callable[..., FitResult]


def _folder(result: FitResult) -> Path:
    return result.output_dir / "checkpoints"


def _names(result: FitResult) -> list[str]:
    return sorted(p.name for p in _folder(result).glob("*.ckpt"))


def _plugin(result: FitResult) -> CheckpointCallback:
    plugin = result.pm.get_plugin("checkpoint")
    assert isinstance(plugin, CheckpointCallback)
    return plugin


def _step_lr(optimizer: torch.optim.Optimizer) -> Any:
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)


# -- loading, parameters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "params", [{"keep_last": 2}, {"monitor": "val/loss", "save_top_k": 2, "epoch_based": False}]
)
def test_plugin_is_valid(assert_plugin_valid: Callable[..., Any], params: dict[str, Any]) -> None:
    report = assert_plugin_valid("checkpoint", **params)
    assert report.distribution == "hookwise-checkpoint"
    assert {"on_train_batch_end", "on_train_epoch_end", "on_validation_end", "on_exception"} <= set(
        report.hooks["checkpoint"]
    )


class ValidationCounter(Callback):
    """State updated in ``on_validation_end``, as early stopping's is."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def on_validation_end(
        self, trainer_state: TrainerState, model: nn.Module, metrics: Mapping[str, float]
    ) -> None:
        self.count += 1

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.count = int(state_dict["count"])


def test_enabled_first_it_still_saves_after_the_others(run_fit: RunFit) -> None:
    """The plugin's hooks are ``trylast``: a checkpoint holds the state other plugins set in
    the same hook (early stopping's count, an EMA update), whatever the enabling order."""
    result = run_fit(["checkpoint", ValidationCounter()], epochs=2)
    for hook in ("on_train_batch_end", "on_train_epoch_end", "on_validation_end", "on_exception"):
        assert result.pm.hook_order(hook)[-1] == "checkpoint"
    for epoch in range(2):
        data = load(_folder(result) / periodic_file_name(epoch, 3 * (epoch + 1)))
        assert data["plugins"]["ValidationCounter"]["count"] == epoch + 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"checkpoint_period": 0}, "checkpoint_period must be an integer >= 1, got 0"),
        ({"keep_last": -1}, "keep_last must be an integer >= 0 or None, got -1"),
        ({"save_top_k": -2}, "save_top_k must be an integer >= -1"),
        ({"mode": "avg", "monitor": "val/loss"}, "mode must be 'min' or 'max', got 'avg'"),
        ({"save_top_k": 3}, "set monitor"),
        ({"monitor": "train/loss"}, "Use monitor='val/loss'"),
        ({"monitor": ""}, "monitor must be the name of a validation metric"),
        ({"keep": 3}, r"has no parameter\(s\) \['keep'\]"),
    ],
)
def test_bad_parameters_are_named(hookwise_pm: Any, params: dict[str, Any], message: str) -> None:
    hookwise_pm.use_installed_plugins()
    with pytest.raises(ConfigError, match=message):
        hookwise_pm.enable("checkpoint", **params)


def test_monitor_without_prefix_means_validation_metric() -> None:
    assert CheckpointCallback(monitor="loss").monitor == "val/loss"
    assert CheckpointCallback(monitor="val/top1/accuracy").monitor == "val/top1/accuracy"


# -- epoch checkpoints -------------------------------------------------------------------------


def test_epoch_checkpoints_are_complete_and_follow_validation(run_fit: RunFit) -> None:
    scores = [0.9, 0.8, 0.7]
    result = run_fit(["checkpoint", Scripted(scores)], epochs=3, scheduler=_step_lr)
    folder = _folder(result)
    periodic = [periodic_file_name(e, 3 * (e + 1)) for e in range(3)]
    assert _names(result) == [*periodic, "last.ckpt"]
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    for epoch, name in enumerate(periodic):
        data = load(folder / name)  # weights_only=True: a checkpoint never runs code
        assert data["format"] == "hookwise-checkpoint" and data["format_version"] == 1
        assert (data["epoch"], data["global_step"]) == (epoch, 3 * (epoch + 1))
        assert data["epoch_complete"] and data["batch_in_epoch"] == 3
        assert set(data["model"]) == {"linear.weight", "linear.bias"}
        assert len(data["optimizers"]) == 1 and len(data["lr_schedulers"]) == 1
        # StepLR(gamma=0.5) has stepped epoch + 1 times: the file comes after that step
        assert data["lr_schedulers"][0]["last_epoch"] == epoch + 1
        assert isinstance(data["rng"]["torch"], torch.Tensor)
        # written after this epoch's validation: its metric and the plugins' updated state
        assert data["metrics"]["val/score"] == scores[epoch]
        assert data["plugins"]["Scripted"]["passes"] == epoch + 1
        # the plugin's own state already lists the file it is in
        assert data["plugins"]["checkpoint"]["kept"] == periodic[: epoch + 1]
    last = load(folder / "last.ckpt")
    assert last["global_step"] == 9
    assert_same_tensors(last["model"], result.model.state_dict(), "last.ckpt")
    # the names of one checkpoint share one file (a hard link) where the file system allows
    assert os.path.samefile(folder / "last.ckpt", folder / periodic[-1])
    assert _plugin(result).kept_checkpoints == [folder / name for name in periodic]


def test_checkpoint_period(run_fit: RunFit) -> None:
    result = run_fit([("checkpoint", {"checkpoint_period": 2})], epochs=5)
    assert _names(result) == ["epoch=1-step=6.ckpt", "epoch=3-step=12.ckpt", "last.ckpt"]
    assert load(_folder(result) / "last.ckpt")["epoch"] == 3


def test_epoch_without_validation_is_saved_at_its_end(run_fit: RunFit) -> None:
    result = run_fit(["checkpoint"], epochs=3, check_val_every_n_epoch=2, scheduler=_step_lr)
    folder = _folder(result)
    assert _names(result) == [
        "epoch=0-step=3.ckpt",
        "epoch=1-step=6.ckpt",
        "epoch=2-step=9.ckpt",
        "last.ckpt",
    ]
    without = load(folder / "epoch=0-step=3.ckpt")
    assert "val/loss" not in without["metrics"]
    # taken before that epoch's scheduler step, which resuming from it makes
    assert without["lr_schedulers"][0]["last_epoch"] == 0
    assert not without["epoch_schedulers_stepped"]
    validated = load(folder / "epoch=1-step=6.ckpt")
    assert "val/loss" in validated["metrics"] and validated["epoch_schedulers_stepped"]


def test_resume_from_an_epoch_end_checkpoint_makes_the_scheduler_step(run_fit: RunFit) -> None:
    full = run_fit(["checkpoint"], epochs=3, check_val_every_n_epoch=2, scheduler=_step_lr)
    checkpoint = _folder(full) / "epoch=0-step=3.ckpt"
    resumed = run_fit(
        ["checkpoint"],
        epochs=3,
        check_val_every_n_epoch=2,
        scheduler=_step_lr,
        resume_from=checkpoint,
        tmp_path=full.output_dir.parent / "resumed",
    )
    assert_same_tensors(resumed.model.state_dict(), full.model.state_dict(), "model")
    lr = resumed.trainer._optimizers[0].param_groups[0]["lr"]
    assert lr == full.trainer._optimizers[0].param_groups[0]["lr"] == 0.1 * 0.5**3


# -- step checkpoints --------------------------------------------------------------------------


def test_step_checkpoints_are_complete(run_fit: RunFit) -> None:
    result = run_fit(
        [("checkpoint", {"epoch_based": False, "checkpoint_period": 2})],
        epochs=2,
        scheduler=_step_lr,
    )
    folder = _folder(result)
    assert _names(result) == [
        "epoch=0-step=2.ckpt",
        "epoch=1-step=4.ckpt",
        "epoch=1-step=6.ckpt",
        "last.ckpt",
    ]
    mid = load(folder / "epoch=1-step=4.ckpt")
    assert (mid["epoch"], mid["batch_in_epoch"], mid["epoch_complete"]) == (1, 1, False)
    # complete, unlike vis4d's step checkpoints: optimizer, scheduler, RNG, plugins
    assert mid["optimizers"][0]["param_groups"][0]["lr"] == 0.05
    assert mid["lr_schedulers"][0]["last_epoch"] == 1
    assert {"torch", "python"} <= set(mid["rng"])
    assert mid["plugins"]["checkpoint"]["kept"] == ["epoch=0-step=2.ckpt", "epoch=1-step=4.ckpt"]


# -- what is kept ------------------------------------------------------------------------------


def test_keep_last(run_fit: RunFit) -> None:
    result = run_fit([("checkpoint", {"keep_last": 2})], epochs=5)
    assert _names(result) == ["epoch=3-step=12.ckpt", "epoch=4-step=15.ckpt", "last.ckpt"]
    assert _plugin(result).state_dict()["kept"] == ["epoch=3-step=12.ckpt", "epoch=4-step=15.ckpt"]


def test_keep_last_zero_writes_only_last(run_fit: RunFit) -> None:
    result = run_fit([("checkpoint", {"keep_last": 0})], epochs=3)
    assert _names(result) == ["last.ckpt"]
    assert load(_folder(result) / "last.ckpt")["epoch"] == 2


SCORES = [0.5, 0.3, 0.4, 0.2, 0.6]


@pytest.mark.parametrize(
    ("mode", "top_k", "best_epochs"),
    [
        ("min", 2, [3, 1]),  # 0.2, 0.3
        ("max", 2, [4, 0]),  # 0.6, 0.5
        ("min", 1, [3]),
        ("min", -1, [3, 1, 0]),  # every checkpoint that was the best of its time
        ("max", -1, [4, 0]),
    ],
)
def test_best_k(run_fit: RunFit, mode: str, top_k: int, best_epochs: list[int]) -> None:
    params = {
        "monitor": "val/score",
        "mode": mode,
        "save_top_k": top_k,
        "keep_last": 0,
        "save_last": False,
    }
    result = run_fit([("checkpoint", params), Scripted(SCORES)], epochs=len(SCORES))
    folder = _folder(result)
    expected = [best_file_name(e, 3 * (e + 1), "val/score", SCORES[e]) for e in best_epochs]
    assert _names(result) == sorted([*expected, "best.ckpt"])
    assert expected[
        0
    ] == f"best-epoch={best_epochs[0]}-step={3 * (best_epochs[0] + 1)}-val_score=" + (
        f"{SCORES[best_epochs[0]]:.4f}.ckpt"
    )
    for epoch, name in zip(best_epochs, expected, strict=True):
        data = load(folder / name)
        assert data["epoch"] == epoch and data["metrics"]["val/score"] == SCORES[epoch]
    assert os.path.samefile(folder / "best.ckpt", folder / expected[0])
    plugin = _plugin(result)
    assert plugin.best_checkpoints == [
        (SCORES[e], folder / n) for e, n in zip(best_epochs, expected, strict=True)
    ]
    assert plugin.best_score == SCORES[best_epochs[0]]


def test_best_from_a_step_validation_is_a_mid_epoch_checkpoint(run_fit: RunFit) -> None:
    # passes: step 2 (mid-epoch 0), end of epoch 0, step 4, step 6, end of epoch 1
    scripted = Scripted([0.1, 0.9, 0.5, 0.5, 0.5], by_epoch=False)
    result = run_fit(
        [("checkpoint", {"monitor": "val/score"}), scripted], epochs=2, val_check_interval=2
    )
    best = best_file_name(0, 2, "val/score", 0.1)
    assert _names(result) == sorted(
        ["epoch=0-step=3.ckpt", "epoch=1-step=6.ckpt", best, "best.ckpt", "last.ckpt"]
    )
    data = load(_folder(result) / best)
    assert (data["global_step"], data["batch_in_epoch"], data["epoch_complete"]) == (2, 2, False)


def test_nan_never_ranks_as_best(run_fit: RunFit, caplog: pytest.LogCaptureFixture) -> None:
    params = {"monitor": "val/score", "keep_last": 0, "save_last": False}
    with caplog.at_level(logging.WARNING, logger="hookwise.checkpoint"):
        result = run_fit([("checkpoint", params), Scripted([float("nan"), 0.4, 0.5])], epochs=3)
    assert _names(result) == sorted([best_file_name(1, 6, "val/score", 0.4), "best.ckpt"])
    assert "val/score is NaN at epoch 0, step 3" in caplog.text


def test_missing_monitored_key_is_an_error_listing_the_keys(run_fit: RunFit) -> None:
    with pytest.raises(ConfigError) as info:
        run_fit([("checkpoint", {"monitor": "val/accuracy"})], epochs=2)
    message = str(info.value)
    assert "monitor='val/accuracy' is not among this validation pass's metrics" in message
    assert "['val/loss']" in message and "evaluator" in message
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "plugin 'checkpoint' failed in hook 'on_validation_end'" in notes


def test_standalone_test_pass_is_ignored(run_fit: RunFit) -> None:
    result = run_fit([("checkpoint", {"monitor": "val/loss"})], epochs=2, test=True)
    assert "test/loss" in result.test_metrics
    metrics = result.calls.values("on_validation_end", "metrics", plugin="checkpoint")
    assert [sorted(m) for m in metrics] == [["val/loss"], ["val/loss"], ["test/loss"]]
    assert len([n for n in _names(result) if n.startswith("best-")]) == 1


def test_keeping_continues_exactly_after_resume(run_fit: RunFit, tmp_path: Path) -> None:
    params = {"keep_last": 2, "monitor": "val/score", "save_top_k": 2}
    scores = [0.5, 0.3, 0.4, 0.2, 0.6, 0.25]
    full = run_fit([("checkpoint", params), Scripted(scores)], epochs=6, tmp_path=tmp_path / "a")
    stopped_at = tmp_path / "b"
    run_fit([("checkpoint", params), Scripted(scores)], epochs=3, tmp_path=stopped_at)
    resumed = run_fit(
        [("checkpoint", params), Scripted(scores)],
        epochs=6,
        tmp_path=stopped_at,
        resume_from="last",
    )
    assert _names(resumed) == _names(full)
    state, expected = _plugin(resumed).state_dict(), _plugin(full).state_dict()
    # Each run records its own folder: the files it may delete are those listed for it.
    assert state.pop("folder") == str((stopped_at / "run" / "checkpoints").resolve())
    expected.pop("folder")
    assert state == expected
    assert_same_tensors(resumed.model.state_dict(), full.model.state_dict(), "model")


# -- failures ----------------------------------------------------------------------------------


class Boom(Callback):
    """Raises in ``on_train_batch_end`` at ``global_step == at``."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def on_train_batch_end(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if trainer_state["global_step"] == self.at:
            raise RuntimeError("boom")


def test_emergency_checkpoint_holds_the_state_at_the_failure(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        train(tmp_path / "run", epochs=3, plugins=["checkpoint"], callbacks=[Boom(at=8)])
    folder = tmp_path / "run" / "checkpoints"
    emergency = load_checkpoint(folder / "emergency.ckpt")
    assert (emergency["global_step"], emergency["epoch"], emergency["batch_in_epoch"]) == (8, 1, 2)
    assert sorted(p.name for p in folder.glob("*.ckpt")) == [
        "emergency.ckpt",
        "epoch=0-step=6.ckpt",
        "last.ckpt",
    ]


def test_no_emergency_checkpoint_when_switched_off_or_before_training(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        train(
            tmp_path / "off",
            plugins=[("checkpoint", {"save_on_exception": False})],
            callbacks=[Boom(at=2)],
        )
    assert not (tmp_path / "off" / "checkpoints" / "emergency.ckpt").exists()
    # a failed resume must not leave a fresh, untrained state that "last" would then pick
    with pytest.raises(CheckpointError, match="does not exist"):
        train(tmp_path / "bad", plugins=["checkpoint"], resume_from=tmp_path / "missing.ckpt")
    assert not (tmp_path / "bad" / "checkpoints").exists()


def test_failed_write_raises_and_rolls_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the checkpoint folder should be")
    callback = CheckpointCallback(save_prefix=blocker)
    with pytest.raises(OSError), caplog.at_level(logging.ERROR):
        train(tmp_path / "run", callbacks=[callback])
    assert callback.state_dict()["kept"] == []
    assert "emergency" not in caplog.text  # no second attempt at the same failing write


# -- without a hookwise trainer (vis4d-style direct calls) --------------------------------------


def test_direct_calls_write_vis4d_layout(tmp_path: Path) -> None:
    model = DropoutNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    callback = CheckpointCallback(save_prefix=str(tmp_path))
    callback.setup()
    state = TrainerState(
        current_epoch=0,
        num_epochs=1,
        global_step=5,
        train_dataloader=None,
        num_train_batches=None,
        test_dataloader=None,
        num_test_batches=None,
        optimizers=[optimizer],
    )
    callback.on_train_epoch_end(state, model, None)
    data = load(tmp_path / "checkpoints" / "epoch=0-step=5.ckpt")
    assert (data["epoch"], data["global_step"]) == (0, 5)
    assert_same_tensors(data["state_dict"], model.state_dict(), "state_dict")
    assert data["optimizers"][0]["param_groups"][0]["lr"] == 0.1
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()


def test_a_reused_callback_follows_the_trainer_output_dir(tmp_path: Path) -> None:
    callback = CheckpointCallback(keep_last=1)
    train(tmp_path / "one", epochs=1, callbacks=[callback])
    train(tmp_path / "two", epochs=1, callbacks=[callback])
    assert callback.output_dir == tmp_path / "two" / "checkpoints"
    for run in ("one", "two"):
        assert (tmp_path / run / "checkpoints" / "epoch=0-step=6.ckpt").exists()


def test_without_save_prefix_or_trainer_the_folder_is_unknown() -> None:
    callback = CheckpointCallback()
    state = TrainerState(current_epoch=0, global_step=1)
    with pytest.raises(ConfigError, match="pass save_prefix"):
        callback.on_train_epoch_end(state, DropoutNet(), None)


# -- the DDP module. prefix, both ways ---------------------------------------------------------


def _with_prefix(path: Path, target: Path) -> Path:
    data = load(path)
    data["model"] = {f"module.{k}": v for k, v in data["model"].items()}
    torch.save(data, target)
    return target


# An expected manifest change: the resume leaves out the checkpoint plugin.
@pytest.mark.filterwarnings("ignore::hookwise.ManifestChangedWarning")
def test_module_prefix_is_handled_both_ways(tmp_path: Path) -> None:
    run = train(tmp_path / "run", epochs=2, plugins=["checkpoint"])
    plain = run.folder / "last.ckpt"
    prefixed = _with_prefix(plain, tmp_path / "ddp.ckpt")
    expected = run.model.state_dict()

    # a checkpoint whose keys carry module. into a plain model
    model = DropoutNet()
    load_model_weights(prefixed, model)
    assert_same_tensors(model.state_dict(), expected, "plain model")
    # a plain checkpoint into a wrapped model (state_dict keys with module.)
    wrapped = nn.DataParallel(DropoutNet())
    load_model_weights(plain, wrapped)
    assert_same_tensors(wrapped.module.state_dict(), expected, "wrapped model")
    # resuming training from the module.-prefixed checkpoint
    full = train(tmp_path / "full", epochs=4, plugins=["checkpoint"])
    resumed = train(tmp_path / "resumed", epochs=4, resume_from=prefixed, init_seed=3)
    assert_same_tensors(resumed.model.state_dict(), full.model.state_dict(), "resumed")


class Wrapper(nn.Module):
    """A model whose only child is called ``model``: its keys start with ``model.``."""

    def __init__(self) -> None:
        super().__init__()
        self.model = DropoutNet()

    def forward(self, inputs: torch.Tensor) -> Mapping[str, torch.Tensor]:
        return self.model(inputs)  # type: ignore[no-any-return]


# An expected manifest change: the resume leaves out the checkpoint plugin.
@pytest.mark.filterwarnings("ignore::hookwise.ManifestChangedWarning")
def test_keys_that_fit_are_never_renamed(tmp_path: Path) -> None:
    full = train(tmp_path / "full", epochs=3, plugins=["checkpoint"], model=Wrapper)
    assert next(iter(full.model.state_dict())).startswith("model.")
    first = full.folder / "epoch=0-step=6.ckpt"
    resumed = train(tmp_path / "resumed", epochs=3, resume_from=first, model=Wrapper, init_seed=4)
    assert_same_tensors(resumed.model.state_dict(), full.model.state_dict(), "model")
    fresh = Wrapper()
    load_model_weights(first, fresh)
    assert_same_tensors(fresh.state_dict(), load(first)["model"], "weights")


def test_load_model_weights_names_the_file_when_weights_do_not_fit(tmp_path: Path) -> None:
    run = train(tmp_path / "run", epochs=1, plugins=["checkpoint"])
    with pytest.raises(CheckpointError, match=r"last\.ckpt' does not fit the model"):
        load_model_weights(run.folder / "last.ckpt", nn.Linear(4, 2))
