"""The same fit on CUDA: one GPU in one process (``--device cuda``), and one GPU per process
under torchrun with NCCL. Skipped, with its reason, where there is no GPU; nothing else in
the suite needs one."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torchrun_kit import CLI_CONFIG, HERE, WORKER, finish, loopback_env, start

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="needs a CUDA GPU (torch.cuda.is_available() is False)",
    ),
]

#: One process per GPU, two at most (NCCL needs a GPU of its own for every process).
NPROC = min(2, torch.cuda.device_count()) if torch.cuda.is_available() else 0

CONFIG = CLI_CONFIG.replace('device = "cpu"', 'device = "auto"')


def test_fit_on_one_gpu(tmp_path: Path) -> None:
    import dist_worker as w

    where, accuracy = w.WhereAmI(), w.GatherAccuracy()
    _, model, metrics = w._fit(
        tmp_path, [where, accuracy, w.SaveAfterValidation()], epochs=2, device="cuda"
    )
    assert where.seen == {"backend": None, "device": "cuda:0", "ddp": False}
    assert next(model.parameters()).device.type == "cuda"
    assert metrics["val/count"] == w.VAL_SIZE
    assert [p["count"] for p in accuracy.passes] == [w.VAL_SIZE, w.VAL_SIZE]
    # the checkpoint loads on a machine without a GPU
    data = torch.load(tmp_path / "checkpoints" / "epoch1.ckpt", map_location="cpu")
    assert all(t.device.type == "cpu" for t in data["model"].values())


def test_hookwise_fit_device_cuda(tmp_path: Path) -> None:
    (tmp_path / "job.toml").write_text(CONFIG)
    env = loopback_env({"PYTHONPATH": str(HERE)})
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hookwise",
            "fit",
            "job.toml",
            "--device",
            "cuda",
            "--output-dir",
            "runs",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert list((tmp_path / "runs").glob("*/checkpoints/last.ckpt"))


def test_fit_under_torchrun_with_nccl(tmp_path: Path) -> None:
    process = start([str(WORKER), "cuda", str(tmp_path)], NPROC)
    returncode, output = finish(process, time.monotonic() + 300)
    assert returncode == 0, output
    reports = [json.loads((tmp_path / f"cuda-rank{r}.json").read_text()) for r in range(NPROC)]
    for rank, report in enumerate(reports):
        assert report["where"] == {
            "backend": "nccl",
            "device": f"cuda:{rank}",
            "ddp": NPROC > 1,
        }, report
        assert report["trainer_device"] == f"cuda:{rank}"
        assert report["model_device"] == f"cuda:{rank}"
        assert [p["count"] for p in report["passes"]] == [11, 11]
        assert report["global_step"] == 3 * 12 // (2 * NPROC)
    assert len({json.dumps(r["metrics"], sort_keys=True) for r in reports}) == 1


def test_hookwise_fit_under_torchrun_with_nccl(tmp_path: Path) -> None:
    (tmp_path / "job.toml").write_text(CONFIG)
    process = start(
        ["-m", "hookwise", "fit", "job.toml", "--device", "cuda", "--output-dir", "runs"],
        NPROC,
        cwd=tmp_path,
        env={"PYTHONPATH": str(HERE)},
    )
    returncode, output = finish(process, time.monotonic() + 300)
    assert returncode == 0, output
    assert "backend nccl" in output
    assert len(list((tmp_path / "runs").glob("*/checkpoints/last.ckpt"))) == 1
