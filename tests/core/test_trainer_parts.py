"""The trainer's parts, each tested alone (no Trainer, no fit)."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
import torch
from hookwise import Callback, CheckpointError, PluginManager, checkpointing
from hookwise.trainer import StopRequest
from hookwise.trainer.checkpoint_loading import (
    find_last_checkpoint,
    load_optimizers,
    load_weights,
)
from hookwise.trainer.logs import LogMerger, to_float
from hookwise.trainer.position import Position, derive_seed, seed_loader
from hookwise.trainer.resume import step_epoch_schedulers
from hookwise.trainer.skipping import iterate_from, skips_at_sampler
from hookwise.trainer.stopping import StopLatch, signal_handlers
from hookwise.trainer.strategy import DDPStrategy, Strategy, select_strategy
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

T = TypeVar("T")


# -- stopping -------------------------------------------------------------------------------------


class TwoRanks(Strategy):
    """A strategy of two ranks whose collectives are answered from what the test gives."""

    def __init__(self, other_request: StopRequest | None, other_signal: int = 0) -> None:
        self.other_request = other_request
        self.other_signal = other_signal
        self.reductions = 0

    @property
    def world_size(self) -> int:
        return 2

    def all_reduce_max(self, values: Sequence[int]) -> list[int]:
        self.reductions += 1
        other = [int(self.other_request is not None), self.other_signal]
        return [max(a, b) for a, b in zip(values, other, strict=True)]

    def all_gather_object(self, obj: T) -> list[T]:
        return [obj, self.other_request]  # type: ignore[list-item]


def test_the_latch_keeps_the_first_request() -> None:
    latch = StopLatch()
    assert latch.request_stop(StopRequest("first", "a", 0, 1))
    assert not latch.request_stop(StopRequest("second", "b", 0, 2))
    assert latch.request is not None and latch.request.reason == "first"
    assert latch.stopping(Strategy(), sync=False, epoch=0, step=2)
    latch.reset()
    assert not latch.pending and latch.request is None


def test_a_request_on_another_rank_counts_only_once_combined() -> None:
    latch = StopLatch()
    strategy = TwoRanks(StopRequest("enough", "early_stopping", 1, 7))
    assert not latch.stopping(strategy, sync=False, epoch=1, step=8)
    assert strategy.reductions == 0
    assert latch.stopping(strategy, sync=True, epoch=1, step=8)
    assert latch.request == StopRequest("enough (requested on rank 1)", "early_stopping", 1, 8)


def test_a_request_every_rank_makes_counts_at_once() -> None:
    latch = StopLatch()
    latch.request_stop(StopRequest("nan", "nan_guard", 0, 3), all_ranks=True)
    assert latch.stopping(TwoRanks(None), sync=False, epoch=0, step=3)


def test_a_signal_on_another_rank_interrupts_every_rank(caplog: pytest.LogCaptureFixture) -> None:
    latch = StopLatch()
    assert latch.interrupted(TwoRanks(None, int(signal.SIGTERM)), epoch=0, step=4)
    assert latch.signal == signal.SIGTERM
    assert "SIGTERM was received by another rank" in caplog.text


def test_signal_handlers_latch_a_signal_and_are_restored() -> None:
    latch = StopLatch()
    before = signal.getsignal(signal.SIGTERM)
    with signal_handlers(latch, enabled=True):
        signal.raise_signal(signal.SIGTERM)
        assert latch.signal == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before
    with signal_handlers(StopLatch(), enabled=False):
        assert signal.getsignal(signal.SIGTERM) is before


# -- logs -----------------------------------------------------------------------------------------


def test_logs_are_prefixed_kept_and_told(caplog: pytest.LogCaptureFixture) -> None:
    failures: list[tuple[str, str, Exception]] = []
    merger = LogMerger(lambda hook, plugin, exc: failures.append((hook, plugin, exc)))
    heard: list[Mapping[str, Any]] = []
    merger.listeners.append(heard.append)
    value = torch.tensor(2.0, requires_grad=True) * 1
    merged = merger.merge(
        "train/",
        "on_train_batch_end",
        [("a", {"loss": value}), ("b", {"loss": 3, "acc": 0.5}), ("c", [1])],
    )
    assert list(merged) == ["train/loss", "train/loss@b", "train/acc"]
    assert not merged["train/loss"].requires_grad
    assert heard == [merged]
    assert merger.metrics == {"train/loss": 2.0, "train/loss@b": 3.0, "train/acc": 0.5}
    assert [(h, p) for h, p, _ in failures] == [("on_train_batch_end", "c")]
    merger.merge("train/", "on_train_batch_end", [("a", {"loss": 1}), ("b", {"loss": 1})])
    assert caplog.text.count("both returned 'train/loss'") == 1  # warned once per clash


def test_bad_log_values_are_the_plugins_failure() -> None:
    failures: list[str] = []
    merger = LogMerger(lambda hook, plugin, exc: failures.append(str(exc)))
    merger.merge("val/", "on_test_epoch_end", [("p", {"x": "high"}), ("q", {1: 2.0})])
    merger.merge("val/", "on_test_epoch_end", [("r", {"x": torch.ones(2)})])
    assert "plugin 'p', hook 'on_test_epoch_end': log 'x' is str" in failures[0]
    assert "log key 1 that is not a string" in failures[1]
    assert "tensor of shape (2,)" in failures[2]
    assert merger.latest == {}
    assert to_float(torch.tensor([4.0])) == 4.0


# -- position and seeding -------------------------------------------------------------------------


def test_a_position_resumes_where_it_was_saved() -> None:
    mid = Position(epoch=2, global_step=17, batch_in_epoch=5)
    resumed = Position()
    assert not resumed.restore(mid.state())
    assert (resumed.epoch, resumed.global_step, resumed.resume_batch) == (2, 17, 5)
    done = Position(epoch=2, global_step=20, epoch_complete=True, epoch_schedulers_stepped=False)
    assert resumed.restore(done.state())  # the schedulers still have to step for epoch 2
    assert (resumed.epoch, resumed.resume_batch) == (3, 0)


def _order(seed: int, epoch: int) -> list[int]:
    loader = DataLoader(list(range(20)), batch_size=1, shuffle=True)
    seed_loader(loader, seed, epoch)
    return [int(batch) for batch in loader]


def test_data_order_depends_on_seed_and_epoch_only() -> None:
    torch.manual_seed(123)
    first = _order(0, 1)
    torch.manual_seed(456)
    assert _order(0, 1) == first
    assert _order(0, 2) != first and _order(1, 1) != first
    assert derive_seed(0, 1, 1) != derive_seed(0, 1, 2) and 0 <= derive_seed(-5, 3) < 2**63


# -- checkpoint state -----------------------------------------------------------------------------


def test_weights_load_with_or_without_a_ddp_prefix(tmp_path: Path) -> None:
    model = torch.nn.Linear(2, 1)
    saved = {f"module.{k}": torch.zeros_like(v) for k, v in model.state_dict().items()}
    load_weights(model, saved, tmp_path / "x.ckpt")
    assert float(model.weight.detach().abs().sum()) == 0.0
    with pytest.raises(CheckpointError, match=r"'.*x.ckpt' does not fit the model"):
        load_weights(torch.nn.Linear(3, 1), saved, tmp_path / "x.ckpt")


def test_optimizer_states_must_match_the_optimizers(tmp_path: Path) -> None:
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = {"optimizers": [optimizer.state_dict(), optimizer.state_dict()]}
    with pytest.raises(CheckpointError, match="has 2 optimizer states; the run has 1"):
        load_optimizers(data, tmp_path / "x.ckpt", [optimizer], [])


def test_epoch_schedulers_step_as_vis4d_wrappers_expect() -> None:
    class Wrapper:
        def __init__(self) -> None:
            self.epochs: list[int] = []

        def step_on_batch(self, step: int) -> None:
            raise AssertionError("not per batch here")

        def step(self, epoch: int) -> None:
            self.epochs.append(epoch)

    optimizer = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=1.0)
    plain = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    wrapper = Wrapper()
    optimizer.step()
    step_epoch_schedulers([plain, wrapper], 4)
    assert wrapper.epochs == [4] and optimizer.param_groups[0]["lr"] == 0.5


def test_the_last_checkpoint_is_the_newest(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint to resume under"):
        find_last_checkpoint(tmp_path)
    (tmp_path / "a").mkdir()
    later, older = tmp_path / "a" / "epoch=1.ckpt", tmp_path / "epoch=0.ckpt"
    for path, step in ((later, 8), (older, 4)):
        state = {"format": checkpointing.FORMAT, "format_version": checkpointing.FORMAT_VERSION}
        checkpointing.atomic_save({**state, "epoch": step // 4, "global_step": step}, path)
    (tmp_path / "b.ckpt").write_bytes(b"not a checkpoint")  # never a candidate
    os.utime(later, ns=(1, 1))  # by the step recorded inside, not the file time
    assert find_last_checkpoint(tmp_path) == later


# -- strategies -----------------------------------------------------------------------------------


def test_one_process_changes_nothing() -> None:
    model = torch.nn.Linear(2, 1)
    loader = DataLoader(list(range(4)))
    single = select_strategy(1, torch.device("cpu"), use_distributed_sampler=True, ddp_kwargs={})
    assert type(single) is Strategy and single.world_size == 1 and single.rank == 0
    assert single.wrap_model(model) is model and single.eval_model(model) is model
    assert single.shard_train_loader(loader, seed=0) is loader
    assert single.all_reduce_max([1, 0]) == [1, 0] and single.broadcast("x") == "x"


def test_ddp_evaluates_the_unwrapped_model_and_may_leave_loaders_alone() -> None:
    ddp = select_strategy(2, torch.device("cpu"), use_distributed_sampler=False, ddp_kwargs={})
    assert isinstance(ddp, DDPStrategy) and ddp.world_size == 2
    loader = DataLoader(list(range(4)))
    assert ddp.shard_train_loader(loader, seed=0) is loader
    assert ddp.shard_eval_loaders([loader]) == [loader]
    inner = torch.nn.Linear(2, 1)
    wrapped = object.__new__(DistributedDataParallel)  # no process group needed to unwrap
    torch.nn.Module.__init__(wrapped)
    wrapped.module = inner
    assert ddp.eval_model(wrapped) is inner and ddp.wrap_model(wrapped) is wrapped


# -- failures -------------------------------------------------------------------------------------


def test_an_error_in_on_exception_never_hides_the_error(caplog: pytest.LogCaptureFixture) -> None:
    from hookwise.trainer.failures import report_exception

    class Broken(Callback):
        def on_exception(self, trainer_state: Any, model: Any, exception: Any, fatal: Any) -> None:
            raise RuntimeError("broken handler")

    seen: list[bool] = []

    class Recording(Callback):
        def on_exception(self, trainer_state: Any, model: Any, exception: Any, fatal: Any) -> None:
            seen.append(fatal)

    pm = PluginManager()
    pm.enable_object(Broken(), "broken")
    pm.enable_object(Recording(), "recording")
    error = ValueError("the run's error")
    with caplog.at_level(logging.ERROR, logger="hookwise"):
        report_exception(pm, dict, torch.nn.Linear(1, 1), error, fatal=True)
    assert seen == [True]
    assert "plugin 'broken' failed in hook 'on_exception' while handling ValueError" in caplog.text
    assert any("the run failed at" in note for note in getattr(error, "__notes__", []))


class _WorkerSeed(torch.utils.data.Dataset[int]):
    """Each item is the seed of the DataLoader worker process that loads it."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> int:
        info = torch.utils.data.get_worker_info()
        assert info is not None
        return int(info.seed)


