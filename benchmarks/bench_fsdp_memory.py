"""Memory per process under DDP and FSDP (``strategy="fsdp"``), with real torchrun launches.

    python benchmarks/bench_fsdp_memory.py [--width 512] [--layers 8] [--procs 2 4]

For each strategy and number of processes, one torchrun job (CPU, gloo) fits a stack of
``layers`` Linear(width, width) layers (wrapped per Linear under FSDP) for a few AdamW steps
through ``hookwise.Trainer``, and every rank reports the bytes it holds of parameters,
gradients and optimizer state (a DTensor counts its local shard) and its peak RSS. The table
shows the largest rank of each job; the state bytes must fall with the number of processes
under FSDP and stay flat under DDP. Peak RSS includes the Python and torch runtime (~300 MB
here), so it falls less.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def _local_bytes(tensor: Any) -> int:
    local = tensor.to_local() if hasattr(tensor, "to_local") else tensor
    return int(local.numel() * local.element_size())


def worker(out: Path, strategy: str, width: int, layers: int) -> None:
    from hookwise import Trainer
    from hookwise.distributed import get_rank

    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Linear(width, width) for _ in range(layers)])
    data = TensorDataset(torch.randn(64, width), torch.randn(64, width))
    loader = DataLoader(data, batch_size=8)

    class Wrapped(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def forward(self, batch: Any) -> Any:
            return self.net(batch[0])

    wrapped = Wrapped()
    optimizer = torch.optim.AdamW(wrapped.parameters(), lr=1e-3)
    trainer = Trainer(
        device="cpu",
        output_dir=out / f"run-{strategy}",
        train_dataloader=loader,
        num_epochs=1,
        seed=0,
        strategy=strategy,
        fsdp_wrap=["Linear"],
        overwrite=True,
    )
    trainer.fit(wrapped, optimizer, None, lambda o, b: ((o - b[1]) ** 2).mean())
    params = sum(_local_bytes(p) for p in wrapped.parameters())
    grads = sum(_local_bytes(p.grad) for p in wrapped.parameters() if p.grad is not None)
    optim = sum(
        _local_bytes(v)
        for state in optimizer.state.values()
        for v in state.values()
        if isinstance(v, torch.Tensor) and v.dim() > 0
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    report = {"params": params, "grads": grads, "optim": optim, "rss": rss}
    (out / f"{strategy}-rank{get_rank()}.json").write_text(json.dumps(report))
    trainer.close()


def launch(strategy: str, procs: int, width: int, layers: int) -> dict[str, int]:
    from hookwise.testing import free_port

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        command = [
            sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={procs}",
            "--master-addr=127.0.0.1", f"--master-port={free_port()}", __file__,
            "--worker", str(out), strategy, str(width), str(layers),
        ]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
        subprocess.run(command, check=True, env=env, timeout=180, capture_output=True)
        reports = [json.loads(p.read_text()) for p in out.glob(f"{strategy}-rank*.json")]
    return {key: max(r[key] for r in reports) for key in reports[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--procs", type=int, nargs="+", default=[2, 4])
    args = parser.parse_args()
    mib = 1024 * 1024
    print(f"{args.layers} x Linear({args.width}, {args.width}), AdamW; largest rank of each job")
    print(
        "| strategy | processes | params MiB | grads MiB | optimizer MiB | state MiB "
        "| peak RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|")
    for strategy in ("ddp", "fsdp"):
        for procs in args.procs:
            r = launch(strategy, procs, args.width, args.layers)
            state = r["params"] + r["grads"] + r["optim"]
            print(
                f"| {strategy} | {procs} | {r['params'] / mib:.2f} | {r['grads'] / mib:.2f} | "
                f"{r['optim'] / mib:.2f} | {state / mib:.2f} | {r['rss'] / mib:.0f} |"
            )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
