"""Trainer overhead: ``Trainer.fit`` against a hand-written loop doing the same work.

The job: a tiny MLP (Linear 32-64, ReLU, Linear 64-10), batches of 64 from a ``DataLoader`` of
dict samples, cross-entropy, SGD, one CPU thread (``torch.set_num_threads(1)``). The
hand-written loop uses the same model class, data loader settings, loss function and
optimizer::

    for batch in loader:
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(batch["inputs"])["logits"], batch["labels"])
        loss.backward()
        optimizer.step()

The trainer's data connector and ``LossModule`` count as trainer cost. Neither side seeds
torch (the trainer's default ``seed=None``; a given seed costs one ``torch.manual_seed`` per
fit, about 0.4 ms). Variants, interleaved, best of several repeats:

* ``trainer``: ``Trainer.fit`` with no plugin;
* ``trainer+10``: with 10 no-op plugins implementing every hook (goal: at most 1.03 times the
  loop, whole fit against whole loop, no validation);
* ``trainer+defaults``: with the plugins ``hookwise fit`` enables by default (logging with
  plot, evaluator with accuracy, checkpoint), validating after every epoch. Goal: the training
  steps at most 1.05 times the loop's. The training steps are the span from each epoch's
  ``on_train_epoch_start`` (after the other plugins') to its ``on_train_epoch_end`` (before
  them); evaluation passes (``Trainer.test``) and checkpoint writes
  (``Trainer.save_checkpoint``) are timed and reported separately, against a hand-written
  evaluation loop and a bare ``torch.save`` of the model and optimizer.

Wall-clock noise on a shared machine is several percent, so ``--callgrind`` also counts the
instructions of the loop and of the trainer variants with valgrind's callgrind (only the
measured fit; start-up and imports are not counted).

Run: ``python benchmarks/bench_trainer.py`` (``--quick`` for a smoke run, ``--callgrind``,
``--json PATH``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import _bench
import torch
from hookwise import (
    HOOK_NAMES,
    Callback,
    DataConnector,
    LossConnector,
    LossModule,
    Trainer,
    data_key,
    pred_key,
)
from torch import nn
from torch.utils.data import DataLoader, Dataset

GOAL_NOOP = 1.03  # issue 15
GOAL_TRAINER = 1.01  # the trainer with no plugins: within ~1% of the loop
GOAL_DEFAULTS = 1.05
GOALS = {"trainer": GOAL_TRAINER, "trainer+10": GOAL_NOOP, "trainer+defaults": GOAL_DEFAULTS}
BATCH = 64


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.net(inputs)}


class Blobs(Dataset[dict[str, torch.Tensor]]):
    """``n`` samples ``{"inputs": float[32], "labels": long in [0, 10)}``."""

    def __init__(self, n: int, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.inputs = torch.randn(n, 32, generator=generator)
        self.labels = torch.randint(0, 10, (n,), generator=generator)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"inputs": self.inputs[index], "labels": self.labels[index]}


class NoOp(Callback):
    """Implements every hook and does nothing."""

    def setup(self) -> None:
        return None

    def on_fit_start(self, trainer_state: Any, model: Any) -> None:
        return None

    def on_fit_end(self, trainer_state: Any, model: Any) -> None:
        return None

    def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
        return None

    def on_train_batch_start(
        self, trainer_state: Any, model: Any, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        return None

    def on_before_optimizer_step(self, trainer_state: Any, model: Any, optimizer: Any) -> None:
        return None

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        return None

    def on_train_epoch_end(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
        return None

    def on_test_epoch_start(self, trainer_state: Any, model: Any) -> None:
        return None

    def on_test_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        return None

    def on_test_epoch_end(self, trainer_state: Any, model: Any) -> None:
        return None

    def on_validation_end(self, trainer_state: Any, model: Any, metrics: Any) -> None:
        return None

    def on_exception(self, trainer_state: Any, model: Any, exception: Any, fatal: bool) -> None:
        return None


_MISSING = [hook for hook in HOOK_NAMES if getattr(NoOp, hook) is getattr(Callback, hook)]
assert not _MISSING, f"NoOp does not implement {_MISSING}: add them"


class TimedTrainer(Trainer):
    """A Trainer that times its training epochs, evaluation passes and checkpoint writes.

    ``train_seconds`` is the time of the training epochs (steps and epoch hooks) less the
    evaluation passes and checkpoint writes inside them. With ``window=True`` the training
    epochs are also the callgrind window: evaluation passes and checkpoint writes run in a
    gap (``_bench.excluded``), which switches counting off while they run.
    """

    def __init__(self, *args: Any, window: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.window = window
        self.train_seconds = 0.0
        self.eval_seconds = 0.0
        self.checkpoint_seconds = 0.0
        self.checkpoints = 0
        self.passes = 0
        self._nested = False
        self._untimed_train_epoch = self._fit_loop.train_epoch
        self._fit_loop.train_epoch = self._train_epoch  # type: ignore[method-assign]

    def _train_epoch(self, model: nn.Module, loss_module: Any) -> None:
        start, before = time.perf_counter(), self.eval_seconds + self.checkpoint_seconds
        train_epoch = self._untimed_train_epoch
        try:
            if self.window:
                _bench.measured(lambda: train_epoch(model, loss_module))
            else:
                train_epoch(model, loss_module)
        finally:
            nested = self.eval_seconds + self.checkpoint_seconds - before
            self.train_seconds += time.perf_counter() - start - nested

    def test(self, model: nn.Module, is_val: bool = False) -> dict[str, float]:
        start, before = time.perf_counter(), self.checkpoint_seconds
        test = super().test
        try:
            return self._outside_window(lambda: test(model, is_val))
        finally:
            self.passes += 1
            nested = self.checkpoint_seconds - before
            self.eval_seconds += time.perf_counter() - start - nested

    def save_checkpoint(self, path: Any, **options: Any) -> Path | None:
        start = time.perf_counter()
        save = super().save_checkpoint
        try:
            return self._outside_window(lambda: save(path, **options))
        finally:
            self.checkpoints += 1
            self.checkpoint_seconds += time.perf_counter() - start

    def _outside_window(self, function: Callable[[], Any]) -> Any:
        if not self.window or self._nested:
            return function()
        self._nested = True
        try:
            return _bench.excluded(function)  # callgrind stops counting inside
        finally:
            self._nested = False


class Job:
    """Everything both sides share: data, model class, loss, optimizer settings."""

    def __init__(self, steps_per_epoch: int, epochs: int, val_batches: int) -> None:
        self.epochs = epochs
        self.steps = steps_per_epoch * epochs
        self.train_data = Blobs(BATCH * steps_per_epoch, seed=0)
        self.val_data = Blobs(BATCH * val_batches, seed=1)
        self.folder = Path(tempfile.mkdtemp(prefix="hookwise-bench-"))
        self._runs = 0

    def loader(self, train: bool = True) -> DataLoader[dict[str, torch.Tensor]]:
        if train:
            return DataLoader(self.train_data, batch_size=BATCH, shuffle=True)
        return DataLoader(self.val_data, batch_size=BATCH)

    def parts(self) -> tuple[MLP, torch.optim.Optimizer]:
        torch.manual_seed(0)
        model = MLP()
        return model, torch.optim.SGD(model.parameters(), lr=0.01)

    # -- the hand-written loop ------------------------------------------------------------------

    def hand_loop(self, spans: list[float] | None = None) -> Callable[[], None]:
        model, optimizer = self.parts()
        loader = self.loader()
        criterion = nn.CrossEntropyLoss()
        epochs = self.epochs

        def run() -> None:
            model.train()
            for _ in range(epochs):
                start = time.perf_counter()
                for batch in loader:
                    optimizer.zero_grad(set_to_none=True)
                    loss = criterion(model(batch["inputs"])["logits"], batch["labels"])
                    loss.backward()
                    optimizer.step()
                if spans is not None:
                    spans.append(time.perf_counter() - start)

        return run

    def hand_eval(self) -> Callable[[], None]:
        model, _ = self.parts()
        loader = self.loader(train=False)

        def run() -> None:
            model.eval()
            with torch.no_grad():
                correct = torch.zeros((), dtype=torch.long)
                for batch in loader:
                    predicted = model(batch["inputs"])["logits"].argmax(dim=1)
                    correct += (predicted == batch["labels"]).sum()
                float(correct) / len(self.val_data)

        return run

    def bare_save(self) -> Callable[[], None]:
        model, optimizer = self.parts()
        path = self.folder / "bare.pt"

        def run() -> None:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)

        return run

    # -- the trainer ----------------------------------------------------------------------------

    def trainer(
        self,
        *,
        noops: int = 0,
        plugins: Mapping[str, Mapping[str, Any]] | None = None,
        validate: bool = False,
        window: bool = False,
    ) -> tuple[TimedTrainer, Callable[[], None]]:
        model, optimizer = self.parts()
        self._runs += 1
        trainer = TimedTrainer(
            device="cpu",
            output_dir=self.folder / f"run{self._runs}",
            train_dataloader=self.loader(),
            test_dataloader=[self.loader(train=False)] if validate else None,
            train_data_connector=DataConnector({"inputs": "inputs"}),
            callbacks=[NoOp() for _ in range(noops)],
            num_epochs=self.epochs,
            check_val_every_n_epoch=1 if validate else None,
            plugins=dict(plugins or {}),
            window=window,
        )
        loss = LossModule(
            {
                "loss": nn.CrossEntropyLoss(),
                "connector": LossConnector(
                    {"input": pred_key("logits"), "target": data_key("labels")}
                ),
            }
        )

        def run() -> None:
            trainer.fit(model, optimizer, loss_module=loss)

        return trainer, run


def default_plugins() -> dict[str, dict[str, Any]]:
    """The plugins ``hookwise fit`` enables by default, with their parameters."""
    from hookwise.config import default_config

    plugins: dict[str, dict[str, Any]] = default_config()["plugins"]
    return plugins


def overhead(job: Job, repeats: int) -> dict[str, float]:
    return _bench.best_of(
        {
            "loop": lambda: job.hand_loop(),
            "trainer": lambda: job.trainer()[1],
            "trainer+10": lambda: job.trainer(noops=10)[1],
        },
        repeats,
    )


def with_defaults(job: Job, repeats: int) -> dict[str, Any]:
    """Best of each part over interleaved repeats of the loop and the default plugins' fit."""
    plugins = default_plugins()
    best: dict[str, float] = {}

    def keep(name: str, value: float) -> None:
        best[name] = min(best.get(name, float("inf")), value)

    counts: dict[str, int] = {}
    for _ in range(repeats):
        spans: list[float] = []
        run = job.hand_loop(spans)
        run()
        keep("loop steps", sum(spans))
        run = job.hand_eval()
        start = time.perf_counter()
        run()
        keep("loop eval pass", time.perf_counter() - start)
        run = job.bare_save()
        start = time.perf_counter()
        run()
        keep("torch.save", time.perf_counter() - start)

        trainer, run = job.trainer(plugins=plugins, validate=True)
        start = time.perf_counter()
        run()
        total = time.perf_counter() - start
        keep("trainer steps", trainer.train_seconds)
        keep("trainer eval pass", trainer.eval_seconds / max(trainer.passes, 1))
        keep("trainer checkpoint", trainer.checkpoint_seconds / max(trainer.checkpoints, 1))
        other = total - trainer.train_seconds - trainer.eval_seconds - trainer.checkpoint_seconds
        keep("trainer other", other)
        counts = {"eval passes": trainer.passes, "checkpoints": trainer.checkpoints}
    return {"seconds": best, "counts": counts, "plugins": plugins}


