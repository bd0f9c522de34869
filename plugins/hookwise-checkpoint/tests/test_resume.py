"""Exact resume: a run stopped and resumed ends with the same weights, to the bit, as a run
that never stopped, from epoch checkpoints and from mid-epoch step checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from ckpt_training import Run, assert_same_tensors, load, train

EPOCHS = 4

# name -> (checkpoint plugin parameters, train() keyword arguments); every checkpoint is kept
# (keep_last=None), to resume from each.
CONFIGS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # Adam + StepLR per epoch; a checkpoint after every epoch's validation.
    "epoch": ({"keep_last": None}, {}),
    # Validation every 2nd epoch: the other epochs are saved at on_train_epoch_end, before the
    # epoch's scheduler step (which the resume then makes).
    "epoch-without-validation": ({"keep_last": None}, {"check_val_every_n_epoch": 2}),
    # SGD with Nesterov momentum + OneCycleLR per step, step validation every 5 steps, a
    # checkpoint every 4 steps: most checkpoints are mid-epoch (6 batches an epoch).
    "step": (
        {"epoch_based": False, "checkpoint_period": 4, "keep_last": None},
        {"optimizer": "sgd", "scheduler": "step", "val_check_interval": 5},
    ),
}


def _uninterrupted(tmp_path: Path, config: str) -> Run:
    params, kwargs = CONFIGS[config]
    return train(tmp_path / "full", epochs=EPOCHS, plugins=[("checkpoint", params)], **kwargs)


def _resumed(tmp_path: Path, config: str, name: str, checkpoint: Path | str, **extra: Any) -> Run:
    params, kwargs = CONFIGS[config]
    return train(
        tmp_path / name,
        epochs=EPOCHS,
        plugins=[("checkpoint", params)],
        resume_from=checkpoint,
        init_seed=1234,  # other initial weights and RNG states than the uninterrupted run
        **{**kwargs, **extra},
    )


def _assert_same_run(resumed: Run, full: Run) -> None:
    assert_same_tensors(resumed.model.state_dict(), full.model.state_dict(), "model")
    assert_same_tensors(resumed.optimizer.state_dict(), full.optimizer.state_dict(), "optimizer")
    assert resumed.trainer.global_step == full.trainer.global_step
    assert resumed.trainer.metrics["val/loss"] == full.trainer.metrics["val/loss"]


@pytest.mark.parametrize("config", list(CONFIGS))
def test_resume_from_every_checkpoint_is_exact(tmp_path: Path, config: str) -> None:
    full = _uninterrupted(tmp_path, config)
    checkpoints = sorted(full.folder.glob("epoch=*.ckpt"))
    expected = 4 if config != "step" else 6
    assert len(checkpoints) == expected, full.files()
    if config == "step":  # most of them were taken in the middle of an epoch
        mid_epoch = [c for c in checkpoints if not load(c)["epoch_complete"]]
        assert {load(c)["batch_in_epoch"] for c in mid_epoch} >= {2, 4}
    for index, checkpoint in enumerate(checkpoints[:-1]):
        resumed = _resumed(tmp_path, config, f"resumed-{index}", checkpoint)
        _assert_same_run(resumed, full)


@pytest.mark.parametrize("config", ["epoch", "step"])
def test_stopped_run_resumed_from_last_is_exact(tmp_path: Path, config: str) -> None:
    """Stop a run part-way (after 2 epochs, or at step 10, mid-epoch), start a new trainer on
    the same folder with ``resume_from="last"``: it ends where the uninterrupted run ends."""
    full = _uninterrupted(tmp_path, config)
    params, kwargs = CONFIGS[config]
    folder = tmp_path / "stopped"
    if config == "epoch":
        stopped = train(folder, epochs=2, plugins=[("checkpoint", params)], **kwargs)
        assert load(stopped.folder / "last.ckpt")["epoch"] == 1
    else:
        stopped = train(
            folder, epochs=EPOCHS, num_steps=10, plugins=[("checkpoint", params)], **kwargs
        )
        last = load(stopped.folder / "last.ckpt")
        assert (last["global_step"], last["batch_in_epoch"], last["epoch_complete"]) == (
            8,
            2,
            False,
        )
    resumed = train(
        folder,
        epochs=EPOCHS,
        plugins=[("checkpoint", params)],
        resume_from="last",
        init_seed=99,
        **kwargs,
    )
    _assert_same_run(resumed, full)
    assert resumed.files() == full.files()


def _edited(checkpoint: Path, target: Path, **changes: Any) -> Path:
    data = load(checkpoint)
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    torch.save(data, target)
    return target


def test_resume_needs_the_rng_state_and_the_data_position(tmp_path: Path) -> None:
    """Controls: the comparison above is sensitive. Without the saved RNG state (dropout masks
    differ) or with the batches already used not skipped, the resumed run ends elsewhere."""
    full = _uninterrupted(tmp_path, "step")
    mid_epoch = full.folder / "epoch=1-step=8.ckpt"
    assert load(mid_epoch)["batch_in_epoch"] == 2

    exact = _resumed(tmp_path, "step", "exact", mid_epoch)
    _assert_same_run(exact, full)

    no_rng = _edited(mid_epoch, tmp_path / "no-rng.ckpt", rng=None)
    without_rng = _resumed(tmp_path, "step", "without-rng", no_rng)
    assert not torch.equal(
        without_rng.model.state_dict()["body.0.weight"], full.model.state_dict()["body.0.weight"]
    )

    no_skip = _edited(mid_epoch, tmp_path / "no-skip.ckpt", batch_in_epoch=0)
    without_skip = _resumed(tmp_path, "step", "without-skip", no_skip)
    assert not torch.equal(
        without_skip.model.state_dict()["body.0.weight"], full.model.state_dict()["body.0.weight"]
    )


def test_checkpoint_written_after_fit_resumes_at_the_next_epoch(tmp_path: Path) -> None:
    """``Trainer.save_checkpoint`` after ``fit`` returns holds the position "start of the
    next epoch": continuing from it to more epochs equals training that long in one go."""
    short = train(tmp_path / "short", epochs=2)
    after_fit = short.trainer.save_checkpoint(tmp_path / "after-fit.ckpt")
    full = train(tmp_path / "full", epochs=EPOCHS)
    resumed = train(tmp_path / "resumed", epochs=EPOCHS, resume_from=after_fit, init_seed=5)
    assert_same_tensors(resumed.model.state_dict(), full.model.state_dict(), "model")
