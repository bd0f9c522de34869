"""``hookwise plugins``: metadata only (no plugin, no torch imported), fast with hundreds of
distributions, statuses from the environment, ``--inspect`` with a broken plugin, ``--json``;
and ``hookwise hooks``."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from clikit import explain, hookwise_env, run_hookwise
from hookwise import hookspecs

GOOD = '''
from hookwise import Callback

class Good(Callback):
    """A plugin that works."""

    def on_fit_start(self, trainer_state, model):
        pass

    def on_validation_end(self, trainer_state, model, metrics):
        pass
'''
BROKEN = """
import os
open(os.environ["IMPORT_MARKER"], "a").write("imported\\n")
raise RuntimeError("boom at import")
"""
BAD_HOOK = """
from hookwise import hookimpl

@hookimpl
def on_trian_batch_end(trainer_state):
    pass
"""


def fake_distribution(
    site: Path, dist: str, plugins: dict[str, str], modules: dict[str, str]
) -> None:
    """A distribution that importlib.metadata finds on sys.path (no pip needed)."""
    info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    lines = ["[hookwise.plugins]", *(f"{n} = {t}" for n, t in plugins.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for name, source in modules.items():
        (site / f"{name}.py").write_text(source)


def fake_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    fake_distribution(
        site, "fake-good", {"fake_good": "fake_good_mod:Good"}, {"fake_good_mod": GOOD}
    )
    fake_distribution(
        site, "fake-broken", {"fake_broken": "fake_broken_mod:Plugin"}, {"fake_broken_mod": BROKEN}
    )
    fake_distribution(
        site, "fake-badhook", {"fake_badhook": "fake_badhook_mod"}, {"fake_badhook_mod": BAD_HOOK}
    )
    return site


def run(
    tmp_path: Path,
    *args: str,
    env: dict[str, str | None] | None = None,
    python: tuple[str, ...] = (),
):
    site = fake_site(tmp_path) if not (tmp_path / "site").exists() else tmp_path / "site"
    extra = {"PYTHONPATH": f"{site}", "IMPORT_MARKER": str(tmp_path / "marker"), **(env or {})}
    return subprocess.run(
        [sys.executable, *python, "-m", "hookwise", "plugins", *args],
        cwd=tmp_path,
        env=hookwise_env(extra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def imported_modules(stderr: str) -> set[str]:
    """The modules a ``python -X importtime`` run imported, from its stderr."""
    return {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if "|" in line}


PROBE = """
import atexit, os, sys

