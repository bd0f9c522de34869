"""A torchrun worker for ``test_teardown.py``: ``torchrun --nproc-per-node=2 THIS OUT``.

A short DDP fit, then the object collectives with payloads whose sizes differ per rank, and
the process ends right after its last collective call without closing anything itself: the
pattern that made a rank abort at exit ("terminate called without an active exception") when
a gloo worker thread freed the call's tensors while the interpreter was finalizing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from hookwise import Trainer
from hookwise.collectives import RETAINED, retained_count
from hookwise.distributed import all_gather_object, broadcast, get_rank
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(4, 2)

    def forward(self, batch: list[torch.Tensor]) -> torch.Tensor:
        return self.body(batch[0])


def _fit(out: Path) -> int:
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(16, 4), torch.randint(0, 2, (16,)))
    model = Net()
    trainer = Trainer(
        device="cpu",
        output_dir=out / "run",
        train_dataloader=DataLoader(data, batch_size=4, shuffle=True),
        num_epochs=1,
    )

    def loss(outputs: torch.Tensor, batch: list[torch.Tensor]) -> torch.Tensor:
        return nn.functional.cross_entropy(outputs, batch[1])

    trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), None, loss)
    return trainer.global_step


def main(out: Path) -> None:
    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    rank = get_rank()
    steps = _fit(out)
    from_one = broadcast({"sender": rank, "text": "x" * (10 + 90 * rank)}, src=1)
    many = [all_gather_object("y" * (rank + 1) * 7) for _ in range(2 * RETAINED)]
    report = {
        "rank": rank,
        "steps": steps,
        "from_one": from_one,
        "gathered": many[-1],
        "retained": retained_count(),
    }
    (out / f"rank{rank}.json").write_text(json.dumps(report))
    all_gather_object(("done", rank))  # the last call; the process ends right after it


if __name__ == "__main__":
    main(Path(sys.argv[1]))
