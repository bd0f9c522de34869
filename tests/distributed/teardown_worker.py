"""A torchrun worker for ``test_teardown.py``: ``torchrun --nproc-per-node=2 THIS OUT``.

A short DDP fit, then the object collectives with payloads whose sizes differ per rank, and
the process ends right after its last collective call without closing anything itself: the
pattern that made a rank abort at exit ("terminate called without an active exception") when
a gloo worker thread released the call's tensors while the interpreter was finalizing. The
last call broadcasts a few megabytes, so that gloo's worker thread is still busy with it when
the process ends: with the helpers of an earlier version (which kept the tensors but not the
call) about one launch in five aborted this way.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from hookwise import DataConnector, Trainer
from hookwise.collectives import RETAINED, retained_count
from hookwise.distributed import all_gather_object, broadcast, get_rank
from hookwise.testing import TinyData, TinyModel, tiny_loss
from torch.utils.data import DataLoader

#: The size of the last broadcast (see the module's docstring).
LAST_PAYLOAD_BYTES = 4_000_000


def _fit(out: Path) -> int:
    torch.manual_seed(0)
    data = TinyData(16)
    model = TinyModel()
    trainer = Trainer(
        device="cpu",
        train_data_connector=DataConnector({"inputs": "inputs"}),
        output_dir=out / "run",
        train_dataloader=DataLoader(data, batch_size=4, shuffle=True),
        num_epochs=1,
    )

    trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), None, tiny_loss())
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
    all_gather_object(("done", rank))
    last = broadcast(b"z" * LAST_PAYLOAD_BYTES, src=1)  # the process ends right after it
    assert len(last) == LAST_PAYLOAD_BYTES


if __name__ == "__main__":
    main(Path(sys.argv[1]))
