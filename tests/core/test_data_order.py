"""The data order a checkpoint records (``data_position``) and its continuation on another
number of processes (:mod:`hookwise.trainer.data_order`), in one process: the recipes draw
the very order the samplers draw, the rest of an epoch is split as ``DistributedSampler``
splits, a checkpoint that another number of processes wrote continues its epoch in the same
order, and what cannot be continued is refused with an error that names the sampler.

The real multi-process resumes are in ``tests/distributed/test_reshard.py``.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import Callback, DataConnector, Trainer
from hookwise.errors import CheckpointError, ConfigError
from hookwise.testing import TinyModel, tiny_loss
from hookwise.trainer.data_order import (
    ContinuedOrderSampler,
    EpochOrder,
    continue_epoch,
    epoch_order,
    global_order,
    plan_continuation,
)
from hookwise.trainer.position import Position, seed_loader
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

HERE = Path("ckpt")


class Indexed(Dataset[dict[str, torch.Tensor]]):
    """``n`` samples that carry their index."""

    def __init__(self, n: int) -> None:
        self.inputs = torch.randn(n, 4, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        inputs = self.inputs[index]
        return {"inputs": inputs, "labels": (inputs.sum() > 0).long(), "idx": torch.tensor(index)}


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize(
    ("size", "world", "drop_last"), [(24, 2, False), (11, 3, False), (11, 3, True)]
)
def test_a_distributed_recipe_draws_the_samplers_order(
    size: int, world: int, drop_last: bool, shuffle: bool
) -> None:
    data = list(range(size))
    samplers = [
        DistributedSampler(data, world, r, shuffle=shuffle, seed=9, drop_last=drop_last)
        for r in range(world)
    ]
    for sampler in samplers:
        sampler.set_epoch(4)
    loader = DataLoader(data, batch_size=2, sampler=samplers[0])
    order = epoch_order(loader, world)
    assert order.recipe is not None
    drawn = global_order(order.recipe, size, HERE)
    per_rank = [list(s) for s in samplers]
    dealt = [i for j in range(len(per_rank[0])) for i in (p[j] for p in per_rank)]
    assert dealt[: len(drawn)] == drawn  # what is dealt beyond the order is padding
    # after 2 batches of 2 on every rank (or all it has), the ranks consumed the order's start
    consumed = world * min(4, len(per_rank[0]))
    assert order.samples(2) == consumed
    assert Counter(dealt[:consumed]) == Counter(i for p in per_rank for i in p[:4])


def test_a_one_process_recipe_draws_the_loaders_order() -> None:
    for shuffle in (True, False):
        loader = DataLoader(list(range(17)), batch_size=3, shuffle=shuffle)
        seed_loader(loader, seed=5, epoch=2)
        order = epoch_order(loader, 1)
        assert order.recipe is not None
        assert global_order(order.recipe, 17, HERE) == [int(i) for b in loader for i in b]
        assert order.samples(3) == 9 and order.samples(99) == 17


def test_the_rest_is_split_as_distributed_sampler_splits() -> None:
    rest = [7, 3, 9, 1, 0]
    parts = [list(ContinuedOrderSampler(rest, 3, r)) for r in range(3)]
    assert parts == [[7, 1], [3, 0], [9, 7]]  # padded with the start, as DistributedSampler does
    assert {len(ContinuedOrderSampler(rest, 3, r)) for r in range(3)} == {2}
    assert [list(ContinuedOrderSampler([], 2, r)) for r in range(2)] == [[], []]


class Record(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, int, list[int]]] = []

    def on_train_batch_start(
        self, trainer_state: Any, model: Any, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        epoch, step = trainer_state["current_epoch"], trainer_state["global_step"]
        self.seen.append((epoch, step, [int(i) for i in batch["idx"]]))


class SaveAtStep3(Callback):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if trainer_state["global_step"] == 3:
            trainer_state["train_module"].save_checkpoint(self.path)


def _trainer(folder: Path, epochs: int, loader: DataLoader[Any], record: Record) -> Trainer:
    return Trainer(
        device="cpu",
        output_dir=folder,
        train_dataloader=loader,
        train_data_connector=DataConnector({"inputs": "inputs"}),
        callbacks=[record, SaveAtStep3(folder.parent / "mid.ckpt")],
        num_epochs=epochs,
        seed=3,
    )


def _mid_epoch_checkpoint(tmp_path: Path, loader: DataLoader[Any]) -> tuple[Path, dict[str, Any]]:
    """A checkpoint of a one-process run at step 3 (batch 3 of epoch 0)."""
    torch.manual_seed(0)
    model = TinyModel()
    path = tmp_path / "mid.ckpt"
    trainer = _trainer(tmp_path / "saved", 1, loader, Record())
    trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), None, tiny_loss())
    data: dict[str, Any] = torch.load(path, weights_only=True)
    assert not data["epoch_complete"] and data["batch_in_epoch"] == 3
    assert data["data_position"]["world_size"] == 1 and data["data_position"]["samples"] == 6
    return path, data


def _resume(tmp_path: Path, path: Path, loader: DataLoader[Any]) -> Record:
    torch.manual_seed(0)
    model, record = TinyModel(), Record()
    trainer = _trainer(tmp_path / "resumed", 2, loader, record)
    trainer.fit(
        model, torch.optim.SGD(model.parameters(), lr=0.1), None, tiny_loss(), resume_from=path
    )
    return record


def test_a_checkpoint_of_two_processes_continues_its_order_in_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    loader = DataLoader(Indexed(20), batch_size=2, shuffle=True)
    path, data = _mid_epoch_checkpoint(tmp_path, loader)
    # what two processes would have recorded at batch 3: 3 batches of 2 on each of 2 ranks
    recipe = {"sampler": "distributed", "size": 20, "shuffle": True, "seed": 3, "epoch": 0}
    recipe["total_size"] = 20
    data["data_position"] = {"world_size": 2, "samples": 12, "order": recipe, "resharded": False}
    torch.save(data, path)
    with caplog.at_level(logging.WARNING, logger="hookwise"):
        record = _resume(tmp_path, path, loader)
    epoch0 = [(step, idx) for epoch, step, idx in record.seen if epoch == 0]
    assert epoch0[0][0] == 3  # continues from the saved step
    rest = [i for _, idx in epoch0 for i in idx]
    assert rest == global_order(recipe, 20, path)[12:]  # the same order, from sample 12 on
    epoch1 = Counter(i for epoch, _, idx in record.seen if epoch == 1 for i in idx)
    assert epoch1 == Counter(range(20))
    assert "checkpoint was saved by 2, this run has 1" in caplog.text


class OwnSampler(Sampler[int]):
    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self) -> Any:
        return iter(range(self.n - 1, -1, -1))

    def __len__(self) -> int:
        return self.n


def test_an_order_hookwise_does_not_draw_is_refused_on_another_world_size(
    tmp_path: Path,
) -> None:
    loader = DataLoader(Indexed(20), batch_size=2, sampler=OwnSampler(20))
    path, data = _mid_epoch_checkpoint(tmp_path, loader)
    assert data["data_position"]["order"] is None
    assert data["data_position"]["sampler"] == "OwnSampler"
    # the same number of processes skips batches as always
    same = _resume(tmp_path, path, loader)
    assert [i for e, _, idx in same.seen if e == 0 for i in idx] == list(range(13, -1, -1))
    data["data_position"]["world_size"] = 2
    torch.save(data, path)
    with pytest.raises(CheckpointError) as caught:
        _resume(tmp_path, path, loader)
    message = str(caught.value)
    assert "OwnSampler" in message and "on 1 processes: it was saved by 2" in message
    assert "Resume with 2 processes, or from a checkpoint taken at the end of an epoch" in message


def test_what_needs_no_continuation_and_damaged_entries() -> None:
    order = {"sampler": "random", "size": 8, "seed": 1}
    saved = {"world_size": 2, "samples": 4, "order": order, "resharded": False}
    mid = {"epoch": 0, "epoch_complete": False, "data_position": saved}
    assert plan_continuation(mid, 2, HERE, rank=0) is None  # same world: skip batches
    assert plan_continuation(mid, 3, HERE, rank=0) == saved
    assert plan_continuation({**mid, "epoch_complete": True}, 3, HERE, rank=0) is None
    assert plan_continuation({"epoch": 0, "epoch_complete": False}, 3, HERE, rank=0) is None
    resharded = {**mid, "data_position": {**saved, "resharded": True}}
    assert plan_continuation(resharded, 2, HERE, rank=0) is not None  # its own batches
    with pytest.raises(CheckpointError, match="'size' is -1"):
        global_order({**order, "size": -1}, 8, HERE)
    with pytest.raises(CheckpointError, match="train dataset now has 9"):
        global_order(order, 9, HERE)
    with pytest.raises(CheckpointError, match="unknown data order 'x'"):
        global_order({**order, "sampler": "x"}, 8, HERE)
    assert EpochOrder(None, "S", 2, None, None).samples(3) is None


def test_a_checkpoint_before_the_resumed_epoch_starts_records_the_saved_position() -> None:
    saved = {"world_size": 2, "samples": 12, "order": {"sampler": "sequential", "size": 24}}
    data = {"epoch": 1, "global_step": 9, "batch_in_epoch": 3, "epoch_complete": False}
    position = Position(world_size=3)
    position.restore({**data, "data_position": saved})
    assert position.data_position() == saved  # (on_train_epoch_start, say) nothing moved yet
    position.restore(data)  # an older checkpoint: how far its epoch was is unknown
    position.batch_in_epoch = position.resume_batch  # as the fit loop sets it at epoch start
    assert position.data_position()["samples"] is None
    assert Position(world_size=3).data_position()["samples"] == 0  # before a first batch


def test_data_split_per_process_is_not_dealt_again() -> None:
    saved = {"world_size": 1, "samples": 4, "order": {"sampler": "sequential", "size": 8}}
    loader = DataLoader(list(range(8)), batch_size=2, shuffle=True)  # use_distributed_sampler=False
    with pytest.raises(ConfigError, match="RandomSampler on each process"):
        continue_epoch(loader, saved, 2, 0, 2, HERE)
    continued, order = continue_epoch(loader, saved, 1, 0, 2, HERE)  # one process: it is dealt
    assert [int(i) for b in continued for i in b] == [4, 5, 6, 7]
    assert (order.offset, order.first_batch, order.resharded) == (4, 2, True)
    assert order.samples(3) == 6
