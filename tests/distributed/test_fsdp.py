"""``strategy="fsdp"`` with real processes: two ranks on the CPU (gloo), launched by torchrun.

One launch (``fsdp_worker.py``) runs every scenario: a fit with uneven evaluation and sharded
checkpoints, its uninterrupted twin, a resume from a sharded checkpoint, the same fit under
DDP, the bundled plugins that support FSDP, the checkpoint plugin's sharded folders (under
FSDP and under DDP with ``checkpoint_format="sharded"``) and a signal under DDP with sharded
checkpoints. Each test reads what the ranks reported.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import checkpointing, sharded
from hookwise.dcp_safe import read_metadata
from hookwise.last import newest_checkpoint
from torchrun_kit import HERE, finish, start

#: The whole launch must end within this time (a hang fails the test).
LAUNCH_TIMEOUT_S = 180

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("torchrun-fsdp")]


@dataclass
class Launch:
    output: str
    out: Path

    def report(self, rank: int) -> dict[str, Any]:
        path = self.out / f"fsdp-rank{rank}.json"
        if not path.exists():
            pytest.fail(f"rank {rank} wrote no {path.name}; torchrun output:\n{self.output}")
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def weights(self, name: str) -> dict[str, torch.Tensor]:
        loaded: dict[str, torch.Tensor] = torch.load(self.out / f"{name}.pt", weights_only=True)
        return loaded


@pytest.fixture(scope="module")
def launch(tmp_path_factory: pytest.TempPathFactory) -> Launch:
    out = tmp_path_factory.mktemp("fsdp")
    process = start([str(HERE / "fsdp_worker.py"), str(out)], 2)
    returncode, output = finish(process, time.monotonic() + LAUNCH_TIMEOUT_S)
    assert returncode == 0, f"torchrun exited with {returncode}; output:\n{output}"
    return Launch(output, out)


def test_fsdp_shards_the_users_model_and_hooks_see_it(launch: Launch) -> None:
    for rank in (0, 1):
        a = launch.report(rank)["a"]
        assert a["strategy"] == "fsdp"
        assert a["model_is_users"] is True  # fully_shard changed the user's module in place
        assert a["model_seen"] == ["True:True", "True:True"]  # the user's class, DTensors
        assert a["local_numel"] == 32  # first.weight [16, 4] split over 2 ranks
        assert a["global_step"] == 6


def test_evaluation_under_fsdp_with_uneven_batches_counts_every_sample_once(
    launch: Launch,
) -> None:
    ranks = [launch.report(r)["a"] for r in (0, 1)]
    # rank 0 runs 2 evaluation batches, rank 1 runs 1: the sharded forwards do not hang
    assert [r["passes"][0]["local_count"] for r in ranks] == [6, 5]
    for report in ranks:
        for validation in report["passes"]:
            assert validation["seen"] == list(range(11))
    assert ranks[0]["metrics"] == ranks[1]["metrics"]


def test_fsdp_trains_as_ddp_does(launch: Launch) -> None:
    fsdp, ddp = launch.weights("b"), launch.weights("d")
    assert fsdp.keys() == ddp.keys()
    for key in fsdp:
        assert torch.allclose(fsdp[key], ddp[key], atol=1e-6), key


def test_resume_from_a_sharded_checkpoint_is_bit_exact(launch: Launch) -> None:
    for rank in (0, 1):
        report = launch.report(rank)
        assert report["c"]["global_step"] == report["b"]["global_step"] == 9
        assert report["c"]["resumed_from"].endswith("epoch1.ckpt")
    twin, resumed = launch.weights("b"), launch.weights("c")
    for key in twin:
        assert torch.equal(twin[key], resumed[key]), key


def test_sharded_checkpoints_are_folders_that_last_finds_and_one_process_can_read(
    launch: Launch, tmp_path: Path
) -> None:
    folder = launch.out / "a" / "ckpts" / "epoch1.ckpt"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [".metadata", "__0_0.distcp", "__1_0.distcp", "hookwise.pt"]
    # every weight and optimizer buffer is stored in two halves, one per rank's file
    metadata = read_metadata(folder)
    for key in ("model.first.weight", "optimizers.state.first.weight.momentum_buffer"):
        chunks = metadata.state_dict_metadata[key].chunks  # type: ignore[union-attr]
        assert [list(c.sizes) for c in chunks] == [[8, 4], [8, 4]], key
    files = {
        info.relative_path
        for index, info in metadata.storage_data.items()
        if index.fqn == "model.first.weight"
    }
    assert files == {"__0_0.distcp", "__1_0.distcp"}
    meta = sharded.load_meta(folder)
    assert meta["sharded"]["world_size"] == 2 and meta["global_step"] == 6
    assert "manifest" in meta and "rng" in meta and "metrics" in meta
    assert not list(folder.parent.glob(".*partial"))
    assert newest_checkpoint(launch.out / "a").path == folder
    # one file, for `hookwise test --weights` on one process: the full weights after epoch 1
    single = sharded.to_single_file(folder, tmp_path / "single.ckpt")
    weights = checkpointing.load_checkpoint(single)["model"]
    expected = launch.weights("a")
    assert weights.keys() == expected.keys()
    for key in expected:
        assert torch.equal(weights[key], expected[key]), key


def test_the_plugins_that_support_fsdp_run_under_it(launch: Launch) -> None:
    for rank in (0, 1):
        e = launch.report(rank)["e"]
        assert e["metrics"]["val/accuracy/count"] == 11.0
        assert e["metrics"]["train/nan_guard/skipped_steps"] == 0.0
    assert launch.report(0)["e"]["plugins"] == ["evaluator", "nan_guard", "visualizer"]
    assert list((launch.out / "e" / "vis").rglob("*.png")), "the visualizer saved nothing"


def _folder_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(("run", "world"), [("f", 2), ("i", 2)], ids=["fsdp", "ddp-sharded"])
def test_the_checkpoint_plugin_keeps_sharded_folders(launch: Launch, run: str, world: int) -> None:
    """Every rank takes part in each save; rank 0 gives the folder its other names (a folder
    of hard links) and removes the folders no longer kept (keep_last=2)."""
    folder = launch.out / run / "checkpoints"
    names = _folder_names(folder)
    periodic = ["epoch=1-step=6.ckpt", "epoch=2-step=9.ckpt"]
    assert [n for n in names if n.startswith("epoch=")] == periodic, names
    assert "last.ckpt" in names and "best.ckpt" in names, names
    assert not [n for n in names if n.startswith(".")], names  # no partial save, no temporary
    shards = [".metadata", *(f"__{r}_0.distcp" for r in range(world)), "hookwise.pt"]
    for name in names:
        assert _folder_names(folder / name) == shards, name
    newest = folder / periodic[-1]
    for part in shards:  # last.ckpt: the newest folder's files, linked
        assert (folder / "last.ckpt" / part).samefile(newest / part)
    assert newest_checkpoint(launch.out / run).path.name in ("last.ckpt", periodic[-1])
    plugin = sharded.load_meta(newest)["plugins"]["checkpoint"]
    assert plugin["kept"] == periodic


def test_runs_resumed_from_the_plugins_folders_are_bit_exact(launch: Launch) -> None:
    # H resumed F's epoch-1 folder under fsdp: it ends as F and its twin B do; J resumed I's
    # `last` (epoch 1) under DDP with sharded checkpoints: it ends as D does
    for resumed, twins in (("h", ("f", "b")), ("j", ("d",))):
        for twin in twins:
            weights, expected = launch.weights(resumed), launch.weights(twin)
            for key in expected:
                assert torch.equal(weights[key], expected[key]), (resumed, twin, key)


def test_a_signal_under_ddp_with_sharded_checkpoints(launch: Launch) -> None:
    """Every rank writes its part of the interrupt checkpoint (a folder holding both ranks'
    RNG states); the run resumed from it ends as the uninterrupted D and removes it."""
    for rank in (0, 1):
        k = launch.report(rank)["k"]
        assert k["sharded"] is True and k["checkpoint"].endswith("interrupted.ckpt"), k
        assert k["step"] == 4 and k["rng_ranks"] == 2, k  # the ranks agreed at that step
        assert k["resumed_from"] == k["checkpoint"]
        assert k["left"] is False  # the resumed run went past it
    weights, expected = launch.weights("k"), launch.weights("d")
    for key in expected:
        assert torch.equal(weights[key], expected[key]), key


@pytest.mark.cuda
@pytest.mark.skipif(
    not torch.cuda.is_available() or torch.cuda.device_count() < 2,
    reason="needs two CUDA GPUs (NCCL needs a GPU for every process)",
)
def test_fsdp_on_cuda_with_nccl_resumes_bit_exactly(tmp_path: Path) -> None:
    process = start(
        [str(HERE / "fsdp_worker.py"), str(tmp_path)], 2, env={"HOOKWISE_TEST_DEVICE": "cuda"}
    )
    returncode, output = finish(process, time.monotonic() + LAUNCH_TIMEOUT_S)
    assert returncode == 0, f"torchrun exited with {returncode}; output:\n{output}"
    cuda = Launch(output, tmp_path)
    assert cuda.report(0)["a"]["passes"][0]["count"] == 11
    twin, resumed = cuda.weights("b"), cuda.weights("c")
    for key in twin:
        assert torch.equal(twin[key], resumed[key]), key
