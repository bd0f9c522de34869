"""A plugin that kills the process it runs in at a chosen moment: the random-kill trials'
way to interrupt ``hookwise fit`` in any phase (training steps, validation, checkpoint writes,
the final test) without sleeping in the test.

It counts its hook calls. ``HOOKWISE_TEST_KILL="N,DELAY_MS,SIGNUM"`` makes the N-th call
(counting from 1) send ``SIGNUM`` to the process itself, at once (``DELAY_MS`` 0) or from a
timer thread ``DELAY_MS`` milliseconds later, so the signal lands inside whatever runs next (a
checkpoint write, a metrics-file flush, another plugin's hook). ``HOOKWISE_TEST_COUNT=PATH``
writes the number of calls to ``PATH`` when the process exits (the trials draw ``N`` below
it). Without either variable the plugin does nothing, so the uninterrupted run, the killed run
and the resumed runs have the same plugins, the same ``config.toml`` and the same checkpoints.
Enabled by import path: ``-p killer:KillAt``.
"""

from __future__ import annotations

import atexit
import os
import threading
from pathlib import Path
from typing import Any

from hookwise import Callback

KILL_VARIABLE = "HOOKWISE_TEST_KILL"
COUNT_VARIABLE = "HOOKWISE_TEST_COUNT"


class KillAt(Callback):
    """Counts hook calls; kills the process at the call ``HOOKWISE_TEST_KILL`` names."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        spec = os.environ.get(KILL_VARIABLE)
        self.at, self.delay, self.signum = (
            (int(part) for part in spec.split(",")) if spec else (-1, 0, 0)
        )
        count = os.environ.get(COUNT_VARIABLE)
        if count:
            atexit.register(lambda: Path(count).write_text(str(self.calls), encoding="utf-8"))

    def _tick(self) -> None:
        self.calls += 1
        if self.calls != self.at:
            return
        if self.delay <= 0:
            os.kill(os.getpid(), self.signum)
            return
        timer = threading.Timer(self.delay / 1000, os.kill, (os.getpid(), self.signum))
        timer.daemon = True
        timer.start()

    def on_fit_start(self, trainer_state: Any, model: Any) -> None:
        self._tick()

    def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
        self._tick()

    def on_train_batch_start(self, *args: Any, **kwargs: Any) -> None:
        self._tick()

    def on_train_batch_end(self, *args: Any, **kwargs: Any) -> None:
        self._tick()

    def on_train_epoch_end(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
        self._tick()

    def on_test_epoch_start(self, trainer_state: Any, model: Any) -> None:
        self._tick()

    def on_test_batch_end(self, *args: Any, **kwargs: Any) -> None:
        self._tick()

    def on_test_epoch_end(self, trainer_state: Any, model: Any) -> None:
        self._tick()

    def on_validation_end(self, trainer_state: Any, model: Any, metrics: Any) -> None:
        self._tick()

    def on_fit_end(self, trainer_state: Any, model: Any) -> None:
        self._tick()
