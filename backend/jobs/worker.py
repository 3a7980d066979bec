"""The generic worker: takes queued jobs one at a time and runs each with the handler of its kind.

It knows no task: ``execute_job(job_id, handlers)`` looks the job's ``kind`` up in a table of
``JobHandler``s, and each handler runs its job, returns its metrics and artefacts, and owns its
cleanup and failure advice. ``python -m backend.worker`` is the one entry point that wires the
handlers (training, batch inference) and calls ``main``.

This is the loop inside a worker process. Starting one from the app is the supervisor's
(``supervisor.ensure_worker_running``); who is alive, and failing the jobs of dead workers, is
``liveness``'s (the loop calls it at its start and every heartbeat); a full disk is
``full_disk``'s. A worker holds its slot's lock file for its lifetime, and while a job runs a
thread beats its heartbeat in the job store.

Several workers, on one machine (``--slot``) or several (a PostgreSQL job store and the Redis
queue), share the queue: each job runs once because a worker first claims it in the store, and a
worker that dies anywhere is found by its silence (``Settings.stale_heartbeat_seconds``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from backend.config import Settings, get_settings
from backend.errors import ShowcaseError, is_disk_full
from backend.i18n import _, use_language
from backend.jobs import full_disk, liveness, queue
from backend.jobs.progress import JobCancelled, JobEvent, ProgressCallback
from backend.jobs.store import CANCELLED, FAILED, SUCCEEDED, Job, JobStore
from backend.jobs.tables import END_LINES
from backend.models.memory import is_out_of_memory, release_memory
from backend.server_paths import redact_paths

_IDLE_CHECK_SECONDS = 5.0
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobHandler:
    """How the worker runs one kind of job, and what it says when that kind fails.

    Attributes:
        run: ``run(job, events, should_stop, settings) -> (metrics, artefacts)``; reports through
            ``events``, polls ``should_stop`` and raises ``JobCancelled`` when it returns True.
        doing: the subject of failure messages, e.g. "Training" ("Training ran out of memory.").
        output: what a full disk stops it from saving, e.g. "model".
        memory_advice: what to change after running out of memory.
        phase: the status line while it runs, e.g. "Training".
        cleanup: removes half-written output after a cancel or a failure.
    """

    run: Callable[[Job, ProgressCallback, Callable[[], bool], Settings], tuple[dict[str, Any], dict[str, Any]]]
    doing: str
    output: str
    memory_advice: str
    phase: str = "Running"
    cleanup: Callable[[Job], None] = lambda job: None


Handlers = Mapping[str, JobHandler]


class _Activity:
    """How long this worker has had nothing to do: zero while a job runs, else the time since the
    last job ended (or since the worker started, when none has run yet).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._since = time.monotonic()

    def reset(self) -> None:
        """Start counting idleness now (the worker starts, or work is waiting)."""
        with self._lock:
            self._since = time.monotonic()

    @contextmanager
    def running(self) -> Iterator[None]:
        """Marks a job as running for the duration of the block."""
        with self._lock:
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                self._since = time.monotonic()

    def idle_seconds(self) -> float:
        """0 while a job runs, else seconds since the last job ended (or since ``reset``)."""
        with self._lock:
            return 0.0 if self._running else time.monotonic() - self._since


_activity = _Activity()


class _Heartbeat:
    """Beats a job's heartbeat from a thread, so long steps do not look like a dead worker."""

    def __init__(self, store: JobStore, job_id: str, seconds: float) -> None:
        self._store, self._job_id, self._seconds = store, job_id, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._seconds):
            try:
                self._store.beat(self._job_id)
            except Exception:  # noqa: BLE001 - a store that is briefly unreachable must not end the beats
                _log.exception("Could not beat for job %s", self._job_id)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._seconds)


def _store_events(store: JobStore, job_id: str, phase: str) -> ProgressCallback:
    def record(event: JobEvent) -> None:
        if event.kind == "progress":
            # The page formats step, epoch and ETA itself; the message says only what phase this is.
            store.update_progress(job_id, event.step, event.total_steps, event.epoch, event.eta_seconds, phase)
        elif event.kind == "metric":
            store.add_metric(job_id, event.step, event.epoch, event.name, event.value)
        else:
            store.log(job_id, event.text, event.level)

    return record


