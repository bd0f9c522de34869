"""The sender: one background thread that sends metric points and other requests to MLflow.

Training never waits for the tracking server: the training thread hands converted points over
(:meth:`Sender.add_points`) and returns. The thread sends them in batches (``log_batch``, at most
1000 points a request), then the other requests in order (parameters, tags, artifacts, the
status). When the server does not answer, the thread warns once, keeps everything, and tries
again at the next flush; :meth:`Sender.close` makes a last try and reports what was never sent.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hookwise_mlflow._values import Point

logger = logging.getLogger("hookwise.mlflow")

#: MLflow's limit of metric points in one ``log_batch`` request.
MAX_POINTS_PER_BATCH = 1000


@dataclass
class Job:
    """A request other than metric points: ``call()`` sends it; ``what`` names it in reports."""

    what: str
    call: Callable[[], Any]


@dataclass
class Unsent:
    """What the sender could not send (empty when everything arrived)."""

    points: list[Point] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    #: Whether the thread was still busy with a request when waiting stopped (it may yet
    #: arrive).
    in_flight: bool = False

    def __bool__(self) -> bool:
        return bool(self.points or self.jobs)

    def describe(self) -> str:
        """``12 values of 3 keys (train/loss, ...; steps 4-40), the status``."""
        parts = []
        if self.points:
            keys = sorted({p.key for p in self.points})
            steps = [p.step for p in self.points]
            shown = ", ".join(keys[:5]) + (f", ... ({len(keys)} keys)" if len(keys) > 5 else "")
            parts.append(f"{len(self.points)} values of {shown} (steps {min(steps)}-{max(steps)})")
        parts.extend(self.jobs)
        return "; ".join(parts)


def is_permanent(exc: BaseException) -> bool:
    """Whether the server refused the request itself (a 4xx answer other than 429): sending it
    again cannot succeed. Unreachable servers, timeouts and 5xx answers are worth a retry."""
    status = getattr(exc, "get_http_status_code", None)
    try:
        code = int(status()) if callable(status) else 0
    except (TypeError, ValueError):
        return False
    return 400 <= code < 500 and code != 429


class Sender:
    """Sends to one MLflow run from a background thread (see the module docstring).

    :param log_batch: ``log_batch(points)`` sends up to 1000 points in one request.
    :param uri: the tracking URI, for messages.
    """

    def __init__(self, log_batch: Callable[[list[Point]], Any], uri: str) -> None:
        self._log_batch = log_batch
        self._uri = uri
        self._points: deque[Point] = deque()
        #: The points of the request under way (taken off ``_points`` while it runs).
        self._in_flight: list[Point] = []
        self._jobs: deque[Job] = deque()
        self._cond = threading.Condition()
        self._wake = False
        self._closing = False
        self._failing = False
        self._warned = False
        self._thread = threading.Thread(target=self._run, name="hookwise-mlflow", daemon=True)
        self._thread.start()

    # -- the training thread ----------------------------------------------------------------------

    def add_points(self, points: list[Point]) -> None:
        """Queue metric points and send them now."""
        with self._cond:
            self._points.extend(points)
            self._wake = True
            self._cond.notify()

    def add_job(self, job: Job) -> None:
        """Queue a request; it is sent after the points queued before it."""
        with self._cond:
            self._jobs.append(job)
            self._wake = True
            self._cond.notify()

    def close(self, timeout: float | None) -> Unsent:
        """Make a last try at everything, wait up to ``timeout`` seconds (``None``: until
        done), and return what was not sent."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        with self._cond:
            points = [*self._in_flight, *self._points]
            return Unsent(points, [j.what for j in self._jobs], self._thread.is_alive())

    @property
    def failing(self) -> bool:
        """Whether the latest try failed."""
        return self._failing

    # -- the sender thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._wake or self._closing):
                    self._cond.wait()
                self._wake = False
                closing = self._closing
            self._send_all()
            if closing:
                return

    def _send_all(self) -> None:
        """Send the points, then the jobs, in order; stop at the first failure worth a retry."""
        recovered = self._failing
        while True:
            with self._cond:
                job = self._jobs[0] if self._jobs and not self._points else None
                count = min(len(self._points), MAX_POINTS_PER_BATCH)
                chunk = [self._points.popleft() for _ in range(count)]
                self._in_flight = chunk
            if chunk:
                rest = self._send_points(chunk)
                with self._cond:
                    self._in_flight = []
                    self._points.extendleft(reversed(rest))
                if rest:
                    return
            elif job is not None:
                if not self._send_job(job):
                    return
                with self._cond:
                    self._jobs.popleft()
            else:
                break
        self._failing = False
        if recovered:
            logger.info("mlflow: %s answers again; the kept values were sent", self._uri)

    def _send_points(self, chunk: list[Point]) -> list[Point]:
        """Send ``chunk``; return what is to be sent again (after a failure worth a retry).

        A batch the server refuses is sent again key by key, so that only the values of the
        keys it refuses are dropped.
        """
        try:
            self._log_batch(chunk)
            return []
        except Exception as exc:
            if not is_permanent(exc):
                self._failed(exc)
                return chunk
            refusal = exc
        groups: dict[str, list[Point]] = {}
        for point in chunk:
            groups.setdefault(point.key, []).append(point)
        if len(groups) == 1:
            self._dropped(chunk, refusal)
            return []
        pending = list(groups.values())
        while pending:
            try:
                self._log_batch(pending[0])
            except Exception as exc:
                if not is_permanent(exc):
                    self._failed(exc)
                    return [p for group in pending for p in group]
                self._dropped(pending[0], exc)
            pending.pop(0)
        return []

    def _dropped(self, points: list[Point], exc: Exception) -> None:
        logger.warning(
            "mlflow: %s refused the %d value(s) of %r, which are dropped: %s",
            self._uri,
            len(points),
            points[0].key,
            exc,
        )

    def _send_job(self, job: Job) -> bool:
        """Send ``job``; ``False`` after a failure worth a retry (a refused job is dropped)."""
        try:
            job.call()
        except Exception as exc:
            if not is_permanent(exc):
                self._failed(exc)
                return False
            logger.warning("mlflow: %s refused %s, which is dropped: %s", self._uri, job.what, exc)
        return True

    def _failed(self, exc: Exception) -> None:
        self._failing = True
        if self._warned:
            logger.debug("mlflow: sending to %s failed again: %s", self._uri, exc)
            return
        self._warned = True
        logger.warning(
            "mlflow: sending to %s failed (%s: %s). Training goes on; the values are kept and "
            "sent again at the next flush and at the end of the run.",
            self._uri,
            type(exc).__name__,
            exc,
        )
