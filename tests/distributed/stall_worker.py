"""A torchrun worker for ``test_watchdog.py``: ``torchrun THIS OUT STALL_TIMEOUT_S``.

Each rank writes its pid to ``OUT/pid-rank<r>``; at step 3 rank 1 stops itself (SIGSTOP, as
``kill -STOP`` would), so rank 0 waits for it in the step's gradient all-reduce.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import torch
from hookwise import Callback, DataConnector, Trainer
from hookwise.distributed import get_rank
from hookwise.testing import TinyData, TinyModel, tiny_loss
from torch.utils.data import DataLoader


class StopRankOne(Callback):
    def __init__(self, out: Path) -> None:
        super().__init__()
        self.out = out

    def on_train_batch_start(
        self, trainer_state: Any, model: Any, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer_state["global_step"] == 3 and get_rank() == 1:
            (self.out / "stopping").write_text("rank 1")
            os.kill(os.getpid(), signal.SIGSTOP)


def main(out: Path, stall_timeout_s: float) -> None:
    torch.set_num_threads(1)
    (out / f"pid-rank{get_rank()}").write_text(str(os.getpid()))
    data = TinyData(400)
    model = TinyModel()
    trainer = Trainer(
        device="cpu",
        train_data_connector=DataConnector({"inputs": "inputs"}),
        output_dir=out / "run",
        train_dataloader=DataLoader(data, batch_size=4),
        callbacks=[StopRankOne(out)],
        num_epochs=1,
        dist_stall_timeout=stall_timeout_s,
    )

    trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), None, tiny_loss())


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]))
