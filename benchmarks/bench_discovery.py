"""Discovery cost: listing hookwise plugins among 1,000 extra installed distributions.

Writes 1,000 ``.dist-info`` folders into a temporary folder put on ``PYTHONPATH`` (no pip):
every fourth declares console scripts, and ``--plugins`` of them (default 10) declare a
``hookwise.plugins`` entry point whose target module does not exist (so listing them proves
nothing is imported). Then runs, each in a fresh process, interleaved, best of several repeats
(after a warm-up round; every module's bytecode is cached in the temporary folder, as an
install has it):

* ``bare scan``: ``importlib_metadata.entry_points(group="hookwise.plugins")``, the baseline,
  with the same metadata library hookwise uses;
* ``hookwise plugins --json``: the command (goal: at most 1.2 times the bare scan);
* ``PluginManager().installed()``: the same listing through the Python API;
* ``import hookwise`` and ``python -c pass``: what the ratio is made of.

It also checks that the listing found every fake plugin and that listing imported neither
torch nor any plugin. ``--callgrind`` counts each command's instructions too (whole process).

Run: ``python benchmarks/bench_discovery.py`` (``--quick``, ``--callgrind``, ``--json PATH``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _bench

GOAL = 1.2
GROUP = "hookwise.plugins"


def write_distributions(site: Path, count: int, plugins: int) -> list[str]:
    """Write ``count`` distributions into ``site``; return the plugin names declared."""
    names = []
    step = max(count // max(plugins, 1), 1)
    for index in range(count):
        name = f"bench-dist-{index:04d}"
        info = site / f"bench_dist_{index:04d}-1.{index % 7}.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.{index % 7}.0\n"
            f"Summary: benchmark filler {index}\n",
            encoding="utf-8",
        )
        sections = []
        if index % 4 == 0:
            sections.append(f"[console_scripts]\nbench-tool-{index} = bench_dist_{index}:main\n")
        if index % step == 0 and len(names) < plugins:
            plugin = f"bench_plugin_{index:04d}"
            names.append(plugin)
            sections.append(f"[{GROUP}]\n{plugin} = bench_missing_module_{index}:Plugin\n")
        if sections:
            (info / "entry_points.txt").write_text("\n".join(sections), encoding="utf-8")
        (info / "RECORD").write_text("", encoding="utf-8")
    return names


def commands() -> dict[str, list[str]]:
    python = sys.executable
    script = Path(python).with_name("hookwise")
    cli = [str(script)] if script.exists() else [python, "-m", "hookwise"]
    return {
        "python -c pass": [python, "-c", "pass"],
        "bare scan": [
            python,
            "-c",
            f"import importlib_metadata; importlib_metadata.entry_points(group={GROUP!r})",
        ],
        "import hookwise": [python, "-c", "import hookwise"],
        "PluginManager().installed()": [
            python,
            "-c",
            "import hookwise; hookwise.PluginManager().installed()",
        ],
        "hookwise plugins --json": [*cli, "plugins", "--json"],
    }


def environment(site: Path) -> dict[str, str]:
    """The fake distributions first on ``PYTHONPATH``; bytecode cached in a private folder
    beside them (``PYTHONPYCACHEPREFIX``), as an installed package has it, whatever
    ``PYTHONDONTWRITEBYTECODE`` says: otherwise every run would compile hookwise's modules
    from source while ``importlib_metadata``'s come compiled from site-packages."""
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(site) + (os.pathsep + path if path else "")
    env["PYTHONPYCACHEPREFIX"] = str(site.parent / "pycache")
    for name in ("HOOKWISE_PLUGINS", "HOOKWISE_ALLOWED_PLUGINS", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    return env


def check(site: Path, expected: list[str]) -> dict[str, Any]:
    """The listing finds every fake plugin and imports neither torch nor any plugin."""
    env = environment(site)
    code = (
        "import json, sys, hookwise\n"
        "names = [p.name for p in hookwise.PluginManager().installed()]\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('bench_'))\n"
        "print(json.dumps([names, bad]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    names, imported = json.loads(done.stdout)
    listed = subprocess.run(
        commands()["hookwise plugins --json"], env=env, capture_output=True, text=True, check=True
    )
    rows = json.loads(listed.stdout)
    entries = rows["plugins"] if isinstance(rows, dict) else rows
    cli_names = {row["name"] for row in entries}
    missing = [n for n in expected if n not in names or n not in cli_names]
    if missing or imported:
        raise SystemExit(f"discovery check failed: missing {missing}, imported {imported}")
    return {"found": len(expected), "imported": imported}


def run_all(site: Path, repeats: int) -> dict[str, float]:
    env = environment(site)
    for argv in commands().values():  # a warm-up round: compiles the bytecode cache
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    best: dict[str, float] = {}
    for _ in range(repeats):  # interleaved
        for name, argv in commands().items():
            start = time.perf_counter()
            subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
            elapsed = time.perf_counter() - start
            best[name] = min(best.get(name, float("inf")), elapsed)
    return best


def callgrind(site: Path) -> dict[str, int]:
    counts = {}
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environment(site))  # the child inherits it through valgrind
    try:
        for name, argv in commands().items():
            if argv[0] != sys.executable:  # the console script is a Python script
                argv = [sys.executable, *argv]
            counts[name] = _bench.instructions(argv[1:], window=False)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return counts


def main() -> None:
    parser = _bench.parser(__doc__.splitlines()[0])
    parser.add_argument("--distributions", type=int, default=1000)
    parser.add_argument("--plugins", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--callgrind", action="store_true", help="also count instructions")
    args = parser.parse_args()
    if args.quick:
        args.distributions, args.plugins, args.repeats = 40, 3, 1

    folder = Path(tempfile.mkdtemp(prefix="hookwise-bench-discovery-"))
    try:
        site = folder / "site"
        expected = write_distributions(site, args.distributions, args.plugins)
        _bench.header(
            f"discovery: {args.distributions} extra distributions ({len(expected)} declare "
            f"hookwise plugins), fresh process each, best of {args.repeats}"
        )
        results: dict[str, Any] = {"goal": GOAL, "check": check(site, expected)}
        best = run_all(site, args.repeats)
        base = best["bare scan"]
        results["seconds"] = best
        results["ratios"] = {name: value / base for name, value in best.items()}
        rows = []
        for name, value in best.items():
            ratio = value / base
            goal = ""
            if name == "hookwise plugins --json":
                goal = f"<= {GOAL}: {'yes' if ratio <= GOAL else 'no'}"
            rows.append([name, value * 1e3, ratio, goal])
        print(_bench.table(["command", "ms", "ratio to bare scan", "goal"], rows))
        print(
            f"   listing found all {len(expected)} fake plugins and imported neither torch "
            "nor any plugin"
        )
        if args.callgrind:
            counts = callgrind(site)
            results["callgrind"] = counts
            print()
            print("instructions (callgrind, whole process)")
            print(
                _bench.table(
                    ["command", "instructions", "ratio to bare scan"],
                    [
                        [name, f"{count:,}", count / counts["bare scan"]]
                        for name, count in counts.items()
                    ],
                )
            )
        _bench.finish(args, "discovery", results)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
