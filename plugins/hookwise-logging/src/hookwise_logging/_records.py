"""The history of logged scalars and the metrics file (CSV or JSON lines) that mirrors it."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hookwise.values import to_floats as values_to_floats

#: Metrics file formats and their file names.
FORMATS: dict[str, str] = {"csv": "metrics.csv", "jsonl": "metrics.jsonl"}
#: The columns every row has, before the logged keys.
INDEX_COLUMNS: tuple[str, ...] = ("epoch", "step")

Row = dict[str, float | int]


def to_floats(events: list[tuple[int, int, Mapping[str, Any]]]) -> list[Row]:
    """Turn pending events into rows, reading all tensor values off their devices at once
    (one transfer per device), and merge consecutive events of the same epoch and step
    whose keys do not overlap."""
    numbers = iter(values_to_floats([v for _, _, logs in events for v in logs.values()]))
    rows: list[Row] = []
    for epoch, step, logs in events:
        values = {key: next(numbers) for key in logs}
        last = rows[-1] if rows else None
        if (
            last is not None
            and last["epoch"] == epoch
            and last["step"] == step
            and not (values.keys() & last.keys())
        ):
            last.update(values)
        else:
            rows.append({"epoch": epoch, "step": step, **values})
    return rows


class MetricsFile:
    """Appends rows to ``metrics.csv`` or ``metrics.jsonl``.

    The CSV file has one column per logged key (``epoch``, ``step``, then the keys in the
    order they first appeared); a row leaves the keys it does not have empty. When a new key
    appears the file is rewritten with the wider header. JSON lines hold one object per row
    (non-finite values are written as ``NaN``/``Infinity``, which Python's ``json`` reads).
    """

    def __init__(self, directory: Path, fmt: str) -> None:
        self.format = fmt
        self.path = directory / FORMATS[fmt]
        self.columns: list[str] = list(INDEX_COLUMNS)
        self._name = os.fspath(self.path)

    def read(self, *, until_torn: bool = False) -> list[Row]:
        """The rows already in the file (none when there is no file).

        :param until_torn: stop at the first line that does not parse, and leave out a last
            line without its line end (a process killed while appending leaves a torn last
            line), instead of raising.
        """
        if not self.path.is_file():
            return []
        rows: list[Row] = []
        if until_torn:
            with self.path.open("rb") as raw:
                raw.seek(0, os.SEEK_END)
                if raw.tell():
                    raw.seek(-1, os.SEEK_END)
                    torn = raw.read(1) != b"\n"
                else:
                    torn = False
        with self.path.open(newline="", encoding="utf-8") as file:
            if self.format == "jsonl":
                for number, line in enumerate(file, 1):
                    if line.strip():
                        try:
                            rows.append(json.loads(line))
                        except json.JSONDecodeError as exc:
                            if until_torn:
                                break
                            raise ValueError(
                                f"logging: {self.path}:{number} is not a JSON object ({exc}); "
                                f"move the file away to start a new one"
                            ) from exc
            else:
                for record in csv.DictReader(file):
                    try:
                        rows.append(_csv_row(record))
                    except ValueError:
                        if not until_torn:
                            raise
                        break
        if until_torn and torn and rows:
            rows.pop()
        return rows

    def rewrite(self, rows: list[Row]) -> None:
        """Replace the file with ``rows`` (atomically)."""
        self.columns = list(INDEX_COLUMNS)
        self._add_columns(rows)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("w", newline="", encoding="utf-8") as file:
            self._write(file, rows, header=True)
        os.replace(temporary, self.path)

    def append(self, rows: list[Row], history: list[Row]) -> None:
        """Add ``rows`` (already appended to ``history``); rewrite when the header grows.

        The rows are one ``os.write`` on a descriptor opened for appending (no buffered text
        file is built around it): on disk at once, as a refresh's rows always were."""
        if not rows:
            return
        if self.format == "csv":
            if self._add_columns(rows):
                self.rewrite(history)
                return
            data = "".join(self._csv_line(row) for row in rows)
            flags = _APPEND  # the header is there: a missing file is written anew
        else:
            data = "".join(json.dumps(row) + "\n" for row in rows)
            flags = _APPEND | os.O_CREAT
        try:
            descriptor = os.open(self._name, flags, 0o666)
        except FileNotFoundError:
            if self.format == "csv":
                self.rewrite(history)
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self._name, flags, 0o666)
        try:
            _write_all(descriptor, data.encode("utf-8"))
        finally:
            os.close(descriptor)

    def _csv_line(self, row: Row) -> str:
        """``row`` as a line of the CSV file, as ``csv.DictWriter`` writes it (numbers need
        no quoting)."""
        return ",".join(_csv_value(row[c]) if c in row else "" for c in self.columns) + "\r\n"

    def _add_columns(self, rows: Iterable[Row]) -> bool:
        known = set(self.columns)
        grown = False
        for row in rows:
            for key in row:
                if key not in known:
                    known.add(key)
                    self.columns.append(key)
                    grown = True
        return grown

    def _write(self, file: Any, rows: list[Row], *, header: bool) -> None:
        if self.format == "jsonl":
            for row in rows:
                file.write(json.dumps(row) + "\n")
            return
        writer = csv.DictWriter(file, fieldnames=self.columns, restval="")
        if header:
            writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(v) for k, v in row.items()})


_APPEND = os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _write_all(descriptor: int, data: bytes) -> None:
    """Write all of ``data`` (``os.write`` may write part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _csv_row(record: Mapping[str | Any, str | Any]) -> Row:
    row: Row = {}
    for key, text in record.items():
        if key is None or text in (None, ""):
            continue
        row[key] = int(text) if key in INDEX_COLUMNS else float(text)
    return row


def _csv_value(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "nan"
    return repr(float(value))
