"""The job queue: Huey, with its embedded SQLite storage by default, Redis for several machines.

Huey is maintained, small, and its SQLite backend needs no server, which fits Streamlit Community
Cloud; ``LSM_QUEUE=redis`` (with ``LSM_REDIS_URL``) switches to Redis so workers on several GPU
machines can share one queue. A queued task carries only the job id; the job's data and state
live in the run folder and the job store.

The queue does not know what runs a job: the worker's entry point hands it a runner
(``set_runner``) before it consumes; the app only enqueues.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from huey import RedisHuey, SqliteHuey
from huey.api import Huey, TaskWrapper

from backend import optional
from backend.config import Settings, get_settings
from backend.errors import ShowcaseError
from backend.i18n import _

QUEUE_NAME = "showcase-training"
QUEUE_FILE = "queue.sqlite3"
TASK_NAME = "train_job"

_queues: dict[tuple[str, str], tuple[Huey, TaskWrapper]] = {}
_lock = threading.Lock()
_runner: Callable[[str], object] | None = None


def queue_file(settings: Settings) -> Path:
    """The SQLite file of the default queue."""
    return settings.state_dir / QUEUE_FILE


def set_runner(runner: Callable[[str], object]) -> None:
    """What a consumer in this process does with a dequeued job id (the worker sets it)."""
    global _runner
    _runner = runner


def _run_job(job_id: str) -> None:
    if _runner is None:
        raise RuntimeError("No job runner is set in this process; start the worker with `python -m backend.worker`.")
    _runner(job_id)


def _build(settings: Settings) -> Huey:
    if settings.queue_backend == "redis":
        optional.require("redis", "redis", "The Redis job queue (LSM_QUEUE=redis)")
        return RedisHuey(QUEUE_NAME, url=settings.redis_url, results=False, utc=True)
    if settings.queue_backend != "sqlite":
        raise ShowcaseError(
            _("Unknown queue backend {queue_backend!r}.").format(queue_backend=settings.queue_backend),
            _("Set LSM_QUEUE to 'sqlite' (default) or 'redis'."),
        )
    queue_file(settings).parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(QUEUE_NAME, filename=str(queue_file(settings)), results=False, utc=True)


def get_queue(settings: Settings | None = None) -> tuple[Huey, TaskWrapper]:
    """The queue for these settings and its job task (one per process and location)."""
    settings = settings or get_settings()
    key = (
        settings.queue_backend,
        settings.redis_url if settings.queue_backend == "redis" else str(queue_file(settings)),
    )
    with _lock:
        if key not in _queues:
            huey = _build(settings)
            _queues[key] = (huey, huey.task(name=TASK_NAME)(_run_job))
        return _queues[key]


def _unreachable(settings: Settings, error: Exception) -> ShowcaseError:
    # Neither the Redis URL (it may hold a password) nor the queue file's server path is shown.
    where = "LSM_REDIS_URL" if settings.queue_backend == "redis" else "the state folder"
    return ShowcaseError(
        _("The job queue ({queue_backend}, {where}) cannot be reached ({error}).").format(
            queue_backend=settings.queue_backend, where=where, error=type(error).__name__
        ),
        _("Check that Redis is running (LSM_REDIS_URL) or that the state folder is writable, then try again."),
    )


def enqueue_job(job_id: str, settings: Settings | None = None) -> str:
    """Put a job on the queue; returns the queue's task id.

    Raises:
        ShowcaseError: the queue's storage (SQLite file or Redis server) cannot be reached.
    """
    settings = settings or get_settings()
    huey, task = get_queue(settings)
    message = task.s(job_id)
    try:
        huey.enqueue(message)
    except Exception as error:  # noqa: BLE001 - storage errors differ by backend; all mean the same here
        raise _unreachable(settings, error) from error
    return message.id


def pending_count(settings: Settings | None = None) -> int:
    """Tasks waiting in the queue (not yet taken by a worker).

    Raises:
        ShowcaseError: the queue's storage cannot be reached.
    """
    settings = settings or get_settings()
    huey, _ = get_queue(settings)
    try:
        return int(huey.pending_count())
    except Exception as error:  # noqa: BLE001 - as in enqueue_job
        raise _unreachable(settings, error) from error