atexit.register(lambda: open(os.environ["MODULES_AT_EXIT"], "w").write("\\n".join(sys.modules)))
"""


def modules_at_exit(tmp_path: Path, argv: list[str]) -> set[str]:
    """Every module in ``sys.modules`` when ``python ARGV`` exits (among the fake plugins' site).

    A ``sitecustomize`` writes them at exit: ``-X importtime`` does not log a module imported
    by ``importlib.import_module``, as the lazy names of ``hookwise`` and ``hookwise.cli`` are.
    """
    probe, out = tmp_path / "probe", tmp_path / f"modules-{len(list(tmp_path.iterdir()))}"
    probe.mkdir(exist_ok=True)
    (probe / "sitecustomize.py").write_text(PROBE)
    site = fake_site(tmp_path) if not (tmp_path / "site").exists() else tmp_path / "site"
    extra = {"PYTHONPATH": f"{probe}{os.pathsep}{site}", "MODULES_AT_EXIT": str(out)}
    extra["IMPORT_MARKER"] = str(tmp_path / "marker")
    done = subprocess.run(
        [sys.executable, *argv],
        cwd=tmp_path,
        env=hookwise_env(extra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, explain(done)
    return set(out.read_text().split())


#: The hookwise modules ``hookwise plugins [--json]`` may import: the command's entry point and
#: the metadata-only listing; not the plugin manager, pluggy, the config or the trainer.
LISTING_MODULES = {
    "hookwise",
    "hookwise.bundled",
    "hookwise.cli",
    "hookwise.cli.app",
    "hookwise.cli.parser",
    "hookwise.cli.plugins",
    "hookwise.discovery",
    "hookwise.environment",
    "hookwise.listing",
    "hookwise.plugins",
    "hookwise.plugins.discovery",
}


@pytest.mark.parametrize("args", [[], ["--json"]], ids=["table", "json"])
def test_listing_imports_little_beyond_importlib_metadata_argparse_and_json(
    tmp_path: Path, args: list[str]
) -> None:
    scan = "import importlib_metadata as m; print(m.entry_points(group='hookwise.plugins'))"
    use = "import argparse, json, runpy; argparse.ArgumentParser().parse_args([]); json.dumps([])"
    baseline = modules_at_exit(tmp_path, ["-c", f"{use}; {scan}"])
    imported = modules_at_exit(tmp_path, ["-m", "hookwise", "plugins", *args])
    assert "hookwise.cli.plugins" in imported and "json" in baseline  # the probe works
    extra = imported - baseline
    # No pluggy, plugin manager, config or tomllib, settings, logging, email, torch, plugin.
    assert extra <= LISTING_MODULES, sorted(extra - LISTING_MODULES)
    assert not (tmp_path / "marker").exists()


def test_listing_reads_metadata_only_and_imports_neither_torch_nor_plugins(tmp_path: Path) -> None:
    result = run(tmp_path, "--json", python=("-X", "importtime"))
    assert result.returncode == 0, explain(result)
    imported = imported_modules(result.stderr)
    assert "hookwise.cli" in imported  # the import log is real
    assert not {
        m for m in imported if m == "torch" or m.startswith(("torch.", "fake_", "hookwise_"))
    }
    assert not (tmp_path / "marker").exists()
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["fake_good"] == {
        "name": "fake_good",
        "distribution": "fake-good",
        "version": "1.2.3",
        "target": "fake_good_mod:Good",
        "installed": True,
        "default": False,
        "enabled_by_env": False,
        "blocked": False,
        "blocked_reason": None,
        "path": None,  # a local plugin file's path (hookwise plugins CONFIG)
    }
    assert rows["fake_broken"]["target"] == "fake_broken_mod:Plugin"  # listed, not imported


@pytest.mark.slow
def test_inspect_shows_hooks_and_broken_plugins_and_the_others_still_list(tmp_path: Path) -> None:
    result = run(tmp_path, "--inspect")
    assert result.returncode == 1, explain(result)  # something is broken
    out = result.stdout
    assert "fake_good" in out and "hooks: on_fit_start, on_validation_end" in out
    assert "broken: import failed: RuntimeError: boom at import" in out
    assert (
        "broken: @hookimpl 'on_trian_batch_end': there is no hook named 'on_trian_batch_end'" in out
    )
    assert (tmp_path / "marker").read_text() == "imported\n"
    assert "Traceback" not in result.stderr

    result = run(tmp_path, "--inspect", "--json")
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["fake_good"]["hooks"] == ["on_fit_start", "on_validation_end"]
    assert rows["fake_good"]["broken"] is False
    assert (
        rows["fake_broken"]["broken"] is True and "boom at import" in rows["fake_broken"]["error"]
    )
    assert rows["fake_badhook"]["broken"] is True


@pytest.mark.slow
def test_status_comes_from_the_environment(tmp_path: Path) -> None:
    env = {
        "HOOKWISE_PLUGINS": "fake_good:x=1;no:fake_badhook",
        "HOOKWISE_ALLOWED_PLUGINS": "fake_good,fake_badhook,logging,evaluator,checkpoint",
    }
    result = run(tmp_path, env=env)
    assert result.returncode == 0, explain(result)
    lines = {
        line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("fake")
    }
    assert lines["fake_good"].endswith("enabled by HOOKWISE_PLUGINS")
    assert "fake_badhook" not in lines and "fake_broken" not in lines  # blocked: hidden
    assert (
        "blocked plugins or default plugins that are not installed; --all shows them"
        in result.stdout
    )

    result = run(tmp_path, "--all", "--json", env=env)
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["fake_badhook"]["blocked_reason"] == "no:fake_badhook in HOOKWISE_PLUGINS"
    assert rows["fake_broken"]["blocked_reason"] == "not in HOOKWISE_ALLOWED_PLUGINS"
    # --inspect never imports a blocked plugin.
    result = run(tmp_path, "--all", "--inspect", env=env)
    assert not (tmp_path / "marker").exists(), explain(result)
    assert "note: blocked: not imported" in result.stdout


def test_defaults_are_marked_and_autoload_off_says_so(tmp_path: Path) -> None:
    result = run(tmp_path, "--all", "--json")
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert all(rows[name]["default"] for name in ("logging", "evaluator", "checkpoint"))
    assert not rows["fake_good"]["default"]
    result = run(tmp_path, env={"HOOKWISE_DISABLE_PLUGIN_AUTOLOAD": "1"})
    line = next(li for li in result.stdout.splitlines() if li.startswith("checkpoint "))
    assert line.endswith("default (off: HOOKWISE_DISABLE_PLUGIN_AUTOLOAD)")


def test_the_listed_defaults_are_the_default_configs_plugins() -> None:
    # The listing reads DEFAULT_PLUGINS, not the embedded config (no TOML parser on that path).
    from hookwise.bundled import DEFAULT_PLUGINS
    from hookwise.config import PluginBlock, default_config, plugin_options_from_config

    options = plugin_options_from_config(default_config()["plugins"], "<defaults>")
    assert tuple(o.name for o in options if not isinstance(o, PluginBlock)) == DEFAULT_PLUGINS


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def test_fast_with_hundreds_of_distributions(tmp_path: Path) -> None:
    site = fake_site(tmp_path)
    for index in range(300):
        plugins = {f"many_{index}": f"many_mod_{index}:Plugin"} if index % 3 else {}
        fake_distribution(site, f"many-dist-{index}", plugins, {})
    bare = (
        "import importlib_metadata as m; print(len(list(m.entry_points(group='hookwise.plugins'))))"
    )

    def best_of(
        command: list[str], runs: int = 3
    ) -> tuple[float, subprocess.CompletedProcess[str]]:
        times, result = [], None
        for _ in range(runs):
            # CPU seconds of the child, not wall time: tests beside it (pytest-xdist, other
            # jobs on the machine) slow the wall clock, not the work the command does
            start = _children_cpu()
            result = subprocess.run(
                command,
                cwd=tmp_path,
                env=hookwise_env({"PYTHONPATH": str(site)}),
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            times.append(_children_cpu() - start)
            assert result.returncode == 0, explain(result)
        assert result is not None
        return min(times), result

    cli_time, result = best_of([sys.executable, "-m", "hookwise", "plugins", "--json"])
    names = {row["name"] for row in json.loads(result.stdout)}
    assert len([n for n in names if n.startswith("many_")]) == 200
    bare_time, bare_result = best_of([sys.executable, "-c", bare])
    assert int(bare_result.stdout) >= 203
    # The command costs a bare metadata scan plus a small constant (no torch, no plugin code).
    assert cli_time < bare_time + 1.5, (cli_time, bare_time)


def test_hooks_prints_every_hook_with_its_arguments(tmp_path: Path) -> None:
    result = run_hookwise("hooks", cwd=tmp_path)
    assert result.returncode == 0, explain(result)
    for name in hookspecs.HOOK_NAMES:
        assert f"\n{name}(" in "\n" + result.stdout
    assert (
        "on_train_batch_end(trainer_state, model, loss_module, outputs, batch, batch_idx)  [vis4d]"
        in result.stdout
    )
    assert "on_validation_end(trainer_state, model, metrics)  [hookwise]" in result.stdout
    assert "    metrics: " in result.stdout  # the reference text, indented, as plain text


def test_console_script_and_python_m_are_the_same(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("hookwise")
    assert script.exists(), "the hookwise console script is not installed"
    by_script = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, env=hookwise_env(), check=False
    )
    by_module = run_hookwise("--version", cwd=tmp_path)
    assert by_script.returncode == by_module.returncode == 0
    assert by_script.stdout == by_module.stdout
    assert by_module.stdout.startswith("hookwise ")
