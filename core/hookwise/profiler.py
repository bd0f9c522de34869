"""Hook profiler (placeholder until the performance issue lands)."""

from __future__ import annotations

from typing import Any


class HookProfiler:
    """Times every plugin's hooks (not built yet)."""

    def __init__(self, pm: Any) -> None:
        raise NotImplementedError("the hook profiler is not built yet")

    def log_report(self) -> None:
        """Log the report."""