def _failure_for(handler: JobHandler, error: BaseException, settings: Settings) -> tuple[str, str, str]:
    """(status, error shown to the user, status line) for a job that raised ``error``."""
    if isinstance(error, JobCancelled):
        return CANCELLED, "", _(END_LINES[CANCELLED])
    if isinstance(error, ShowcaseError):
        return FAILED, error.user_text(), _(END_LINES[FAILED])
    if is_disk_full(error, settings.state_dir):
        return (
            FAILED,
            _(
                "The disk is full, so the {output} could not be saved. Free space in the state folder "
                "(LSM_STATE_DIR) and submit the job again; the uploaded data is kept."
            ).format(output=_(handler.output)),
            _(full_disk.DISK_FULL_STATUS),
        )
    if is_out_of_memory(error):
        return (
            FAILED,
            _("{doing} ran out of memory. {advice}, and submit the job again.").format(
                doing=_(handler.doing), advice=_(handler.memory_advice)
            ),
            _("Out of memory"),
        )
    # The exception's own words stay as they are: they are the program's, and the log has them too.
    raised = f"{type(error).__name__}: {redact_paths(str(error), settings)[:300]}"
    return (
        FAILED,
        _("{doing} failed unexpectedly ({error}). The log has details.").format(doing=_(handler.doing), error=raised),
        _(END_LINES[FAILED]),
    )


def execute_job(job_id: str, handlers: Handlers, settings: Settings | None = None) -> str:
    """Run one queued job with the handler of its kind and record the outcome; returns the final status.

    A job cancelled while it waited is skipped; a job whose kind has no handler fails in words.
    Errors never escape: they become the job's readable error, and the traceback goes to the server log.
    Whatever the outcome, the job's memory is given back afterwards (``memory.release_memory``),
    so an idle worker does not keep the size of its largest job.
    """
    with _activity.running():
        try:
            return _execute_job(job_id, handlers, settings or get_settings())
        finally:
            release_memory()


def _execute_job(job_id: str, handlers: Handlers, settings: Settings) -> str:
    store = JobStore(settings=settings)
    if not store.claim(job_id):
        # Cancelled while it waited, or a duplicate delivery of a job another worker claimed.
        job = store.get(job_id)
        _log.info("Job %s is not waiting (%s); skipped", job_id, job.status if job else "deleted")
        return job.status if job else "missing"
    job = store.require(job_id)
    handler = handlers.get(job.kind)
    if handler is None:
        with use_language(job.language):
            error = _("This worker cannot run '{kind}' jobs (it runs {kinds}).").format(
                kind=job.kind, kinds=", ".join(sorted(handlers)) or _("none")
            )
            store.log(job_id, error, "error")
            advice, failed = _("Update the worker, then submit the job again."), _(END_LINES[FAILED])
        store.finish(job_id, FAILED, error=f"{error} {advice}", message=failed)
        return FAILED
    with use_language(job.language):
        store.log(job_id, _("Worker {pid} took the job").format(pid=os.getpid()))
    with _Heartbeat(store, job_id, settings.job_heartbeat_seconds), use_language(job.language):
        try:
            metrics, artefacts = handler.run(
                job, _store_events(store, job_id, handler.phase), lambda: store.cancel_requested(job_id), settings
            )
        except Exception as error:  # noqa: BLE001 - a job failure must never kill the worker
            status, text, message = _failure_for(handler, error, settings)
            if message == _(full_disk.DISK_FULL_STATUS):
                # Room for the store to record why (SQLite cannot even read on a full disk).
                full_disk.give_up_reserve(settings)
            # A half-written output must not stay behind to be exported or loaded later.
            handler.cleanup(job)
            if status == CANCELLED:
                store.log(job_id, _("Cancelled on request"))
            elif isinstance(error, ShowcaseError):
                store.log(job_id, text, "error")
            else:
                # The traceback goes to the server log; the job log, shown on the page, gets no server paths.
                _log.exception("Job %s failed", job_id)
                store.log(job_id, f"{type(error).__name__}: {redact_paths(str(error), settings)}", "error")
            store.finish(job_id, status, error=text, message=message)
            return status
        # Shown after the status word, in the language of the person who started the job.
        finished = _(END_LINES[SUCCEEDED])
    store.finish(job_id, SUCCEEDED, metrics=metrics, artefacts=artefacts, message=finished)
    return SUCCEEDED


