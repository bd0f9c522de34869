"""Triggers: the cost of a step where a triggered implementation does not run.

One hook (``on_train_batch_end``, the trainer's path ``call_attributed``) with ten plugins that
each act every 50 steps, called for steps 1..N; per call, best of several interleaved repeats:

* ``counting in the body``: each implementation is called every step and returns early
  (``if trainer_state["global_step"] % self.every: return``), as callbacks do elsewhere;
* ``every_n_steps=50``: the interval in the decorator; the generated call code compares and
  does not call;
* ``every_n_steps="every"``: the interval is the plugin's attribute, read at each call;
* ``no plugins``: the hook's call with nothing to call (the floor).

Goal (issue 17, declarative triggers): a skipped step costs a comparison, not a call: the
triggered variants cost less than counting in the body. Wall-clock time on a shared machine is
noisy; ``--callgrind`` counts the instructions per step with valgrind's callgrind instead.

Measured with ``--callgrind`` (CPython 3.11.7, pluggy 1.7.0; instructions per step, 2,000
steps): counting in the body 18,155; ``every_n_steps=50`` 12,502; ``every_n_steps="every"``
16,376; no plugins 6,085. Per skipped implementation: about 1,200 instructions counting in the
body, 640 with a fixed interval, 1,030 with an interval read from the plugin's attribute.

Run: ``python benchmarks/bench_triggers.py`` (``--quick`` for a smoke run, ``--callgrind``,
``--json PATH``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _bench
from hookwise import PluginManager, hookimpl

PLUGINS = 10
EVERY = 50


class Counting:
    def __init__(self) -> None:
        self.every = EVERY
        self.runs = 0

    @hookimpl
    def on_train_batch_end(self, trainer_state: Any) -> None:
        if trainer_state["global_step"] % self.every:
            return
        self.runs += 1


class Declared:
    def __init__(self) -> None:
        self.runs = 0

    @hookimpl(every_n_steps=EVERY)
    def on_train_batch_end(self, trainer_state: Any) -> None:
        self.runs += 1


class FromAttribute:
    def __init__(self) -> None:
        self.every = EVERY
        self.runs = 0

    @hookimpl(every_n_steps="every")
    def on_train_batch_end(self, trainer_state: Any) -> None:
        self.runs += 1


def variant(cls: type | None, steps: int) -> Callable[[], Callable[[], Any]]:
    def prepare() -> Callable[[], Any]:
        pm = PluginManager(allowed=None)
        plugins = [cls() for _ in range(PLUGINS)] if cls is not None else []
        for index, plugin in enumerate(plugins):
            pm.register(plugin, f"p{index}")
        # As the trainer calls it: the method looked up at each call (the first call installs
        # the generated code on the caller's class; a method bound before that stays the
        # generating one).
        caller = pm.caller("on_train_batch_end")
        states = [{"global_step": step, "current_epoch": 0} for step in range(1, steps + 1)]
        kwargs = {"model": None, "loss_module": None, "outputs": None, "batch": None}
        caller.call_attributed(trainer_state=states[0], batch_idx=0, **kwargs)  # untimed build

        def run() -> None:
            for state in states:
                caller.call_attributed(trainer_state=state, batch_idx=0, **kwargs)
            assert all(p.runs in (steps // EVERY, steps // EVERY + 1) for p in plugins)

        return run

    return prepare


def variants(steps: int) -> dict[str, Callable[[], Callable[[], Any]]]:
    return {
        "counting in the body": variant(Counting, steps),
        "every_n_steps=50": variant(Declared, steps),
        'every_n_steps="every"': variant(FromAttribute, steps),
        "no plugins": variant(None, steps),
    }


def callgrind(steps: int) -> dict[str, float]:
    """Instructions per step of every variant (each in its own process under callgrind)."""
    script = str(Path(__file__).resolve())
    return {
        name: _bench.instructions([script, "--worker", name, "--steps", str(steps)]) / steps
        for name in variants(1)
    }


def main() -> None:
    parser = _bench.parser(__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument(
        "--callgrind", action="store_true", help="also count instructions per step (valgrind)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _bench.measured(variants(args.steps)[args.worker]())
        return
    steps = 500 if args.quick else args.steps
    repeats = 1 if args.quick else args.repeats
    _bench.header(f"triggers: {PLUGINS} plugins acting every {EVERY} steps, {steps} steps")
    best = _bench.best_of(variants(steps), repeats)
    per_call = {name: seconds / steps * 1e6 for name, seconds in best.items()}
    results: dict[str, Any] = {"steps": steps, "us_per_step": per_call}
    rows = [[name, f"{value:.2f}"] for name, value in per_call.items()]
    headers = ["variant", "us per step"]
    if args.callgrind:
        counted = callgrind(500 if args.quick else 2000)
        results["instructions_per_step"] = counted
        headers.append("instructions per step")
        rows = [[*row, f"{counted[row[0]]:,.0f}"] for row in rows]
    print(_bench.table(headers, rows))
    _bench.finish(args, "triggers", results)


if __name__ == "__main__":
    main()