WORKERS = ("loop", "trainer", "trainer+10", "trainer+defaults")


def worker(args: argparse.Namespace) -> None:
    """One side, run under callgrind: warm up, then one measured run in the window."""
    torch.set_num_threads(1)
    job = Job(args.steps_per_epoch, args.epochs, val_batches=2)
    try:
        if args.worker == "trainer+defaults":
            plugins = default_plugins()
            job.trainer(plugins=plugins, validate=True)[1]()  # warm-up, not counted
            # The window is each training epoch, less its evaluation passes and checkpoints.
            job.trainer(plugins=plugins, validate=True, window=True)[1]()
            return
        factories: dict[str, Callable[[], Callable[[], None]]] = {
            "loop": lambda: job.hand_loop(),
            "trainer": lambda: job.trainer()[1],
            "trainer+10": lambda: job.trainer(noops=10)[1],
        }
        factory = factories[args.worker]
        factory()()  # warm-up: first-call costs (autograd, allocator, lazy imports) stay out
        _bench.measured(factory())
    finally:
        shutil.rmtree(job.folder, ignore_errors=True)


def callgrind(args: argparse.Namespace) -> dict[str, int]:
    counts = {}
    for side in WORKERS:
        argv = [
            str(Path(__file__).resolve()),
            "--worker",
            side,
            "--steps-per-epoch",
            str(args.callgrind_steps),
            "--epochs",
            str(args.callgrind_epochs),
        ]
        counts[side] = _bench.instructions(argv)
        print(f"   {side}: {counts[side]:,} instructions", flush=True)
    return counts


