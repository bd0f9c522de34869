"""Shared helpers of the benchmark scripts: interleaved best-of timing, tables, the machine.

Not a benchmark itself. Every script measures each variant once per repeat, in turn
(interleaved, so that a slow spell of a shared machine hits all variants alike), keeps the
best repeat of each, and prints ratios against its baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any


def best_of(
    variants: Mapping[str, Callable[[], Callable[[], Any]]], repeats: int
) -> dict[str, float]:
    """Best wall time in seconds of each variant over ``repeats`` interleaved rounds.

    Each variant is a factory, called untimed before every timed run, that returns the
    function to time (so every run starts from fresh objects).
    """
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(repeats):
        for name, prepare in variants.items():
            function = prepare()
            start = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def instructions(argv: Sequence[str], *, window: bool = True) -> int:
    """Instructions executed by ``python argv`` under valgrind's callgrind.

    With ``window`` (default), only what runs inside :func:`measured` is counted (callgrind
    toggles collection on entering and leaving CPython's ``operator.call``), so interpreter
    start-up and imports are left out; otherwise the whole process is counted.
    """
    if shutil.which("valgrind") is None:
        raise SystemExit("--callgrind needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        if window:
            command += [
                "--collect-atstart=no",
                "--toggle-collect=_operator_call",
                "--toggle-collect=sys_call_tracing",  # see excluded()
            ]
        command += [sys.executable, *argv]
        # a fixed hash seed: string hashes (and so dictionary layouts and probe counts) are the
        # same in every run, so two runs of the same code count the same instructions
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
        if done.returncode != 0:
            raise RuntimeError(
                f"callgrind run of {' '.join(argv)} failed ({done.returncode}):\n"
                f"{done.stderr[-3000:]}"
            )
        for line in out.read_text(encoding="utf-8").splitlines():
            if line.startswith("totals:") or line.startswith("summary:"):
                count = int(line.split()[1])
                break
        else:
            raise RuntimeError(f"no instruction total in callgrind's output for {argv}")
    if count == 0:
        raise RuntimeError(
            "callgrind counted nothing inside operator.call: this Python has no symbol "
            "'_operator_call' (a stripped build?) or the script did not call measured()"
        )
    return count


def measured(function: Callable[[], Any]) -> Any:
    """Run ``function`` as the window :func:`instructions` counts (Python 3.11+)."""
    call = getattr(operator, "call", None)
    if call is None:
        raise SystemExit("--callgrind windows need Python 3.11 or later (operator.call)")
    return call(function)


def excluded(function: Callable[[], Any]) -> Any:
    """Run ``function`` inside a :func:`measured` window without counting it.

    A nested :func:`measured` call does not do this: callgrind toggles collection only on the
    outermost entry of a function (a recursive ``operator.call`` leaves counting on). So the
    gap goes through another C function that nothing else calls, ``sys.call_tracing`` (a
    plain call when no tracer is set), which :func:`instructions` also toggles on.
    """
    return sys.call_tracing(function, ())


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with right-aligned columns (floats shown with 3 decimals)."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [
        max(len(str(header)), *(len(row[i]) for row in cells)) if cells else len(str(header))
        for i, header in enumerate(headers)
    ]
    lines = ["  ".join(f"{header:>{width}}" for header, width in zip(headers, widths, strict=True))]
    lines += ["  ".join(f"{c:>{w}}" for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    affinity = getattr(os, "sched_getaffinity", None)
    return {
        "cpu": cpu,
        "cores": len(affinity(0)) if affinity is not None else os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": f"{platform.system()} {platform.release()}",
        "torch": version("torch"),
        "pluggy": version("pluggy"),
        "importlib-metadata": version("importlib-metadata"),
        "hookwise": version("hookwise"),
    }


def describe(info: Mapping[str, Any]) -> str:
    return (
        f"{info['cpu']}, {info['cores']} cores usable; {info['implementation']} "
        f"{info['python']}; torch {info['torch']}; pluggy {info['pluggy']}; "
        f"importlib-metadata {info['importlib-metadata']}"
    )


def parser(description: str) -> argparse.ArgumentParser:
    """The options every script has: ``--quick`` and ``--json PATH``."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument(
        "--quick",
        action="store_true",
        help="a tiny run that only checks the script works (numbers are meaningless)",
    )
    result.add_argument("--json", type=Path, help="also write the results to this JSON file")
    return result


def finish(args: argparse.Namespace, name: str, results: Mapping[str, Any]) -> None:
    """Write ``--json`` if asked."""
    if args.json is not None:
        payload = {"benchmark": name, "quick": args.quick, "machine": machine(), **results}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def header(title: str) -> None:
    print(f"== {title}")
    print(f"   {describe(machine())}")
    sys.stdout.flush()
