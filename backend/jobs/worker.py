"""The generic worker: takes queued jobs one at a time and runs each with the handler of its kind.

It knows no task: ``execute_job(job_id, handlers)`` looks the job's ``kind`` up in a table of
``JobHandler``s, and each handler runs its job, returns its metrics and artefacts, and owns its
cleanup and failure advice. ``python -m backend.worker`` is the one entry point that wires the
handlers (training, batch inference) and calls ``main``.

Streamlit Community Cloud only runs ``streamlit run app.py``, so the app starts a worker itself
(``ensure_worker_running``) when none is alive. A worker holds an exclusive lock file for its
lifetime; the kernel releases it when the process dies, so "is a worker alive?" never trusts a
stale pid file. While a job runs, a thread beats its heartbeat in the job store. Jobs of dead
workers are marked failed here (at worker start, every heartbeat by every running worker, and by
``ensure_worker_running``), never on a read.

Several workers, on one machine (``--slot``) or several (a PostgreSQL job store and the Redis
queue), share the queue: each job runs once because a worker first claims it in the store, and a
worker that dies anywhere is found by its silence (``Settings.stale_heartbeat_seconds``).
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from backend.config import PROJECT_ROOT, Settings, get_settings, to_environment
from backend.errors import DiskFullError, ShowcaseError, is_disk_full
from backend.i18n import _, use_language
from backend.jobs import queue
from backend.jobs.progress import JobCancelled, JobEvent, ProgressCallback
from backend.jobs.store import CANCELLED, FAILED, QUEUED, SUCCEEDED, Job, JobStore
from backend.models.memory import is_out_of_memory, release_memory
from backend.server_paths import redact_paths

# The module that wires the handlers and runs ``main`` (started by ``ensure_worker_running``).
ENTRY_MODULE = "backend.worker"
WORKER_LOG = "worker.log"
AUTOSTART_IDLE_EXIT_SECONDS = 1800.0
_IDLE_CHECK_SECONDS = 5.0
PROBE_FILE = "worker-start.probe"
# Room kept in the state folder for the job store to write why waiting jobs failed when the disk
# fills: SQLite cannot even read its own file then ("disk I/O error": its WAL index cannot grow).
RESERVE_FILE = "disk-full-reserve"
DISK_FULL_STATUS = "Disk full"
_RESERVE_BYTES = 4 * 2**20
DISK_FULL_AT_START = (
    "The disk is full, so no worker could start to run the job. Free space in the state folder "
    "(LSM_STATE_DIR), then submit the job again."
)
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


def lock_path(settings: Settings, slot: int = 0) -> Path:
    """The lock file a worker in ``slot`` holds while it lives."""
    return settings.state_dir / f"worker-{slot}.lock"


def _try_lock(path: Path) -> IO[str] | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def worker_alive(settings: Settings | None = None, slot: int = 0) -> bool:
    """Whether a worker process holds the lock of ``slot`` on this machine."""
    handle = _try_lock(lock_path(settings or get_settings(), slot))
    if handle is None:
        return True
    handle.close()
    return False


def ensure_worker_running(
    settings: Settings | None = None, idle_exit_seconds: float = AUTOSTART_IDLE_EXIT_SECONDS
) -> bool:
    """Start a detached worker when none is alive; returns True when one was started.

    Also marks jobs of dead workers as failed, so nothing stays "running" forever. A worker
    started this way exits after ``idle_exit_seconds`` without work, giving its memory back to a
    small host; the next submission starts another.
    """
    settings = settings or get_settings()
    try:
        JobStore(settings=settings).reap_dead_jobs()
        if not settings.worker_autostart or worker_alive(settings):
            # A cluster runs its workers elsewhere (LSM_WORKER_AUTOSTART=0); reaping above still happens.
            return False
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        _write_probe(settings.state_dir / PROBE_FILE)
        log_file = (settings.state_dir / WORKER_LOG).open("ab")
    except Exception as error:
        # SQLite on a full disk fails already at the reap ("disk I/O error"), the probe with ENOSPC.
        if not is_disk_full(error, settings.state_dir):
            raise
        failed = fail_queued_jobs_for_full_disk(settings)
        raise DiskFullError(
            _("The disk is full, so no background worker could start")
            + (_("; {failed} waiting job(s) were marked failed.").format(failed=len(failed)) if failed else "."),
            _("Free space in the state folder, then submit the job again."),
            "The state folder is LSM_STATE_DIR.",
        ) from error
    # The worker must see every setting of this process, whatever the environment says.
    env = {**os.environ, **to_environment(settings)}
    # A new session: the worker outlives the Streamlit script run and ignores its signals.
    subprocess.Popen(
        [sys.executable, "-m", ENTRY_MODULE, "--idle-exit", str(idle_exit_seconds)],
        cwd=str(PROJECT_ROOT),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )
    log_file.close()
    return True


def _write_probe(path: Path) -> None:
    """Write and sync a few kilobytes, so a full disk shows now rather than while a job runs."""
    with path.open("wb") as handle:
        handle.write(b"\0" * 4096)
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink(missing_ok=True)


def keep_disk_reserve(settings: Settings) -> None:
    """Set aside the state folder's reserve while there is room (nothing happens when there is none)."""
    reserve = settings.state_dir / RESERVE_FILE
    if reserve.exists():
        return
    try:
        with reserve.open("wb") as handle:
            handle.write(b"\0" * _RESERVE_BYTES)
            os.fsync(handle.fileno())
    except OSError:
        reserve.unlink(missing_ok=True)


