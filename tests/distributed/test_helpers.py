"""The distributed helpers and the trainer's distributed set-up, in one process.

The multi-process behaviour is tested through torchrun in ``test_torchrun.py``; these tests
cover what one process can show: samplers, loader rebuilding, the rank-zero-only markers
through the plugin manager's call path, and a one-rank process group the trainer creates
and destroys.
"""

from __future__ import annotations

import inspect
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import torch
import torch.distributed as dist
from hookwise import Callback, ConfigError, PluginManager, Trainer, hookimpl
from hookwise import distributed as hd
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    IterableDataset,
    SequentialSampler,
    WeightedRandomSampler,
)


class Numbers(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {
            "inputs": torch.full((4,), float(index)),
            "labels": torch.tensor(index % 2),
            "idx": torch.tensor(index),
        }


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {key: torch.stack([item[key] for item in items]) for key in items[0]}


# -- samplers and loaders -------------------------------------------------------------------------


@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("size", [0, 1, 5, 8, 11])
def test_eval_sampler_partitions_without_padding(world: int, size: int) -> None:
    shards = [list(hd.DistributedEvalSampler(range(size), world, rank)) for rank in range(world)]
    assert sorted(i for shard in shards for i in shard) == list(range(size))
    for rank, shard in enumerate(shards):
        assert len(hd.DistributedEvalSampler(range(size), world, rank)) == len(shard)
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_eval_sampler_rejects_a_rank_outside_the_world() -> None:
    with pytest.raises(ConfigError, match=r"rank 2 is not in \[0, 2\)"):
        hd.DistributedEvalSampler(range(4), num_replicas=2, rank=2)


def test_train_loader_is_rebuilt_with_a_seeded_distributed_sampler() -> None:
    loader = DataLoader(Numbers(10), batch_size=3, shuffle=True, collate_fn=collate, drop_last=True)
    sharded = hd.shard_train_loader(loader, seed=5, num_replicas=2, rank=1)
    sampler = sharded.sampler
    assert isinstance(sampler, DistributedSampler)
    assert (sampler.num_replicas, sampler.rank, sampler.seed, sampler.shuffle) == (2, 1, 5, True)
    assert sharded.dataset is loader.dataset
    assert sharded.batch_size == 3 and sharded.drop_last is True
    assert sharded.collate_fn is collate
    assert sharded.num_workers == loader.num_workers
    assert sharded.pin_memory == loader.pin_memory
    assert len(sharded) == 1  # 5 samples per rank, batches of 3, last one dropped
    # the order depends only on the seed and the epoch
    again = hd.shard_train_loader(loader, seed=5, num_replicas=2, rank=1)
    for epoch in (0, 1):
        assert isinstance(again.sampler, DistributedSampler)
        sampler.set_epoch(epoch)
        again.sampler.set_epoch(epoch)
        assert list(sampler) == list(again.sampler)


def test_sequential_train_loader_keeps_its_order() -> None:
    loader = DataLoader(Numbers(6), batch_size=2, collate_fn=collate)
    sharded = hd.shard_train_loader(loader, seed=0, num_replicas=2, rank=0)
    assert isinstance(sharded.sampler, DistributedSampler)
    assert sharded.sampler.shuffle is False
    assert [batch["idx"].tolist() for batch in sharded] == [[0, 2], [4]]


def test_loaders_that_are_already_sharded_are_kept() -> None:
    dataset = Numbers(6)
    mine = DataLoader(dataset, sampler=DistributedSampler(dataset, num_replicas=2, rank=0))
    assert hd.shard_train_loader(mine, seed=0, num_replicas=2, rank=0) is mine
    assert hd.shard_eval_loader(mine, num_replicas=2, rank=0) is mine
    evaluation = DataLoader(dataset, sampler=hd.DistributedEvalSampler(dataset, 2, 1))
    assert hd.shard_eval_loader(evaluation, num_replicas=2, rank=1) is evaluation


def test_eval_loader_is_rebuilt_without_padding() -> None:
    loader = DataLoader(Numbers(5), batch_size=2, collate_fn=collate)
    shards = [hd.shard_eval_loader(loader, num_replicas=2, rank=r) for r in (0, 1)]
    seen = [[i for batch in shard for i in batch["idx"].tolist()] for shard in shards]
    assert seen == [[0, 2, 4], [1, 3]]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda d: DataLoader(d, sampler=WeightedRandomSampler([1.0] * len(d), 4)),
            "sampler is a WeightedRandomSampler",
        ),
        (
            lambda d: DataLoader(d, batch_sampler=BatchSampler(SequentialSampler(d), 2, False)),
            "uses its own batch_sampler",
        ),
        (lambda d: LoaderSubclass(d, shuffle=True, batch_size=2), "a DataLoader subclass"),
    ],
)
def test_loaders_the_trainer_cannot_shard_are_refused(make: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        hd.shard_train_loader(make(Numbers(6)), seed=0, num_replicas=2, rank=0)
    assert "use_distributed_sampler=False" in str(info.value)


class LoaderSubclass(DataLoader[Any]):
    pass


def test_iterable_datasets_are_left_to_shard_themselves(caplog: pytest.LogCaptureFixture) -> None:
    class Stream(IterableDataset[int]):
        def __iter__(self) -> Iterator[int]:
            return iter(range(4))

    loader = DataLoader(Stream())
    assert hd.shard_train_loader(loader, seed=0, num_replicas=2, rank=0) is loader
    assert "IterableDataset" in caplog.text and "get_rank()" in caplog.text


# -- rank-zero-only markers -----------------------------------------------------------------------


class Decorated(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, int]] = []

    @hd.rank_zero_only
    def on_train_batch_start(
        self, trainer_state: Any, model: Any, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        self.calls.append((batch_idx, batch))


class Module:
    """A plugin of plain @hookimpl functions, one of them rank-zero-only."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    @hookimpl
    @hd.rank_zero_only
    def on_train_batch_start(self, batch_idx: int) -> None:
        self.seen.append(batch_idx)


def test_decorated_hooks_keep_their_signature_and_run_on_rank_zero_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = Decorated.on_train_batch_start.__wrapped__  # type: ignore[attr-defined]
    assert inspect.signature(Decorated.on_train_batch_start) == inspect.signature(plain)
    pm = PluginManager()
    callback, module = Decorated(), Module()
    pm.register(callback, "decorated")
    pm.register(module, "module")
    assert pm.hook_order("on_train_batch_start") == ["decorated", "module"]
    arguments = {"trainer_state": {}, "model": None, "loss_module": None, "batch": 7}
    monkeypatch.setenv("RANK", "0")
    pm.hook.on_train_batch_start(**arguments, batch_idx=3)
    monkeypatch.setenv("RANK", "1")
    pm.hook.on_train_batch_start(**arguments, batch_idx=4)
    assert callback.calls == [(3, 7)]
    assert module.seen == [3]


def test_collective_free_markers() -> None:
    class Marked:
        collective_free = True

    class ZeroOnly:
        rank_zero_only = True

    assert hd.is_collective_free(Marked())
    assert hd.is_collective_free(ZeroOnly()) and hd.is_rank_zero_only(ZeroOnly())
    assert not hd.is_collective_free(Decorated())
    decorated = Decorated()
    assert hd.is_collective_free(decorated, [decorated.on_train_batch_start])
    assert not hd.is_collective_free(decorated, [decorated.on_train_batch_start, print])
    # a module that imports the decorator is not marked by it
    assert not hd.is_rank_zero_only(hd)


def test_helpers_are_trivial_without_a_process_group() -> None:
    assert not hd.is_distributed()
    assert hd.broadcast({"a": 1}) == {"a": 1}
    assert hd.all_gather_object(3) == [3]
    assert hd.all_reduce_max([0, 2]) == [0, 2]
    assert hd.all_reduce_flag(True) is True
    hd.synchronize()
    assert hd.is_peer_failure(RuntimeError("Connection closed by peer [127.0.0.1]:1"))
    assert not hd.is_peer_failure(ValueError("boom"))


# -- the trainer ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dist_stop_check_interval": 0}, "dist_stop_check_interval must be a positive"),
        ({"dist_stop_check_interval": 2.5}, "dist_stop_check_interval must be a positive"),
        ({"dist_timeout": 0}, "dist_timeout must be a positive"),
    ],
)
def test_trainer_refuses_bad_distributed_settings(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Trainer(device="cpu", **kwargs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def torchrun_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables torchrun sets, for a one-process world on the loopback interface."""
    for name, value in {
        "RANK": "0",
        "WORLD_SIZE": "1",
        "LOCAL_RANK": "0",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
        "GLOO_SOCKET_IFNAME": "lo",
    }.items():
        monkeypatch.setenv(name, value)


def test_trainer_creates_and_destroys_the_process_group(torchrun_env: None) -> None:
    assert hd.launched_by_torchrun()
    model = torch.nn.Linear(4, 2)
    loader = DataLoader(Numbers(4), batch_size=2, collate_fn=collate)
    trainer = Trainer(
        device="cpu",
        train_dataloader=loader,
        train_data_connector=lambda batch: {"input": batch["inputs"]},
        num_epochs=1,
        handle_signals=False,
    )

    def loss(outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(outputs, batch["labels"])

    with trainer:
        trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), None, loss)
        assert dist.is_initialized() and trainer.owns_process_group
        assert dist.get_backend() == "gloo"
        assert trainer.global_step == 2
        # one rank: no DDP wrapper, the loader is left alone
        assert trainer._model is model
        assert trainer.train_dataloader is loader
        # a second trainer uses the group and does not own it
        other = Trainer(device="cpu")
        other._setup_distributed()
        assert not other.owns_process_group
        other.close()
        assert dist.is_initialized()
    assert not dist.is_initialized() and not trainer.owns_process_group


def test_cuda_means_the_local_rank_device_under_torchrun(
    torchrun_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert hd.device_for_rank(torch.device("cuda")) == torch.device("cuda", 3)
    assert hd.device_for_rank(torch.device("cuda", 1)) == torch.device("cuda", 1)
    assert hd.device_for_rank(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.delenv("MASTER_ADDR")
    assert hd.device_for_rank(torch.device("cuda")) == torch.device("cuda")


def test_process_group_block(torchrun_env: None) -> None:
    with hd.process_group("cpu") as created:
        assert created and dist.is_initialized()
        trainer = Trainer(device="cpu")
        trainer._setup_distributed()
        assert not trainer.owns_process_group
        assert hd.broadcast("folder") == "folder"
    assert not dist.is_initialized()
    with pytest.raises(KeyError), hd.process_group("cpu"):
        raise KeyError("the block failed")
    assert not dist.is_initialized()


def test_process_group_block_outside_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with hd.process_group() as created:
        assert not created and not dist.is_initialized()