def main() -> None:
    parser = _bench.parser(__doc__.splitlines()[0])
    parser.add_argument("--steps-per-epoch", type=int, default=150)  # 600 steps: issue 15
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--val-batches", type=int, default=8)
    parser.add_argument(
        "--callgrind", action="store_true", help="also count instructions (minutes)"
    )
    parser.add_argument("--callgrind-steps", type=int, default=150, help="steps per epoch")
    parser.add_argument("--callgrind-epochs", type=int, default=4)
    parser.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.quick:
        args.steps_per_epoch, args.epochs, args.repeats, args.val_batches = 3, 2, 1, 2
        args.callgrind_steps, args.callgrind_epochs = 3, 1
    torch.set_num_threads(1)
    job = Job(args.steps_per_epoch, args.epochs, args.val_batches)
    _bench.header(
        f"trainer overhead: MLP 32-64-10, batch {BATCH}, SGD, {args.epochs} epochs x "
        f"{args.steps_per_epoch} steps, best of {args.repeats}"
    )
    results: dict[str, Any] = {
        "steps": job.steps,
        "goals": {
            "trainer": GOAL_TRAINER,
            "trainer+10": GOAL_NOOP,
            "defaults steps": GOAL_DEFAULTS,
        },
    }

    best = overhead(job, args.repeats)
    base = best["loop"]
    results["overhead"] = {"seconds": best, "ratios": {k: v / base for k, v in best.items()}}
    print()
    print("whole fit, no validation (µs per step)")
    print(
        _bench.table(
            ["variant", "µs/step", "ratio", "goal"],
            [
                ["loop", base / job.steps * 1e6, 1.0, ""],
                ["trainer", best["trainer"] / job.steps * 1e6, best["trainer"] / base, ""],
                [
                    "trainer+10 no-op plugins",
                    best["trainer+10"] / job.steps * 1e6,
                    best["trainer+10"] / base,
                    _verdict(best["trainer+10"] / base, GOAL_NOOP),
                ],
            ],
        )
    )
    sys.stdout.flush()

    sys.stdout.flush()
    defaults = with_defaults(job, args.repeats)
    results["defaults"] = defaults
    seconds = defaults["seconds"]
    steps_ratio = seconds["trainer steps"] / seconds["loop steps"]
    defaults["ratios"] = {
        "steps": steps_ratio,
        "eval pass": seconds["trainer eval pass"] / seconds["loop eval pass"],
        "checkpoint": seconds["trainer checkpoint"] / seconds["torch.save"],
    }
    names = ", ".join(f"{n} {p}" if p else n for n, p in defaults["plugins"].items())
    print()
    print(f"default plugins ({names}), validation every epoch")
    print(
        _bench.table(
            ["part", "trainer ms", "reference ms", "ratio", "goal"],
            [
                [
                    f"training steps ({job.steps})",
                    seconds["trainer steps"] * 1e3,
                    seconds["loop steps"] * 1e3,
                    steps_ratio,
                    _verdict(steps_ratio, GOAL_DEFAULTS),
                ],
                [
                    "one evaluation pass (vs hand-written eval loop)",
                    seconds["trainer eval pass"] * 1e3,
                    seconds["loop eval pass"] * 1e3,
                    defaults["ratios"]["eval pass"],
                    "",
                ],
                [
                    "one checkpoint write (vs bare torch.save)",
                    seconds["trainer checkpoint"] * 1e3,
                    seconds["torch.save"] * 1e3,
                    defaults["ratios"]["checkpoint"],
                    "",
                ],
                [
                    "rest of fit (setup, fit start/end, plot)",
                    seconds["trainer other"] * 1e3,
                    "-",
                    "-",
                    "",
                ],
            ],
        )
    )
    print(
        f"   per fit: {defaults['counts'].get('eval passes', 0)} evaluation passes, "
        f"{defaults['counts'].get('checkpoints', 0)} checkpoint writes"
    )
    sys.stdout.flush()

    if args.callgrind:
        counts = callgrind(args)
        steps = args.callgrind_steps * args.callgrind_epochs
        results["callgrind"] = {"steps": steps, "instructions": counts}
        print()
        print(
            f"instructions (callgrind) per step, {steps} steps after a warm-up fit "
            "(trainer+defaults: training epochs only, evaluation passes and checkpoints excluded)"
        )
        print(
            _bench.table(
                ["variant", "instructions/step", "ratio", "goal"],
                [
                    [
                        name,
                        f"{count / steps:,.0f}",
                        count / counts["loop"],
                        _verdict(count / counts["loop"], GOALS[name]) if name in GOALS else "",
                    ]
                    for name, count in counts.items()
                ],
            )
        )
    _bench.finish(args, "trainer", results)
    shutil.rmtree(job.folder, ignore_errors=True)


def _verdict(ratio: float, goal: float) -> str:
    return f"<= {goal}: {'yes' if ratio <= goal else 'no'}"


if __name__ == "__main__":
    main()
