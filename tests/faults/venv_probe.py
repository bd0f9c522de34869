"""Runs inside a throwaway venv where the broken ``hookwise-faulty`` distribution is installed
(see ``test_plugin_loading.py``); prints one JSON object describing what happened.

``python venv_probe.py RUN_FOLDER MARKER_FOLDER``. Every module of the distribution creates
``MARKER_FOLDER/<module>.imported`` when it is imported, so the probe sees exactly which plugin
code ran.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from faultkit import fit, make_trainer
from hookwise import PluginManager


def imported(markers: Path) -> list[str]:
    """The distribution's modules that were imported so far (by markers and sys.modules)."""
    by_marker = sorted(p.stem for p in markers.glob("*.imported"))
    by_modules = sorted(
        m.rsplit(".", 1)[-1] for m in sys.modules if m.startswith("hookwise_faulty.")
    )
    return sorted(set(by_marker) | set(by_modules))


def attempt(pm: PluginManager, name: str) -> dict[str, Any]:
    """Enable ``name``; report the error (type and message) and what stayed registered."""
    before = pm.plugin_names()
    try:
        pm.enable(name)
    except Exception as exc:
        return {
            "error": type(exc).__name__,
            "message": str(exc),
            "registered_after": [n for n in pm.plugin_names() if n not in before],
        }
    return {"error": None, "registered_after": [n for n in pm.plugin_names() if n not in before]}


def main(run: Path, markers: Path) -> dict[str, Any]:
    report: dict[str, Any] = {}
    pm = PluginManager()
    report["installed"] = sorted(
        p.name for p in pm.installed() if p.distribution == "hookwise-faulty"
    )
    report["imported_after_discovery"] = imported(markers)

    trainer = make_trainer(run, plugins=["good"], epochs=1)
    fit(trainer)
    report["good_batches"] = trainer.pm.get_plugin("good").batches
    report["imported_after_fit"] = imported(markers)

    report["enable"] = {
        name: attempt(PluginManager(), name)
        for name in ("import_error", "ctor_error", "bad_hookimpl", "bad_argument", "missing_module")
    }
    report["imported_after_enabling_broken"] = imported(markers)

    blocked = PluginManager()
    blocked.block("side_effect")
    report["blocked"] = [attempt(blocked, "side_effect"), attempt(blocked, "side_effect@2")]

    os.environ["HOOKWISE_ALLOWED_PLUGINS"] = "good, evaluator"
    allowed = PluginManager()
    report["allow_list"] = {
        "side_effect": attempt(allowed, "side_effect"),
        "import_path": attempt(allowed, "hookwise_faulty.side_effect:Plugin"),
        "good": attempt(allowed, "good"),
    }
    del os.environ["HOOKWISE_ALLOWED_PLUGINS"]
    report["imported_after_blocking"] = imported(markers)

    report["side_effect"] = attempt(PluginManager(), "side_effect")
    report["imported_at_end"] = imported(markers)
    return report


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
