"""Hook dispatch cost: hookwise's ``pm.hook.<name>(...)`` against a plain loop.

Calls ``on_train_batch_end`` on N no-op callbacks three ways, interleaved, best of several
repeats, in one process:

* baseline: a plain Python loop over the same bound methods, passing the hook's arguments
  positionally (the fastest plain loop; a loop passing keywords is shown as well);
* hookwise: ``pm.hook.on_train_batch_end(**kwargs)`` through hookwise's call path;
* pluggy: the same implementations through pluggy's own call path (``pm._hookexec``).

Prints a ratio table. The goal (core issue): hookwise at most 1.5 times the baseline for 10
and 50 callbacks. Run: ``python benchmarks/bench_dispatch.py``.
"""

from __future__ import annotations

import argparse
import timeit
from typing import Any

from hookwise import Callback, PluginManager


class NoOp(Callback):
    """A callback that overrides one hook and does nothing."""

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


KWARGS: dict[str, Any] = {
    "trainer_state": {},
    "model": None,
    "loss_module": None,
    "outputs": {},
    "batch": {},
    "batch_idx": 0,
}


def measure(count: int, repeats: int, number: int) -> dict[str, float]:
    pm = PluginManager()
    callbacks = [NoOp() for _ in range(count)]
    for index, callback in enumerate(callbacks):
        pm.register(callback, f"noop{index}")
    methods = [c.on_train_batch_end for c in callbacks]
    hook = pm.hook
    caller = pm.hook.on_train_batch_end
    pluggy_impls = caller.get_hookimpls()
    hookexec = pm._hookexec
    kwargs = KWARGS

    state, model, loss, outputs, batch = {}, None, None, {}, {}

    def baseline() -> None:
        for method in methods:
            method(state, model, loss, outputs, batch, 0)

    def keyword_loop() -> None:
        for method in methods:
            method(**kwargs)

    def hookwise() -> None:  # as the trainer calls it: keyword arguments
        hook.on_train_batch_end(
            trainer_state=state, model=model, loss_module=loss, outputs=outputs, batch=batch,
            batch_idx=0,
        )

    def method_path() -> None:  # the trainer's path: a method call returning attributed results
        caller.call_attributed(
            trainer_state=state, model=model, loss_module=loss, outputs=outputs, batch=batch,
            batch_idx=0,
        )

    def pluggy_path() -> None:
        hookexec("on_train_batch_end", pluggy_impls.copy(), kwargs, False)

    functions = {
        "baseline": baseline,
        "keywords": keyword_loop,
        "hookwise": hookwise,
        "attributed": method_path,
        "pluggy": pluggy_path,
    }
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(repeats):  # interleaved: each repeat measures every variant
        for name, function in functions.items():
            elapsed = timeit.timeit(function, number=number) / number
            best[name] = min(best[name], elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=20000)
    args = parser.parse_args()
    print(
        f"{'callbacks':>9} {'baseline µs':>12} {'hookwise µs':>12} {'hookwise/base':>14} "
        f"{'attributed/base':>16} {'kw-loop/base':>13} {'pluggy/base':>12}"
    )
    for count in args.counts:
        best = measure(count, args.repeats, args.number)
        base = best["baseline"]
        print(
            f"{count:>9} {base * 1e6:>12.3f} {best['hookwise'] * 1e6:>12.3f} "
            f"{best['hookwise'] / base:>14.2f} {best['attributed'] / base:>16.2f} "
            f"{best['keywords'] / base:>13.2f} "
            f"{best['pluggy'] / base:>12.2f}"
        )


if __name__ == "__main__":
    main()
