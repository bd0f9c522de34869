"""Exact resume with the training features on (issue 13 item 10, DESIGN.md decision 23):
gradient accumulation (from checkpoints at optimizer steps, and from one taken inside an
accumulation window, which holds the gradients accumulated so far), gradient clipping and
bf16 autocast. A resumed run ends with the uninterrupted run's weights, to the bit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ckpt_training import Run, assert_same_tensors, load, train
from hookwise import Callback, trainer_api

EPOCHS = 2
STEP_CHECKPOINTS = {"epoch_based": False, "checkpoint_period": 1, "keep_last": None}

# name -> Trainer keyword arguments; 6 batches an epoch, SGD with Nesterov momentum and a
# per-step OneCycleLR, a shuffled loader and dropout (see ckpt_training).
FEATURES: dict[str, dict[str, Any]] = {
    # windows of 4 and 2 batches an epoch: the last window is shorter
    "accumulation": {"accumulate_grad_batches": 4},
    "clipping-norm": {"gradient_clip_val": 0.05},
    "clipping-value": {"gradient_clip_val": 0.01, "gradient_clip_algorithm": "value"},
    "bf16": {"precision": "bf16"},
    "all": {"accumulate_grad_batches": 3, "gradient_clip_val": 0.05, "precision": "bf16"},
}


class SaveInsideWindow(Callback):
    """Saves a checkpoint at the end of batch ``batch`` of epoch ``epoch``, inside an
    accumulation window (as a plugin's own save, or an emergency checkpoint, may)."""

    def __init__(self, path: Path, epoch: int = 1, batch: int = 1) -> None:
        super().__init__()
        self.path, self.epoch, self.batch = path, epoch, batch

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if (trainer_state["current_epoch"], batch_idx) == (self.epoch, self.batch):
            assert trainer_state.get("accumulating")
            trainer_api(trainer_state).save_checkpoint(self.path)


def _train(folder: Path, features: dict[str, Any], **kwargs: Any) -> Run:
    return train(
        folder,
        epochs=EPOCHS,
        plugins=[("checkpoint", STEP_CHECKPOINTS)],
        optimizer="sgd",
        scheduler="step",
        **features,
        **kwargs,
    )


def _assert_same_run(resumed: Run, full: Run) -> None:
    assert_same_tensors(resumed.model.state_dict(), full.model.state_dict(), "model")
    assert_same_tensors(resumed.optimizer.state_dict(), full.optimizer.state_dict(), "optimizer")
    assert resumed.trainer.global_step == full.trainer.global_step
    assert resumed.trainer.metrics["val/loss"] == full.trainer.metrics["val/loss"]


@pytest.mark.parametrize("feature", list(FEATURES))
def test_resume_mid_epoch_with_the_feature_is_exact(tmp_path: Path, feature: str) -> None:
    features = FEATURES[feature]
    full = _train(tmp_path / "full", features)
    mid_epoch = [
        c for c in sorted(full.folder.glob("epoch=*.ckpt")) if not load(c)["epoch_complete"]
    ]
    assert mid_epoch, full.files()
    for index, checkpoint in enumerate(mid_epoch[:2]):
        assert load(checkpoint)["window_batches"] == 0  # taken at an optimizer step
        resumed = _train(
            tmp_path / f"resumed-{index}", features, resume_from=checkpoint, init_seed=1234
        )
        _assert_same_run(resumed, full)


@pytest.mark.parametrize("feature", ["accumulation", "all"])
def test_resume_from_inside_an_accumulation_window_is_exact(tmp_path: Path, feature: str) -> None:
    features = FEATURES[feature]
    inside = tmp_path / "inside.ckpt"
    full = _train(tmp_path / "full", features, callbacks=[SaveInsideWindow(inside)])
    data = load(inside)
    assert (data["epoch"], data["batch_in_epoch"], data["window_batches"]) == (1, 2, 2)
    assert set(data["accumulated_grads"]) == {name for name, _ in full.model.named_parameters()}
    resumed = _train(
        tmp_path / "resumed",
        features,
        callbacks=[SaveInsideWindow(tmp_path / "again.ckpt")],
        resume_from=inside,
        init_seed=1234,
    )
    _assert_same_run(resumed, full)


def test_resume_inside_a_window_needs_the_accumulated_gradients(tmp_path: Path) -> None:
    """Without them (the entry removed) the resumed window misses its first batches: the run
    differs, so the entry is what makes the resume above exact."""
    import torch

    features = FEATURES["accumulation"]
    inside = tmp_path / "inside.ckpt"
    full = _train(tmp_path / "full", features, callbacks=[SaveInsideWindow(inside)])
    data = load(inside)
    del data["accumulated_grads"]
    torch.save(data, tmp_path / "edited.ckpt")
    resumed = _train(
        tmp_path / "resumed",
        features,
        callbacks=[SaveInsideWindow(tmp_path / "again.ckpt")],
        resume_from=tmp_path / "edited.ckpt",
        init_seed=1234,
    )
    assert not torch.equal(
        resumed.model.state_dict()["body.0.weight"], full.model.state_dict()["body.0.weight"]
    )
