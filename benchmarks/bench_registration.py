"""Registration cost: registering N plugins on hookwise's manager against pluggy's own.

Each variant registers N fresh plugin objects on a fresh manager that has hookwise's hook
specifications, then calls one hook once (so hookwise's lazily generated call code is built
and paid for, as a run pays it), best of several interleaved repeats, in one process:

* ``pluggy``: the baseline, ``pluggy.PluginManager.register`` of N objects whose four hook
  methods are marked ``@hookimpl``;
* ``hookwise``: ``hookwise.PluginManager.register`` of the same marked objects;
* ``hookwise Callback``: ``hookwise.PluginManager.register`` of N ``Callback`` subclasses
  overriding the same four hooks (no decorator; what a vis4d user writes);
* ``enable_object``: the loader's way (``pm.enable_object``), with its checks.

Goals (performance issue): linear in N (the per-plugin cost at 1,000 is the per-plugin cost at
10), and no slower than pluggy's ``register`` at 10, 100 and 1,000 plugins. Before this change
hookwise regenerated every hook's call code on every registration (quadratic: 300 plugins took
1.9 s).

Run: ``python benchmarks/bench_registration.py`` (``--quick`` for a smoke run, ``--json PATH``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import _bench
import pluggy
from hookwise import Callback, PluginManager, hookimpl, hookspecs

GOAL = 1.0


class Marked:
    """Four marked no-op hook implementations (the plugin pluggy can register)."""

    @hookimpl
    def on_train_epoch_start(self, trainer_state: Any) -> None:
        return None

    @hookimpl
    def on_train_batch_end(self, trainer_state: Any, batch_idx: int) -> None:
        return None

    @hookimpl
    def on_train_epoch_end(self, trainer_state: Any) -> None:
        return None

    @hookimpl
    def on_validation_end(self, metrics: Any) -> None:
        return None


class Overriding(Callback):
    """The same four hooks as a vis4d-style ``Callback`` subclass."""

    def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
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

    def on_validation_end(self, trainer_state: Any, model: Any, metrics: Any) -> None:
        return None


def _call(pm: pluggy.PluginManager) -> None:
    pm.hook.on_train_epoch_start(trainer_state={}, model=None, loss_module=None)


def variants(count: int) -> dict[str, Callable[[], Callable[[], Any]]]:
    """Each way of registering ``count`` plugins, as factories of the timed function."""

    def pluggy_register() -> Callable[[], Any]:
        pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        pm.add_hookspecs(hookspecs)
        plugins = [Marked() for _ in range(count)]

        def run() -> None:
            for index, plugin in enumerate(plugins):
                pm.register(plugin, f"p{index}")
            _call(pm)

        return run

    def hookwise_register(cls: type, enable: bool = False) -> Callable[[], Callable[[], Any]]:
        def prepare() -> Callable[[], Any]:
            pm = PluginManager(allowed=None)
            plugins = [cls() for _ in range(count)]
            register = pm.enable_object if enable else pm.register

            def run() -> None:
                for index, plugin in enumerate(plugins):
                    register(plugin, f"p{index}")
                _call(pm)

            return run

        return prepare

    return {
        "pluggy": pluggy_register,
        "hookwise": hookwise_register(Marked),
        "hookwise Callback": hookwise_register(Overriding),
        "enable_object": hookwise_register(Overriding, enable=True),
    }


def main() -> None:
    parser = _bench.parser(__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.quick:
        args.counts, args.repeats = [10, 100], 1
    _bench.header("registration: N plugins, four hooks each, then one hook call")
    rows = []
    results: dict[str, Any] = {"goal": GOAL, "counts": {}}
    per_plugin: dict[str, dict[int, float]] = {}
    for count in args.counts:
        best = _bench.best_of(variants(count), args.repeats)
        base = best["pluggy"]
        ratios = {name: value / base for name, value in best.items()}
        results["counts"][str(count)] = {"seconds": best, "ratios": ratios}
        for name, seconds in best.items():
            per_plugin.setdefault(name, {})[count] = seconds / count
        rows.append(
            [count, base * 1e3]
            + [ratios[name] for name in ("hookwise", "hookwise Callback", "enable_object")]
            + ["yes" if max(ratios["hookwise"], ratios["hookwise Callback"]) <= GOAL else "no"]
        )
    print(
        _bench.table(
            [
                "plugins",
                "pluggy ms",
                "hookwise/pluggy",
                "Callback/pluggy",
                "enable_object/pluggy",
                f"<= {GOAL}",
            ],
            rows,
        )
    )
    first, last = min(args.counts), max(args.counts)
    print()
    print(f"per-plugin cost at {last} plugins / at {first} (1.0 = linear)")
    growth = {name: costs[last] / costs[first] for name, costs in per_plugin.items()}
    results["growth"] = growth
    print(_bench.table(["variant", "growth"], [[name, value] for name, value in growth.items()]))
    _bench.finish(args, "registration", results)


if __name__ == "__main__":
    main()
