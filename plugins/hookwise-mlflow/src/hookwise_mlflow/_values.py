"""Logged values as MLflow metric points: read off the device in one transfer per device, under
names MLflow accepts."""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from hookwise.values import to_floats

logger = logging.getLogger("hookwise.mlflow")

#: The characters MLflow allows in metric, parameter and tag keys on every platform.
_NOT_ALLOWED = re.compile(r"[^/\w.\- ]")
#: MLflow's longest key.
MAX_KEY_LENGTH = 250


class Point(NamedTuple):
    """One value of one key at one step (an MLflow metric point)."""

    key: str
    value: float
    timestamp: int
    step: int


#: What the trainer's log listener receives, kept unconverted: (step, time in ms, logs).
Event = tuple[int, int, Mapping[str, Any]]


class KeyNames:
    """MLflow-safe names for logged keys: ``@``, ``#`` and other characters MLflow refuses
    become ``_`` (``val/accuracy/top1@evaluator@top5`` -> ``val/accuracy/top1_evaluator_top5``).
    Each renamed key is reported once (INFO)."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def __call__(self, key: str) -> str:
        name = self._names.get(key)
        if name is None:
            name = safe_key(key)
            self._names[key] = name
            if name != key:
                logger.info("mlflow: %r is logged as %r (MLflow's allowed characters)", key, name)
        return name


def safe_key(key: str) -> str:
    """``key`` with the characters MLflow refuses replaced by ``_``, as a plain relative path
    (MLflow treats keys as file names), at most 250 characters."""
    name = _NOT_ALLOWED.sub("_", key)
    name = posixpath.normpath(name).lstrip("/") if name else "_"
    if name in (".", "..") or name.startswith("../"):
        name = "_" + name
    return name[:MAX_KEY_LENGTH]


def to_points(events: list[Event], names: KeyNames) -> list[Point]:
    """Turn pending events into metric points, reading every tensor off its device at once
    (one transfer per device, however many events and keys)."""
    numbers = iter(to_floats([v for _, _, logs in events for v in logs.values()]))
    return [
        Point(names(key), next(numbers), timestamp, step)
        for step, timestamp, logs in events
        for key in logs
    ]
