"""A plugin module enabled by import path in the trainer tests."""

from __future__ import annotations

from hookwise import hookimpl


class Counter:
    """Counts training batches."""

    def __init__(self) -> None:
        self.batches = 0

    @hookimpl
    def on_train_batch_end(self) -> None:
        self.batches += 1