def fail_queued_jobs_for_full_disk(settings: Settings) -> list[str]:
    """Mark every waiting job failed with the full-disk message; returns their ids, or [] when
    the store could not be written even after giving up the state folder's reserve.
    """
    # The reserve comes back once there is room again (``keep_disk_reserve`` at the next start).
    (settings.state_dir / RESERVE_FILE).unlink(missing_ok=True)
    try:
        store = JobStore(settings=settings)
        queued = [job.id for job in store.list_jobs(statuses=(QUEUED,))]
        for job_id in queued:
            store.finish(job_id, FAILED, error=DISK_FULL_AT_START, message=DISK_FULL_STATUS)
        return queued
    except Exception:  # noqa: BLE001 - a full disk may stop the store too; the log line says it all
        _log.exception("Could not mark the waiting jobs failed")
        return []


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
        return CANCELLED, "", "Cancelled"
    if isinstance(error, ShowcaseError):
        return FAILED, error.user_text(), "Failed"
    if is_disk_full(error, settings.state_dir):
        return (
            FAILED,
            f"The disk is full, so the {handler.output} could not be saved. Free space in the state folder "
            "(LSM_STATE_DIR) and submit the job again; the uploaded data is kept.",
            DISK_FULL_STATUS,
        )
    if is_out_of_memory(error):
        return (
            FAILED,
            f"{handler.doing} ran out of memory. {handler.memory_advice}, and submit the job again.",
            "Out of memory",
        )
    return (
        FAILED,
        f"{handler.doing} failed unexpectedly ({type(error).__name__}: {redact_paths(str(error), settings)[:300]}). The log has details.",
        "Failed",
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
        error = f"This worker cannot run {job.kind!r} jobs (it runs {', '.join(sorted(handlers)) or 'none'})."
        store.log(job_id, error, "error")
        store.finish(job_id, FAILED, error=f"{error} Update the worker, then submit the job again.", message="Failed")
        return FAILED
    store.log(job_id, f"Worker {os.getpid()} took the job")
    with _Heartbeat(store, job_id, settings.job_heartbeat_seconds), use_language(job.language):
        try:
            metrics, artefacts = handler.run(
                job, _store_events(store, job_id, handler.phase), lambda: store.cancel_requested(job_id), settings
            )
        except Exception as error:  # noqa: BLE001 - a job failure must never kill the worker
            status, text, message = _failure_for(handler, error, settings)
            if message == DISK_FULL_STATUS:
                # Room for the store to record why (SQLite cannot even read on a full disk).
                (settings.state_dir / RESERVE_FILE).unlink(missing_ok=True)
            # A half-written output must not stay behind to be exported or loaded later.
            handler.cleanup(job)
            if status == CANCELLED:
                store.log(job_id, "Cancelled on request")
            elif isinstance(error, ShowcaseError):
                store.log(job_id, text, "error")
            else:
                # The traceback goes to the server log; the job log, shown on the page, gets no server paths.
                _log.exception("Job %s failed", job_id)
                store.log(job_id, f"{type(error).__name__}: {redact_paths(str(error), settings)}", "error")
            store.finish(job_id, status, error=text, message=message)
            return status
    store.finish(job_id, SUCCEEDED, metrics=metrics, artefacts=artefacts, message="Finished")
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


def worker_id() -> str:
    """This worker process among all workers of the store: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _upkeep(settings: Settings, stop: threading.Event) -> None:
    """Every heartbeat: say this worker is alive, and fail the jobs of workers that fell silent
    (on any machine), so a dead worker's job does not wait for a restart to be found.
    """
    started = time.time()
    while True:
        try:
            store = JobStore(settings=settings)
            store.worker_seen(worker_id(), socket.gethostname(), os.getpid(), started)
            reaped = store.reap_dead_jobs()
            if reaped:
                _log.warning("Marked jobs of dead workers as failed: %s", ", ".join(reaped))
        except Exception:  # noqa: BLE001 - an unreachable store now may be back at the next beat
            _log.exception("Worker upkeep failed")
        if stop.wait(settings.job_heartbeat_seconds):
            return


def any_worker_alive(store: JobStore, settings: Settings) -> bool:
    """Whether a worker can take jobs: one on this machine (its lock), or, with a store shared by
    machines, one anywhere that was heard from recently.
    """
    return worker_alive(settings) or (store.shared and bool(store.live_workers()))


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
        handle = _try_lock(lock_path(settings, arguments.slot))
        if handle is None:
            _log.info("A worker already runs in slot %s; exiting.", arguments.slot)
            return 0
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        os.fsync(handle.fileno())
        keep_disk_reserve(settings)
        reaped = JobStore(settings=settings).reap_dead_jobs()
        if reaped:
            _log.warning("Marked jobs of dead workers as failed: %s", ", ".join(reaped))
        queue.set_runner(lambda job_id: execute_job(job_id, handlers, settings))
        huey, _ = queue.get_queue(settings)
    except Exception as error:
        if not is_disk_full(error, settings.state_dir):
            raise
        failed = fail_queued_jobs_for_full_disk(settings)
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
    _log.info("Worker %s consuming %s (%s)", worker_id(), queue.QUEUE_NAME, settings.queue_backend)
    try:
        consumer.run()
    finally:
        stop_upkeep.set()
        upkeep.join(timeout=settings.job_heartbeat_seconds)
        try:
            JobStore(settings=settings).worker_gone(worker_id())
        except Exception:  # noqa: BLE001 - leaving: an unreachable store just sees it fall silent
            _log.exception("Could not sign off from the job store")
    return 0
