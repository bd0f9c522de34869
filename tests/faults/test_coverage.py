"""The suite counts what it covers: every scenario of the registry has a test, every test names
real scenarios, ``docs/faults.md`` lists exactly the registry, and the README's test command
collects the suite."""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

from fault_scenarios import AREAS, BY_ID, SCENARIOS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DOCS = ROOT / "docs" / "faults.md"


def _fault_ids(decorator: ast.expr) -> list[str]:
    """The ids of a ``@pytest.mark.fault("a", "b")`` decorator (none for other decorators)."""
    if not isinstance(decorator, ast.Call):
        return []
    function = decorator.func
    if not (isinstance(function, ast.Attribute) and function.attr == "fault"):
        return []
    ids = []
    for argument in decorator.args:
        assert isinstance(argument, ast.Constant) and isinstance(argument.value, str), (
            f"fault ids must be string literals, got {ast.dump(argument)}"
        )
        ids.append(argument.value)
    return ids


def scenario_tests() -> tuple[dict[str, list[str]], list[str]]:
    """Scenario id -> the tests marked with it; and the tests marked with none."""
    marked: dict[str, list[str]] = defaultdict(list)
    unmarked: list[str] = []
    for module in sorted(HERE.glob("test_*.py")):
        if module.name == Path(__file__).name:
            continue
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                ids = [i for d in node.decorator_list for i in _fault_ids(d)]
                name = f"{module.name}::{node.name}"
                if not ids:
                    unmarked.append(name)
                for scenario in ids:
                    marked[scenario].append(name)
    return dict(marked), unmarked


def test_the_registry_is_well_formed() -> None:
    assert len(BY_ID) == len(SCENARIOS), "scenario ids must be unique"
    for scenario in SCENARIOS:
        assert scenario.area in AREAS, scenario
        assert scenario.id.startswith(scenario.area + "."), scenario
        assert scenario.fault.strip() and scenario.promise.strip(), scenario


def test_every_scenario_has_a_test_and_every_test_a_scenario() -> None:
    marked, unmarked = scenario_tests()
    untested = [s.id for s in SCENARIOS if s.id not in marked]
    assert untested == [], f"scenarios without a test: {untested}"
    unknown = sorted(set(marked) - set(BY_ID))
    assert unknown == [], f"tests name unknown scenarios: {unknown}"
    assert unmarked == [], f"tests of the fault suite without @pytest.mark.fault: {unmarked}"


def test_the_docs_list_exactly_the_scenarios() -> None:
    text = DOCS.read_text(encoding="utf-8")
    listed = re.findall(r"^\| `([a-z]+\.[a-z0-9-]+)` \|", text, flags=re.MULTILINE)
    assert sorted(listed) == sorted(BY_ID), (
        f"docs/faults.md lists {sorted(set(listed) - set(BY_ID))} that the registry lacks and "
        f"lacks {sorted(set(BY_ID) - set(listed))}"
    )
    assert len(listed) == len(set(listed)), "a scenario is listed twice in docs/faults.md"
    for area, title in AREAS.items():
        assert f"## {title}" in text, f"docs/faults.md has no section '## {title}' ({area})"


def test_the_readme_test_command_collects_the_suite() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    testpaths = config["tool"]["pytest"]["ini_options"]["testpaths"]
    assert any(HERE.is_relative_to(ROOT / path) for path in testpaths), testpaths
