"""Multi-process training: two ranks on the CPU (gloo), launched by torchrun as real
subprocesses, on the loopback interface only.

One launch runs every scenario of ``dist_worker.py``: fit with evaluation and checkpoints,
resume, an uninterrupted twin, a stop request on one rank, standalone evaluation, the
error-policy rule and teardown (with small callbacks); the bundled plugins enabled by name;
a SIGTERM sent to rank 1 alone; a plugin failing on rank 1. Each test reads what the ranks
reported. A launch costs seconds, so there is only one.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torchrun_kit import WORKER, finish, start, wait_for

#: The whole launch must end within this time (a hang fails the test).
LAUNCH_TIMEOUT_S = 300
#: After the plugin raises on rank 1, the whole run must be over within this time.
FAILURE_BOUND_S = 30


@dataclass
class Launch:
    returncode: int
    output: str
    ended: float
    out: Path

    def report(self, scenario: str, rank: int) -> dict[str, Any]:
        path = self.out / f"{scenario}-rank{rank}.json"
        if not path.exists():
            pytest.fail(f"rank {rank} wrote no {path.name}; torchrun output:\n{self.output}")
        data: dict[str, Any] = json.loads(path.read_text())
        return data


@pytest.fixture(scope="module")
def launch(tmp_path_factory: pytest.TempPathFactory) -> Launch:
    """One launch of every scenario; SIGTERM goes to rank 1 alone once its slow fit runs."""
    out = tmp_path_factory.mktemp("torchrun")
    deadline = time.monotonic() + LAUNCH_TIMEOUT_S
    process = start([str(WORKER), "all", str(out)], 2)
    rank1 = wait_for(out / "signal-ready-rank1.json", process, deadline)
    os.kill(rank1["pid"], signal.SIGTERM)  # a worker of the torchrun started above
    returncode, output = finish(process, deadline)
    return Launch(returncode, output, time.time(), out)


@pytest.fixture(scope="module")
def worker() -> ModuleType:
    import dist_worker

    return dist_worker


# the module's tests read one launch (a module fixture): --dist loadgroup keeps them together
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("torchrun-launch")]


def test_fit_runs_ddp_on_sharded_training_data(launch: Launch, worker: ModuleType) -> None:
    ranks = [launch.report("fit", r) for r in (0, 1)]
    for report in ranks:
        assert report["world_size"] == 2
        run = report["a"]
        assert run["is_ddp"] and run["owns_process_group"]
        assert run["sampler"] == "DistributedSampler"
        assert run["sampler_seed"] == worker.SEED
        assert run["global_step"] == 6  # 2 epochs x 3 batches of 2 (12 samples / 2 ranks)
    for epoch in ("0", "1"):
        seen = [r["a"]["seen"][epoch] for r in ranks]
        assert len(seen[0]) == len(seen[1]) == 6
        assert sorted(seen[0] + seen[1]) == list(range(worker.TRAIN_SIZE)), "not a partition"
    # set_epoch: every epoch has its own order
    assert ranks[0]["a"]["seen"]["0"] != ranks[0]["a"]["seen"]["1"]
    # the order depends only on the seed and the epoch: the twin run saw the same batches
    for report in ranks:
        assert report["c"]["seen"]["0"] == report["a"]["seen"]["0"]
        assert report["c"]["seen"]["1"] == report["a"]["seen"]["1"]


def test_evaluation_counts_every_sample_once(launch: Launch, worker: ModuleType) -> None:
    ranks = [launch.report("fit", r) for r in (0, 1)]
    local_counts = [r["a"]["passes"][0]["local_count"] for r in ranks]
    assert local_counts == [6, 5]  # 11 samples, no padding, no repeats
    for report in ranks:
        assert report["a"]["eval_sampler"] == "DistributedEvalSampler"
        for validation in report["a"]["passes"]:
            assert validation["count"] == worker.VAL_SIZE
            assert validation["seen"] == list(range(worker.VAL_SIZE))
    # every rank logs the same gathered metrics
    assert ranks[0]["a"]["metrics"] == ranks[1]["a"]["metrics"]
    assert ranks[0]["e"]["metrics"] == ranks[1]["e"]["metrics"]


def test_evaluation_equals_one_process(launch: Launch, worker: ModuleType) -> None:
    """A fixed model over the same data: the two-rank counts and metrics equal one process's."""
    distributed = launch.report("fit", 0)["e"]
    model = worker.TinyModel()
    model.load_state_dict(torch.load(launch.out / "weights-twin.pt", weights_only=True))
    evaluator = worker.GatherAccuracy()
    trainer = worker.Trainer(
        device="cpu", test_dataloader=worker.val_loader(), callbacks=[evaluator]
    )
    single = trainer.test(model)
    assert evaluator.passes[0]["count"] == distributed["passes"][0]["count"] == worker.VAL_SIZE
    assert single.keys() == distributed["metrics"].keys()
    for key, value in single.items():
        assert distributed["metrics"][key] == pytest.approx(value, abs=1e-6), key


