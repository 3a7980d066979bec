"""Which workers are alive, and which running jobs lost theirs.

Its own module because the app and every worker ask it, and the answer comes from two places: on
one machine a worker holds a lock file for its lifetime (the kernel releases it when the process
dies, so no stale pid file is trusted) and its pid can be checked; across machines (a PostgreSQL
store) only the store's ``workers`` table and the jobs' heartbeats say who is alive. A running job
whose worker is gone is failed here (``reap_dead_jobs``: at a worker's start, at every worker's
heartbeat, and when the app starts a worker), never on a read.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path
from typing import IO, Any

import psutil

from backend.config import Settings, get_settings
from backend.i18n import _, use_language
from backend.jobs.store import FAILED, RUNNING, JobStore


def lock_path(settings: Settings, slot: int = 0) -> Path:
    """The lock file a worker in ``slot`` holds while it lives."""
    return settings.state_dir / f"worker-{slot}.lock"


def try_lock(path: Path) -> IO[str] | None:
    """The lock file ``path``, held exclusively, or None when another process holds it."""
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
    handle = try_lock(lock_path(settings or get_settings(), slot))
    if handle is None:
        return True
    handle.close()
    return False


def worker_id() -> str:
    """This worker process among all workers of the store: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def any_worker_alive(store: JobStore, settings: Settings) -> bool:
    """Whether a worker can take jobs: one on this machine (its lock), or, with a store shared by
    machines, one anywhere that was heard from recently.
    """
    return worker_alive(settings) or (store.shared and bool(live_workers(store)))


def _died(language: str) -> str:
    """The status line of a job whose worker died, in the language of whoever started the job
    (whoever's page or worker notices it)."""
    with use_language(language):
        return _("Worker died")


def reap_dead_jobs(store: JobStore, stale_after: float | None = None) -> list[str]:
    """Mark running jobs whose worker is gone as failed; returns the ids this call failed.

    A worker is gone when its heartbeat is older than ``stale_after`` seconds (by default the
    settings' ``stale_heartbeat_seconds``), or, with the SQLite store (one machine), when its
    process no longer exists; there a job whose worker process lives is never called dead. A
    PostgreSQL store is shared by machines whose pids mean nothing here, so only the heartbeat
    counts. Any worker or the app may reap: each dead job is failed by exactly one of them.
    """
    stale_after = store.stale_after if stale_after is None else stale_after
    host = socket.gethostname()
    now = time.time()
    dead: list[str] = []
    for job in store.list_jobs(statuses=(RUNNING,)):
        local = not store.shared and job.worker_host == host and job.worker_pid
        if local and not _process_alive(job.worker_pid):
            reason, silent_since = f"The worker process (pid {job.worker_pid}) stopped during the job", None
        elif local:
            # Its worker lives: silence means its beats cannot be written (a full disk), not death.
            continue
        elif job.heartbeat is None or now - job.heartbeat > stale_after:
            silent = int(now - (job.heartbeat or job.started or now))
            reason, silent_since = f"The worker stopped reporting {silent} s ago", now - stale_after
        else:
            continue
        if store.finish(
            job.id,
            FAILED,
            error=f"{reason} (it may have run out of memory or been restarted). Submit the job again to retry.",
            message=_died(job.language),
            silent_since=silent_since,
        ):
            store.log(job.id, reason, "error")
            dead.append(job.id)
    return dead


def worker_seen(store: JobStore, worker: str, host: str, pid: int, started: float) -> None:
    """The worker ``worker`` (its ``worker_id``) is alive: it says so every heartbeat, busy or idle."""
    with store.connect() as connection:
        connection.execute(
            "INSERT INTO workers (id, host, pid, started, seen) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET seen = excluded.seen",
            (worker, host, pid, started, time.time()),
        )


def worker_gone(store: JobStore, worker: str) -> None:
    """The worker ``worker`` (its ``worker_id``) stopped cleanly."""
    with store.connect() as connection:
        connection.execute("DELETE FROM workers WHERE id = ?", (worker,))


def live_workers(store: JobStore, stale_after: float | None = None) -> list[dict[str, Any]]:
    """Workers heard from within ``stale_after`` seconds, on any machine: ``{"id", "host", "pid", "seen"}``."""
    cutoff = time.time() - (store.stale_after if stale_after is None else stale_after)
    with store.connect() as connection:
        rows = connection.execute(
            "SELECT id, host, pid, seen FROM workers WHERE seen >= ? ORDER BY id", (cutoff,)
        ).fetchall()
    return [dict(row) for row in rows]


def _process_alive(pid: int) -> bool:
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
