"""Progress reporting from a job's loop (training, a batch) to whoever runs it (the worker's job
store, a benchmark).

A job's code only talks to a ``Reporter``: it turns steps into progress with an ETA, forwards metric
points and log lines as ``JobEvent``s, and answers "should I stop?" for cancellation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from backend.records import JsonRecord

# Writing progress or polling the cancel flag on every step of a fast loop would spend more time
# in SQLite than in the job; a few times a second is live enough for the UI.
_PROGRESS_INTERVAL_SECONDS = 0.5
_CANCEL_POLL_SECONDS = 0.25


class JobCancelled(Exception):
    """The run stopped because someone asked it to."""


@dataclass(frozen=True)
class JobEvent(JsonRecord):
    """One thing that happened: ``kind`` is ``progress``, ``metric`` or ``log``."""

    kind: str
    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0
    eta_seconds: float | None = None
    name: str = ""
    value: float = 0.0
    text: str = ""
    level: str = "info"


ProgressCallback = Callable[[JobEvent], None]


class Reporter:
    """Forwards events to ``callback`` and polls ``should_stop`` (both optional)."""

    def __init__(self, callback: ProgressCallback | None = None, should_stop: Callable[[], bool] | None = None) -> None:
        self._callback = callback
        self._should_stop = should_stop
        self._started = time.monotonic()
        self._last_progress = float("-inf")
        self._last_poll = float("-inf")
        self._first_step_time: float | None = None
        self._first_step = 0
        self.stop_requested = False
        self.last_step = 0
        self.history: list[JobEvent] = []

    def _emit(self, event: JobEvent) -> None:
        if event.kind != "progress":
            self.history.append(event)
        if self._callback is not None:
            self._callback(event)

    def restart_clock(self) -> None:
        """Forget timing so far (after an out-of-memory retry restarts the work)."""
        self._first_step_time = None

    def progress(self, step: int, total_steps: int, epoch: float, force: bool = False) -> None:
        """Report that ``step`` of ``total_steps`` is done; the ETA extrapolates the pace so far."""
        now = time.monotonic()
        self.last_step = step
        if self._first_step_time is None:
            self._first_step_time, self._first_step = now, step
        done = step - self._first_step
        eta = (now - self._first_step_time) / done * (total_steps - step) if done > 0 else None
        if not (force or step >= total_steps or now - self._last_progress >= _PROGRESS_INTERVAL_SECONDS):
            return
        self._last_progress = now
        self._emit(JobEvent("progress", step=step, total_steps=total_steps, epoch=epoch, eta_seconds=eta))

    def metric(self, step: int, epoch: float, name: str, value: float) -> None:
        """One point of a curve."""
        self._emit(JobEvent("metric", step=step, epoch=epoch, name=name, value=float(value)))

    def log(self, text: str, level: str = "info") -> None:
        """A line for the job log."""
        self._emit(JobEvent("log", text=text, level=level))

    def should_stop(self) -> bool:
        """True once a stop was requested (polled a few times a second)."""
        if self.stop_requested or self._should_stop is None:
            return self.stop_requested
        now = time.monotonic()
        if now - self._last_poll >= _CANCEL_POLL_SECONDS:
            self._last_poll = now
            self.stop_requested = bool(self._should_stop())
        return self.stop_requested

    def raise_if_stopped(self) -> None:
        """Raise ``JobCancelled`` when a stop was requested."""
        if self.should_stop():
            raise JobCancelled("The job was cancelled.")
