"""The fault-injection suite's fixtures, its ``fault`` marker and its coverage count.

Every test here is marked ``@pytest.mark.fault("<scenario id>", ...)`` with ids from
``fault_scenarios.py``. Collection fails on an unknown id; the end of the run prints how many
scenarios passed tests covered.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from fault_scenarios import BY_ID, SCENARIOS  # noqa: E402

_covered: dict[str, list[str]] = {}
_failed: dict[str, list[str]] = {}
_KEY = pytest.StashKey[tuple[str, ...]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fault(*ids): the fault scenarios (tests/faults/fault_scenarios.py) it proves"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE not in Path(str(item.path)).parents:
            continue
        ids = tuple(i for mark in item.iter_markers("fault") for i in mark.args)
        unknown = [i for i in ids if i not in BY_ID]
        if unknown:
            raise pytest.UsageError(
                f"{item.nodeid}: unknown fault scenario(s) {unknown}; add them to "
                f"tests/faults/fault_scenarios.py (and docs/faults.md) or fix the id"
            )
        item.stash[_KEY] = ids


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    ids = report.user_properties and dict(report.user_properties).get("fault_ids")
    if not ids:
        return
    for scenario in str(ids).split(","):
        if report.failed:
            _failed.setdefault(scenario, []).append(report.nodeid)
        elif report.when == "call" and report.passed:
            _covered.setdefault(scenario, []).append(report.nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    ids = item.stash.get(_KEY, ())
    if ids:
        item.user_properties.append(("fault_ids", ",".join(ids)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _covered and not _failed:
        return
    proven = [s.id for s in SCENARIOS if s.id in _covered and s.id not in _failed]
    terminalreporter.write_sep("-", "fault-injection scenarios")
    terminalreporter.write_line(
        f"{len(proven)} of {len(SCENARIOS)} scenarios proven by passing tests in this run"
    )
    verbose = terminalreporter.config.option.verbose > 0
    for scenario in SCENARIOS:
        if scenario.id in _failed:
            terminalreporter.write_line(f"  FAILED   {scenario.id}")
        elif scenario.id not in _covered and verbose:
            terminalreporter.write_line(f"  not run  {scenario.id}")


@pytest.fixture
def hookwise_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """``caplog`` capturing the ``hookwise`` logger at WARNING and above."""
    with caplog.at_level(logging.WARNING, logger="hookwise"):
        yield caplog