def test_checkpoints_and_resume_with_the_same_world_size(launch: Launch) -> None:
    ranks = [launch.report("fit", r) for r in (0, 1)]
    for report in ranks:
        # rank 0 wrote one file per validation; every rank sees them after the barrier
        assert report["a"]["checkpoints"] == ["epoch0.ckpt", "epoch1.ckpt"]
        assert report["b"]["global_step"] == 9
        assert list(report["b"]["seen"]) == ["2"]  # resumed at the next epoch
        assert report["b"]["seen"]["2"] == report["c"]["seen"]["2"]
        assert report["resumed_equals_twin"] is True
        assert report["b"]["owns_process_group"] is False  # the group existed already
    resumed = torch.load(launch.out / "weights-resumed.pt", weights_only=True)
    twin = torch.load(launch.out / "weights-twin.pt", weights_only=True)
    for key in twin:
        assert torch.equal(resumed[key], twin[key]), key
    # the rank-zero-only plugin's state came back from rank 0's checkpoint
    assert ranks[0]["b"]["zero_only_calls"] == 3
    assert ranks[1]["b"]["zero_only_calls"] == 0


def test_rank_zero_only_plugins_and_hooks(launch: Launch) -> None:
    zero, one = (launch.report("fit", r)["a"] for r in (0, 1))
    assert zero["zero_only_registered"] and zero["zero_only_calls"] == 2
    assert not one["zero_only_registered"] and one["zero_only_calls"] == 0
    assert zero["decorated_calls"] == 2 and one["decorated_calls"] == 0
    assert zero["decorated_other_calls"] == one["decorated_other_calls"] == 2


def test_a_stop_on_one_rank_stops_every_rank_at_the_same_step(launch: Launch) -> None:
    zero, one = (launch.report("fit", r)["d"] for r in (0, 1))
    # rank 1 asked at step 4; the ranks combine requests every 5 steps
    assert zero["global_step"] == one["global_step"] == 5
    assert zero["epoch"] == one["epoch"]
    assert "requested on rank 1" in zero["reason"]
    assert one["reason"] == "asked on rank 1"
    # a request every rank makes at the same step (all_ranks=True) stops at that step
    assert [launch.report("fit", r)["d2"]["global_step"] for r in (0, 1)] == [4, 4]


def test_stop_requests_are_combined_at_shared_points_not_every_step(launch: Launch) -> None:
    """DESIGN decision 9: one small all-reduce at epoch ends and validations (and every
    ``dist_stop_check_interval`` steps), never one per step."""
    for rank in (0, 1):
        counts = launch.report("fit", rank)["h"]
        assert counts["None"]["steps"] == counts["2"]["steps"] == 12  # 2 epochs x 6 steps
        # per epoch: after the batches and before validation (a signal in the epoch-end hooks
        # still gets the epoch's validation: no check there); plus the check before the first
        # epoch
        assert counts["None"]["syncs"] == 2 * 2 + 1
        assert counts["2"]["syncs"] == counts["None"]["syncs"] + 12 // 2


def test_tolerant_error_policy_needs_a_collective_free_plugin(launch: Launch) -> None:
    for rank in (0, 1):
        report = launch.report("fit", rank)
        error = report["f_error"]
        assert error is not None and error.startswith("ConfigError")
        assert "'Flaky'" in error and "on_error='warn'" in error
        assert "collective_free = True" in error
        # a collective-free plugin may tolerate a failure on one rank: the ranks stay in step
        assert report["g"]["global_step"] == 6
        assert report["g"]["failures"] == (1 if rank == 1 else 0)
        assert report["g"]["output_dir"] == "g0"  # rank 0's run folder, on every rank


def test_teardown_destroys_the_group_the_trainer_created(launch: Launch) -> None:
    for rank in (0, 1):
        assert launch.report("fit", rank)["initialized_after_close"] is False


