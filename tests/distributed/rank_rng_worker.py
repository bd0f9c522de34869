"""A torchrun worker for ``test_rank_rng.py``: ``torchrun --nproc-per-node=2 THIS OUT [DEVICE]``
(``cpu``, the default, with gloo; ``cuda``: one GPU per process, NCCL).

Every rank's randomness is its own: a plugin seeds torch, Python's ``random`` and NumPy with a
seed of its rank at fit start, and the model draws from all three on every step (dropout,
and input noise from ``random`` and NumPy). One launch runs three fits of two epochs (8 steps)
with the checkpoint plugin saving every 3 steps:

* ``twin``: uninterrupted;
* ``first``: the same, stopped at step 5 (after the step-3 checkpoint);
* ``resumed``: resumed from the newest checkpoint (step 3, mid-epoch) to the end.

Each rank writes its final weights of ``twin`` and ``resumed`` and its RNG states at the end of
both (``OUT/<fit>-rank<r>.pt``) for the test to compare bit for bit.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy
import torch
import torch.nn.functional as F
from hookwise import Callback, Trainer
from hookwise.distributed import get_rank
from torch import nn
from torch.utils.data import DataLoader, Dataset

SEED = 5
STEPS = 8  # 16 samples, 2 ranks, batches of 2: 4 steps an epoch, 2 epochs
STOP_AT = 5
PERIOD = 3


class Samples(Dataset[dict[str, torch.Tensor]]):
    def __init__(self, size: int = 16) -> None:
        generator = torch.Generator().manual_seed(1234)
        self.inputs = torch.randn(size, 4, generator=generator)
        self.labels = (self.inputs[:, 0] > 0).long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"inputs": self.inputs[index], "labels": self.labels[index]}


class NoisyDropoutModel(nn.Module):
    """Draws from torch (dropout), ``random`` and NumPy (input noise) on every step."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(4, 16)
        self.dropout = nn.Dropout(0.5)
        self.last = nn.Linear(16, 2)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        inputs = batch["inputs"]
        noise = torch.from_numpy(numpy.random.standard_normal(tuple(inputs.shape)))
        inputs = inputs + 0.1 * noise.float().to(inputs.device) + 0.1 * random.random()
        return {"logits": self.last(self.dropout(torch.relu(self.first(inputs))))}


class PerRankSeeds(Callback):
    """Seeds every generator with a seed of its own on each rank (a resume then restores the
    checkpoint's states over these)."""

    collective_free = True

    def on_fit_start(self, trainer_state: Any, model: nn.Module) -> None:
        rank = get_rank()
        torch.manual_seed(1000 + rank)
        random.seed(2000 + rank)
        numpy.random.seed(3000 + rank)


def loss_fn(outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]) -> Any:
    return F.cross_entropy(outputs["logits"], batch["labels"])


def fit(
    folder: Path, device: str, *, num_steps: int = -1, resume: bool = False
) -> tuple[Trainer, nn.Module]:
    torch.manual_seed(99)
    model = NoisyDropoutModel()
    trainer = Trainer(
        device=device,
        output_dir=folder,
        train_dataloader=DataLoader(Samples(), batch_size=2, shuffle=True),
        callbacks=[PerRankSeeds()],
        plugins=[("checkpoint", {"epoch_based": False, "checkpoint_period": PERIOD})],
        num_epochs=2,
        num_steps=num_steps,
        seed=SEED,
        dist_timeout=60,
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer.fit(model, optimizer, None, loss_fn, resume_from="last" if resume else None)
    return trainer, model


def rng_states() -> dict[str, Any]:
    """This rank's RNG states now (plain values and tensors)."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = numpy.random.get_state()
    states = {
        "torch": torch.get_rng_state(),
        "python": [version, list(internal), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype("int64")), pos, has_gauss, cached],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def main(out: Path, device: str) -> None:
    torch.set_num_threads(1)
    rank = get_rank()
    twin, twin_model = fit(out / "twin", device)
    twin_end = {"weights": twin_model.state_dict(), "rng": rng_states(), "step": twin.global_step}
    torch.save(twin_end, out / f"twin-rank{rank}.pt")
    first, _ = fit(out / "run", device, num_steps=STOP_AT)
    assert first.global_step == STOP_AT, first.global_step
    resumed, model = fit(out / "run", device, resume=True)
    torch.save(
        {
            "weights": model.state_dict(),
            "rng": rng_states(),
            "step": resumed.global_step,
            "resumed_from": str(resumed.resumed_from),
        },
        out / f"resumed-rank{rank}.pt",
    )
    twin.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "cpu")
