"""On a GPU: ``precision="fp16"`` trains under float16 autocast with a gradient scaler (its
state in the checkpoint, restored on resume) and plugins see unscaled gradients; ``bf16`` on
CUDA. Skipped, with its reason, where there is no GPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import hookimpl
from hookwise.testing import run_fit

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="needs a CUDA GPU (torch.cuda.is_available() is False)",
    ),
]

STEP_CHECKPOINTS = {"epoch_based": False, "checkpoint_period": 2, "keep_last": None}


class Seen:
    """The output dtypes and the largest gradient norm ``on_before_optimizer_step`` sees."""

    def __init__(self) -> None:
        self.dtypes: set[torch.dtype] = set()
        self.norms: list[float] = []

    @hookimpl
    def on_train_batch_end(self, outputs: Any) -> None:
        self.dtypes.add(outputs["logits"].dtype)

    @hookimpl
    def on_before_optimizer_step(self, model: Any) -> None:
        grads = [p.grad.norm() for p in model.parameters() if p.grad is not None]
        self.norms.append(float(torch.stack(grads).norm()))


def test_fp16_trains_with_a_gradient_scaler_and_clips_unscaled_gradients(tmp_path: Path) -> None:
    seen = Seen()
    result = run_fit(
        [seen, ("checkpoint", STEP_CHECKPOINTS)],
        tmp_path=tmp_path,
        device="cuda",
        precision="fp16",
        gradient_clip_val=0.01,
        accumulate_grad_batches=2,
        batches=4,
    )
    assert seen.dtypes == {torch.float16}
    assert max(seen.norms) <= 0.01 * (1 + 1e-3)  # unscaled (the scale is 65536) and clipped
    assert result.model.linear.weight.dtype == torch.float32
    last = torch.load(result.output_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["grad_scaler"]["scale"] > 0


def test_fp16_resume_restores_the_scaler_and_is_exact(tmp_path: Path) -> None:
    options: dict[str, Any] = {
        "device": "cuda",
        "precision": "fp16",
        "accumulate_grad_batches": 2,
        "batches": 4,
        "epochs": 3,
        "test": False,
    }
    full = run_fit([("checkpoint", STEP_CHECKPOINTS)], tmp_path=tmp_path / "full", **options)
    checkpoint = sorted(full.output_dir.glob("checkpoints/epoch=1-*.ckpt"))[0]
    resumed = run_fit(
        [("checkpoint", STEP_CHECKPOINTS)],
        tmp_path=tmp_path / "resumed",
        resume_from=checkpoint,
        **options,
    )
    scaler = resumed.trainer._optimization.scaler
    assert scaler is not None
    assert scaler.get_scale() == full.trainer._optimization.scaler.get_scale()  # type: ignore[union-attr]
    for a, b in zip(resumed.model.parameters(), full.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_bf16_on_cuda(tmp_path: Path) -> None:
    seen = Seen()
    run_fit([seen], tmp_path=tmp_path, device="cuda", precision="bf16", epochs=1)
    assert seen.dtypes == {torch.bfloat16}