def _exit_when_idle(settings: Settings, idle_seconds: float) -> None:
    """Stops the worker once it has had no job for ``idle_seconds``: counted from the end of the
    last job (or the worker's start), never while a job runs or one waits in the queue.
    """
    _activity.reset()
    check = min(_IDLE_CHECK_SECONDS, max(idle_seconds / 4, 0.05))
    while True:
        time.sleep(check)
        if queue.pending_count(settings):
            _activity.reset()
        elif _activity.idle_seconds() >= idle_seconds:
            _log.info("Idle for %.0f s; exiting.", idle_seconds)
            # SIGINT is the consumer's graceful stop.
            os.kill(os.getpid(), signal.SIGINT)
            return


def _upkeep(settings: Settings, stop: threading.Event) -> None:
    """Every heartbeat: say this worker is alive, and fail the jobs of workers that fell silent
    (on any machine), so a dead worker's job does not wait for a restart to be found.
    """
    started = time.time()
    while True:
        try:
            store = JobStore(settings=settings)
            liveness.worker_seen(store, liveness.worker_id(), socket.gethostname(), os.getpid(), started)
            reaped = liveness.reap_dead_jobs(store)
            if reaped:
                _log.warning("Marked jobs of dead workers as failed: %s", ", ".join(reaped))
        except Exception:  # noqa: BLE001 - an unreachable store now may be back at the next beat
            _log.exception("Worker upkeep failed")
        if stop.wait(settings.job_heartbeat_seconds):
            return


def main(handlers: Handlers, argv: list[str] | None = None) -> int:
    """Hold the worker lock and consume the queue until stopped (Ctrl+C or SIGTERM), running each job
    with the handler of its kind.
    """
    parser = argparse.ArgumentParser(description=f"Worker: runs queued jobs ({', '.join(handlers)}) one at a time.")
    parser.add_argument("--slot", type=int, default=0, help="worker slot on this machine (one worker per slot)")
    parser.add_argument("--idle-exit", type=float, default=0, help="exit after this many idle seconds (0: never)")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    try:
        handle = liveness.try_lock(liveness.lock_path(settings, arguments.slot))
        if handle is None:
            _log.info("A worker already runs in slot %s; exiting.", arguments.slot)
            return 0
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        os.fsync(handle.fileno())
        full_disk.keep_disk_reserve(settings)
        reaped = liveness.reap_dead_jobs(JobStore(settings=settings))
        if reaped:
            _log.warning("Marked jobs of dead workers as failed: %s", ", ".join(reaped))
        queue.set_runner(lambda job_id: execute_job(job_id, handlers, settings))
        huey, _ = queue.get_queue(settings)
    except Exception as error:
        if not is_disk_full(error, settings.state_dir):
            raise
        failed = full_disk.fail_queued_jobs_for_full_disk(settings)
        _log.error(
            "Disk full: the worker cannot start (%s). Free space in %s. Marked waiting jobs failed: %s",
            error,
            settings.state_dir,
            ", ".join(failed) or "none (the job store could not be written)",
        )
        return 1
    # One job at a time: a GPU (or a small CPU host) runs one model well, not two badly.
    consumer = huey.create_consumer(
        workers=1, worker_type="thread", periodic=False, initial_delay=0.1, backoff=1.15, max_delay=1.0
    )
    if arguments.idle_exit > 0:
        threading.Thread(target=_exit_when_idle, args=(settings, arguments.idle_exit), daemon=True).start()
    stop_upkeep = threading.Event()
    upkeep = threading.Thread(target=_upkeep, args=(settings, stop_upkeep), name="worker-upkeep", daemon=True)
    upkeep.start()
    _log.info("Worker %s consuming %s (%s)", liveness.worker_id(), queue.QUEUE_NAME, settings.queue_backend)
    try:
        consumer.run()
    finally:
        stop_upkeep.set()
        upkeep.join(timeout=settings.job_heartbeat_seconds)
        try:
            liveness.worker_gone(JobStore(settings=settings), liveness.worker_id())
        except Exception:  # noqa: BLE001 - leaving: an unreachable store just sees it fall silent
            _log.exception("Could not sign off from the job store")
    return 0
