"""Clean teardown, every time: a small two-process job, launched again and again, must exit 0
on every launch (each rank ends right after a collective call, without closing anything).

The default suite launches it ``HOOKWISE_SOAK_LAUNCHES`` times (3 unless set); ``tox -e soak``
launches it 100 times. A rank that aborts prints every thread's Python stack
(``PYTHONFAULTHANDLER``), which the failure message shows.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from torchrun_kit import HERE, finish, start

pytestmark = pytest.mark.slow

LAUNCHES = int(os.environ.get("HOOKWISE_SOAK_LAUNCHES", "3"))
WORKER = HERE / "teardown_worker.py"
LAUNCH_TIMEOUT_S = 180


@pytest.mark.parametrize("launch", range(LAUNCHES))
def test_a_two_process_job_exits_cleanly(launch: int, tmp_path: Path) -> None:
    process = start([str(WORKER), str(tmp_path)], 2)
    returncode, output = finish(process, time.monotonic() + LAUNCH_TIMEOUT_S)
    assert "terminate called" not in output, output
    assert returncode == 0, f"launch {launch} exited with {returncode}; output:\n{output}"
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for rank, report in enumerate(reports):
        assert report["rank"] == rank
        assert report["steps"] == 2  # 16 samples, 2 ranks, batches of 4
        # rank 1's object reached both ranks; payload sizes differ per rank
        assert report["from_one"] == {"sender": 1, "text": "x" * 100}
        assert report["gathered"] == ["y" * 7, "y" * 14]
        # the tensors kept for safe teardown are bounded, however many calls were made
        assert report["retained"] == 64