def _worker_seeds(rank: int) -> list[int]:
    loader = DataLoader(_WorkerSeed(), batch_size=1, num_workers=2)
    seed_loader(loader, 7, 0, rank)
    return sorted({int(batch) for batch in loader})


def test_loader_worker_seeds_differ_across_ranks_and_repeat_per_rank() -> None:
    rank0, rank1 = _worker_seeds(0), _worker_seeds(1)
    assert len(rank0) == len(rank1) == 2  # one seed per worker
    assert set(rank0).isdisjoint(rank1)  # random augmentations differ across ranks
    assert _worker_seeds(1) == rank1  # and repeat with the same seed
    one_process = DataLoader(_WorkerSeed(), batch_size=1, num_workers=2)
    seed_loader(one_process, 7, 0)
    assert sorted({int(batch) for batch in one_process}) == rank0


class _Counting(torch.utils.data.Dataset[int]):
    """Items 0..n-1; counts how many were loaded."""

    def __init__(self, n: int) -> None:
        self.n, self.loaded = n, 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> int:
        self.loaded += 1
        return index


def _batches(iterator: Any) -> list[list[int]]:
    return [[int(v) for v in batch] for batch in iterator]


@pytest.mark.parametrize("sampler", ["random", "distributed", "sequential"])
def test_a_resume_skips_batches_without_loading_them(sampler: str) -> None:
    def loader(data: _Counting) -> DataLoader[int]:
        if sampler == "distributed":
            shard = torch.utils.data.DistributedSampler(data, num_replicas=2, rank=1, seed=3)
            made = DataLoader(data, batch_size=3, sampler=shard)
        else:
            made = DataLoader(data, batch_size=3, shuffle=sampler == "random")
        seed_loader(made, seed=7, epoch=2)
        return made

    full = _batches(iter(loader(_Counting(40))))
    data = _Counting(40)
    resumed = loader(data)
    assert skips_at_sampler(resumed)
    assert _batches(iterate_from(resumed, 4)) == full[4:]  # the same batches, in order
    assert data.loaded == sum(len(batch) for batch in full[4:])  # none of the first four


def test_with_worker_processes_the_skipped_batches_are_still_loaded() -> None:
    data = _Counting(24)
    made = DataLoader(data, batch_size=4, shuffle=True, num_workers=2)
    seed_loader(made, seed=1, epoch=0)
    full = _batches(iter(made))
    seed_loader(made, seed=1, epoch=0)
    assert not skips_at_sampler(made)  # each worker's random state follows what it loads
    assert _batches(iterate_from(made, 2)) == full[2:]
