"""The worker: ``python -m backend.training.worker`` takes queued jobs one at a time, training
jobs and the demos' batch jobs (``batch_jobs``) alike.

Streamlit Community Cloud only runs ``streamlit run app.py``, so the app starts a worker itself
(``ensure_worker_running``) when none is alive. A worker holds an exclusive lock file for its
lifetime; the kernel releases it when the process dies, so "is a worker alive?" never trusts a
stale pid file. While a job trains, a thread beats its heartbeat in the job store.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import torch

from backend.config import PROJECT_ROOT, Settings, get_settings
from backend.errors import ShowcaseError
from backend.server_paths import redact_paths
from backend.training import queue
from backend.training.batch_jobs import BATCH, run_batch_job
from backend.training.datasets import PreparedDataset
from backend.training.job_store import CANCELLED, FAILED, SUCCEEDED, Job, JobStore
from backend.training.params import TrainingParams
from backend.training.progress import TrainingCancelled, TrainingEvent
from backend.training.runner import MODEL_FOLDER, run_training

DATA_FOLDER = "data"
WORKER_LOG = "worker.log"
HEARTBEAT_SECONDS = 5.0
AUTOSTART_IDLE_EXIT_SECONDS = 1800.0
_IDLE_CHECK_SECONDS = 5.0
_busy = threading.Event()
_log = logging.getLogger(__name__)


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
    JobStore(settings=settings).reap_dead_jobs()
    if worker_alive(settings):
        return False
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    log_file = (settings.state_dir / WORKER_LOG).open("ab")
    # The worker must see the same folders and queue as this process, whatever the environment says.
    env = {
        **os.environ,
        "LSM_STATE_DIR": str(settings.state_dir),
        "LSM_MODELS_DIR": str(settings.models_dir),
        "LSM_DEVICE": settings.device,
        "LSM_OFFLINE": "1" if settings.offline else "0",
        "LSM_QUEUE": settings.queue_backend,
        "LSM_REDIS_URL": settings.redis_url,
    }
    # A new session: the worker outlives the Streamlit script run and ignores its signals.
    subprocess.Popen(
        [sys.executable, "-m", "backend.training.worker", "--idle-exit", str(idle_exit_seconds)],
        cwd=str(PROJECT_ROOT),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )
    log_file.close()
    return True


class _Heartbeat:
    """Beats a job's heartbeat from a thread, so long steps do not look like a dead worker."""

    def __init__(self, store: JobStore, job_id: str) -> None:
        self._store, self._job_id = store, job_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self._store.beat(self._job_id)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=HEARTBEAT_SECONDS)


def _store_events(store: JobStore, job_id: str, phase: str) -> Callable[[TrainingEvent], None]:
    def record(event: TrainingEvent) -> None:
        if event.kind == "progress":
            # The page formats step, epoch and ETA itself; the message says only what phase this is.
            store.update_progress(job_id, event.step, event.total_steps, event.epoch, event.eta_seconds, phase)
        elif event.kind == "metric":
            store.add_metric(job_id, event.step, event.epoch, event.name, event.value)
        else:
            store.log(job_id, event.text, event.level)

    return record


