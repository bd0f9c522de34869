"""A torchrun worker for ``test_elastic.py``: ``torchrun --max-restarts=1 THIS OUT``.

On the first attempt rank 1 fails in a hook at step 5, after the checkpoint plugin saved
step 4; torchrun restarts both workers against the same rendezvous store, and the second
attempt must join a fresh group (not the stale addresses of the first), continue from the
step-4 checkpoint on its own (``resume_on_restart``) and end where an uninterrupted run ends.

Its :class:`KillOnFirstAttempt` plugin does the same to ``hookwise fit`` (``test_elastic.py``'s
command-line test), by SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import torch
from hookwise import Callback, DataConnector, Trainer
from hookwise.distributed import get_rank, get_world_size
from hookwise.testing import TinyData, TinyModel, tiny_loss
from torch import nn
from torch.utils.data import DataLoader

ATTEMPT = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))


class FailFirstAttempt(Callback):
    """Raises on rank 1 at step 5 of the first attempt."""

    def on_train_batch_start(
        self, trainer_state: Any, model: Any, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        if ATTEMPT == 0 and get_rank() == 1 and trainer_state["global_step"] == 5:
            raise RuntimeError("rank 1 fails on the first attempt")


class KillOnFirstAttempt(Callback):
    """``-p elastic_worker:KillOnFirstAttempt:rank=R,step=S`` for ``hookwise fit``: on the
    first attempt, rank ``R`` kills itself (SIGKILL: no handler, no clean-up) when step ``S``
    starts, as a lost process would end."""

    def __init__(self, rank: int = 1, step: int = 5) -> None:
        super().__init__()
        self.rank, self.step = rank, step

    def on_train_batch_start(
        self, trainer_state: Any, model: Any, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        if ATTEMPT == 0 and get_rank() == self.rank and trainer_state["global_step"] == self.step:
            print(f"rank {self.rank} kills itself at step {self.step}", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)


def _fit(folder: Path, **settings: Any) -> tuple[Trainer, nn.Module]:
    torch.manual_seed(0)
    data = TinyData(32)
    model = TinyModel()
    trainer = Trainer(
        device="cpu",
        train_data_connector=DataConnector({"inputs": "inputs"}),
        output_dir=folder,
        train_dataloader=DataLoader(data, batch_size=4, shuffle=True),
        callbacks=[FailFirstAttempt()],
        plugins=[("checkpoint", {"epoch_based": False, "checkpoint_period": 2})],
        num_epochs=2,
        seed=3,
        **settings,
    )

    trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), None, tiny_loss())
    return trainer, model


def main(out: Path) -> None:
    torch.set_num_threads(1)
    trainer, model = _fit(out / "run")
    resumed = trainer.resumed_from
    _, twin = _fit(out / "twin", resume_on_restart=False)  # uninterrupted, same seed
    report = {
        "attempt": ATTEMPT,
        "world": get_world_size(),
        "steps": trainer.global_step,
        "resumed_from": resumed.name if resumed is not None else None,
        "equal": all(
            torch.equal(a, b)
            for a, b in zip(model.state_dict().values(), twin.state_dict().values(), strict=True)
        ),
    }
    (out / f"rank{get_rank()}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
