"""pluggy's own test suite, run against ``hookwise.PluginManager`` (DESIGN decision 14).

The test fetches the sdist of the installed pluggy version with pip (cached between runs), runs
its ``testing/`` folder in a fresh pytest process with :mod:`pluggy_adapter` (every
``PluginManager`` those tests build is hookwise's) and with the order assertions adapted to
hookwise's documented order (:mod:`pluggy_order_patches`); every other assertion is pluggy's
own. pluggy's configuration applies (``filterwarnings = error``). ``tox -e pluggy-1.5`` (1.6,
1.7) runs it under each supported pluggy version.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pluggy_order_patches

HERE = Path(__file__).parent


def _cache() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "hookwise-tests" / "pluggy-sdist"


def pluggy_sdist(version: str) -> Path:
    """The sdist of pluggy ``version``, downloaded with pip once and cached."""
    cache = _cache()
    found = sorted(cache.glob(f"pluggy-{version}.tar.gz"))
    if found:
        return found[0]
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as download:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-binary",
            ":all:",
            "--no-deps",
            "--quiet",
            f"pluggy=={version}",
            "-d",
            download,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        archives = list(Path(download).glob("pluggy-*.tar.gz"))
        assert done.returncode == 0 and archives, (
            f"`{' '.join(command)}` could not fetch pluggy's sdist (the conformance test needs "
            f"the package index): {done.stderr[-2000:]}"
        )
        target = cache / archives[0].name
        os.replace(archives[0], target)  # atomic: a parallel run sees all or nothing
    return target


def extract_suite(sdist: Path, into: Path) -> Path:
    """pluggy's ``testing/`` and ``tox.ini`` (its pytest configuration) into ``into``."""
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        members = [
            m
            for m in archive.getmembers()
            if m.name.startswith(f"{top}/testing/") or m.name == f"{top}/tox.ini"
        ]
        archive.extractall(into, members=members, filter="data")
    suite = into / "suite"
    shutil.move(str(into / top), suite)
    return suite


def run_suite(suite: Path) -> tuple[subprocess.CompletedProcess[str], ET.Element]:
    report = suite / "report.xml"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        # pluggy's suite as pluggy runs it: no third-party pytest plugin (hookwise's own
        # toolkit plugin included) loads by itself.
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    command = [sys.executable, "-m", "pytest", "testing", "-p", "pluggy_adapter"]
    command += ["-p", "no:cacheprovider", f"--junitxml={report}"]
    done = subprocess.run(command, cwd=suite, env=env, capture_output=True, text=True, timeout=600)
    root = ET.parse(report).getroot()
    return done, root.find("testsuite") if root.tag == "testsuites" else root  # type: ignore[return-value]


def test_pluggys_own_test_suite_passes_against_hookwise(tmp_path: Path) -> None:
    version = importlib.metadata.version("pluggy")
    suite = extract_suite(pluggy_sdist(version), tmp_path)
    applied = pluggy_order_patches.apply(suite / "testing")
    done, totals = run_suite(suite)
    counts = {k: int(totals.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}
    print(f"pluggy {version}: {counts}, {len(applied)} order assertions adapted")
    output = done.stdout[-6000:] + done.stderr[-2000:]
    assert "hookwise.PluginManager under test" in done.stdout, output
    assert done.returncode == 0, output
    assert counts["tests"] > 100, output
    assert counts["failures"] == counts["errors"] == counts["skipped"] == 0, output


def test_order_patches_refuse_a_changed_test(tmp_path: Path) -> None:
    testing = tmp_path / "testing"
    testing.mkdir()
    (testing / "test_x.py").write_text("def test_a():\n    assert [2, 1] == [2, 1]\n")
    patch = pluggy_order_patches.Patch("test_x.py", "test_a", "[3, 2, 1]", "[1, 2, 3]", "why")
    try:
        pluggy_order_patches.apply(testing, (patch,))
    except RuntimeError as exc:
        assert "review this order patch" in str(exc)
    else:
        raise AssertionError("a patch whose text is gone must not pass silently")
    moved = pluggy_order_patches.Patch("test_x.py", "test_b", "[2, 1]", "[1, 2]", "why")
    assert pluggy_order_patches.apply(testing, (moved,)) == []  # a test this version lacks