def test_a_plugin_failing_on_one_rank_ends_the_run_with_a_clear_error(launch: Launch) -> None:
    output = launch.output
    assert launch.returncode != 0, output
    raised = json.loads((launch.out / "fail-raised.json").read_text())["time"]
    assert launch.ended - raised < FAILURE_BOUND_S, output
    assert not (launch.out / "fail-rank0.json").exists()
    assert not (launch.out / "fail-rank1.json").exists()
    # the error names the rank, the plugin and the hook
    assert "ValueError: boom on rank 1 at step 2" in output
    assert "plugin 'FailOnRank' failed in hook 'on_train_batch_end' at rank 1 of 2" in output
    assert "rank 1 of 2: the run failed with ValueError" in output
    # torchrun's summary names the plugin's error as the root cause, not rank 0's lost peer
    if "Root Cause" in output:
        root_cause = output.split("Root Cause", 1)[1]
        assert "boom on rank 1" in root_cause, output


def test_a_signal_on_one_rank_ends_every_rank_at_the_same_step(launch: Launch) -> None:
    zero, one = (launch.report("signal", r) for r in (0, 1))
    for report in (zero, one):
        assert report["interrupted"] is True, report
        assert report["signal"] == signal.SIGTERM
        assert report["checkpoint"].endswith("interrupted.ckpt")
        # rank 0 wrote it, at the step where the ranks agreed to stop
        assert report["checkpoint_step"] == report["global_step"]
        # every rank agreed on the signal and saved together: each one's RNG states are in it
        assert report["checkpoint_rng_ranks"] == 2
    assert zero["checkpoint_exists"] is True
    assert zero["global_step"] == one["global_step"]
    assert zero["global_step"] % 3 == 0  # a stop check (every 3 steps) or an epoch end
    assert "SIGTERM was received by another rank" in launch.output


def test_bundled_plugins_by_name(launch: Launch, worker: ModuleType) -> None:
    """evaluator, checkpoint, logging, early_stopping, nan_guard, lr_monitor and throughput,
    enabled by name on two ranks: the same metrics everywhere, rank 0's files, exact counts."""
    zero, one = (launch.report("plugins", r) for r in (0, 1))
    for report in (zero, one):
        assert report["first"]["global_step"] == 6 and report["resumed"]["global_step"] == 9
        assert report["first"]["metrics"]["val/accuracy/count"] == worker.VAL_SIZE
        assert report["tested"]["test/accuracy/count"] == worker.VAL_SIZE
        files = report["checkpoints"]
        assert files[0].startswith("best-epoch=") and files[1:] == [
            "best.ckpt",
            "epoch=0-step=3.ckpt",
            "epoch=1-step=6.ckpt",
            "last.ckpt",
        ]
        assert report["resumed"]["plugins"] == [name for name, _ in worker.PLUGINS]
    # validation metrics are gathered: equal on every rank (train losses are per rank)
    for key in ("first", "resumed"):
        val = {k: v for k, v in zero[key]["metrics"].items() if k.startswith("val/")}
        assert val and val == {k: v for k, v in one[key]["metrics"].items() if k in val}
    assert zero["tested"] == one["tested"]
    # one metrics file, written by rank 0 alone: one row per step and validation, rank 0's loss
    rows = zero["metrics_csv"].strip().splitlines()
    assert rows[0].startswith("epoch,step,train/loss")
    assert len(rows) == 1 + 9 + 3
    last_train_row = next(r for r in rows if r.startswith("1,6,") and r.split(",")[2])
    assert float(last_train_row.split(",")[2]) == pytest.approx(
        zero["first"]["metrics"]["train/loss"]
    )


def test_bundled_evaluator_equals_one_process(launch: Launch, worker: ModuleType) -> None:
    distributed = launch.report("plugins", 0)["tested"]
    model = worker.TinyModel()
    model.load_state_dict(torch.load(launch.out / "weights-plugins.pt", weights_only=True))
    trainer = worker.Trainer(
        device="cpu",
        output_dir=launch.out / "single",
        test_dataloader=worker.val_loader(),
        plugins=worker.PLUGINS[:1],
    )
    single = trainer.test(model)
    assert single.keys() == distributed.keys()
    assert single["test/accuracy/count"] == distributed["test/accuracy/count"] == worker.VAL_SIZE
    for key, value in single.items():
        assert distributed[key] == pytest.approx(value, abs=1e-6), key