def execute_job(job_id: str, settings: Settings | None = None) -> str:
    """Run one queued job to its end and record the outcome; returns the final status.

    A job cancelled while it waited is skipped. Errors never escape: they become the job's
    readable error, and the traceback goes to the server log.
    """
    settings = settings or get_settings()
    store = JobStore(settings=settings)
    if not store.claim(job_id):
        job = store.get(job_id)
        return job.status if job else "missing"
    job = store.require(job_id)
    run_dir = Path(job.run_dir)
    store.log(job_id, f"Worker {os.getpid()} took the job")
    _busy.set()
    with _Heartbeat(store, job_id), _clear_on_exit(_busy):
        try:
            metrics, artefacts = _run(job, store, settings)
        except TrainingCancelled:
            shutil.rmtree(run_dir / MODEL_FOLDER, ignore_errors=True)
            store.log(job_id, "Cancelled on request")
            store.finish(job_id, CANCELLED, message="Cancelled")
            return CANCELLED
        except ShowcaseError as error:
            store.log(job_id, error.user_text(), "error")
            store.finish(job_id, FAILED, error=error.user_text(), message="Failed")
            return FAILED
        except Exception as error:  # noqa: BLE001 - a job failure must never kill the worker
            # The traceback goes to the server log; the job log, shown on the page, gets no server paths.
            _log.exception("Job %s failed", job_id)
            store.log(job_id, f"{type(error).__name__}: {redact_paths(str(error), settings)}", "error")
            if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
                # A half-written model must not stay behind to be exported or loaded later.
                shutil.rmtree(run_dir / MODEL_FOLDER, ignore_errors=True)
                saved = "results" if job.method == BATCH else "model"
                store.finish(
                    job_id,
                    FAILED,
                    error=f"The disk is full, so the {saved} could not be saved. Free space in the state folder (LSM_STATE_DIR) "
                    "and submit the job again; the uploaded data is kept.",
                    message="Disk full",
                )
                return FAILED
            if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
                advice = (
                    "Upload fewer or shorter rows, or pick a smaller model"
                    if job.method == BATCH
                    else "Lower the batch size or the maximum text length, or pick a smaller base model"
                )
                store.finish(
                    job_id,
                    FAILED,
                    error=f"{_doing(job)} ran out of memory. {advice}, and submit the job again.",
                    message="Out of memory",
                )
                return FAILED
            store.finish(
                job_id,
                FAILED,
                error=f"{_doing(job)} failed unexpectedly ({type(error).__name__}: "
                f"{redact_paths(str(error), settings)[:300]}). "
                "The log has details.",
                message="Failed",
            )
            return FAILED
    store.finish(job_id, SUCCEEDED, metrics=metrics, artefacts=artefacts, message="Finished")
    return SUCCEEDED


def _doing(job: Job) -> str:
    return "The batch" if job.method == BATCH else "Training"


def _run(job: Job, store: JobStore, settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run a claimed job of either kind; returns its metrics and artefacts."""

    def should_stop() -> bool:
        return store.cancel_requested(job.id)

    if job.method == BATCH:
        return run_batch_job(job, _store_events(store, job.id, "Processing"), should_stop, settings)
    run_dir = Path(job.run_dir)
    result = run_training(
        TrainingParams.from_dict(job.params),
        PreparedDataset.load(run_dir / DATA_FOLDER),
        run_dir,
        progress_callback=_store_events(store, job.id, "Training"),
        should_stop=should_stop,
        owner=job.owner,
        settings=settings,
    )
    metrics = {**result.report.headline(), "seconds": result.seconds}
    artefacts = {"model_dir": result.model_dir, "evaluation": str(run_dir / "evaluation.json"), "device": result.device}
    return metrics, artefacts


@contextmanager
def _clear_on_exit(flag: threading.Event) -> Iterator[None]:
    try:
        yield
    finally:
        flag.clear()


def _exit_when_idle(settings: Settings, idle_seconds: float) -> None:
    idle_since = time.monotonic()
    while True:
        time.sleep(_IDLE_CHECK_SECONDS)
        if _busy.is_set() or queue.pending_count(settings):
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= idle_seconds:
            _log.info("Idle for %.0f s; exiting.", idle_seconds)
            # SIGINT is the consumer's graceful stop.
            os.kill(os.getpid(), signal.SIGINT)
            return


def main(argv: list[str] | None = None) -> int:
    """Hold the worker lock and consume the queue until stopped (Ctrl+C or SIGTERM)."""
    parser = argparse.ArgumentParser(description="Worker: runs queued training and batch jobs one at a time.")
    parser.add_argument("--slot", type=int, default=0, help="worker slot on this machine (one worker per slot)")
    parser.add_argument("--idle-exit", type=float, default=0, help="exit after this many idle seconds (0: never)")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    handle = _try_lock(lock_path(settings, arguments.slot))
    if handle is None:
        _log.info("A worker already runs in slot %s; exiting.", arguments.slot)
        return 0
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    reaped = JobStore(settings=settings).reap_dead_jobs()
    if reaped:
        _log.warning("Marked jobs of dead workers as failed: %s", ", ".join(reaped))
    huey, _ = queue.get_queue(settings)
    # One job at a time: a GPU (or a small CPU host) trains one model well, not two badly.
    consumer = huey.create_consumer(
        workers=1, worker_type="thread", periodic=False, initial_delay=0.1, backoff=1.15, max_delay=1.0
    )
    if arguments.idle_exit > 0:
        threading.Thread(target=_exit_when_idle, args=(settings, arguments.idle_exit), daemon=True).start()
    _log.info("Worker %s consuming %s (%s)", os.getpid(), queue.QUEUE_NAME, settings.queue_backend)
    consumer.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
