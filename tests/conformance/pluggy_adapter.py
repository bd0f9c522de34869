"""A pytest plugin that makes pluggy's own test suite test ``hookwise.PluginManager``.

Loaded with ``-p`` by the conformance test, before pluggy's test modules are imported: pluggy's
tests build their managers as ``PluginManager("example")`` after ``from pluggy import
PluginManager``, so the one construction difference (hookwise's manager takes its project name
as a keyword and adds hookwise's own specs unless told not to) is adapted here, and every test
then runs against hookwise's manager, its callers and its call path.
"""

from __future__ import annotations

import hookwise.plugins
import pluggy


class PluginManager(hookwise.plugins.PluginManager):
    """``pluggy.PluginManager(project_name)``, built as a hookwise manager without hookwise's
    specs."""

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name=project_name, hookspecs=None)


pluggy.PluginManager = PluginManager  # type: ignore[misc]


def pytest_report_header() -> str:
    """Says in the output which manager runs (the conformance test checks for it)."""
    return f"hookwise.PluginManager under test as pluggy.PluginManager ({PluginManager.__mro__[1]})"
