"""Keeping a worker running for an app that cannot start one any other way.

Streamlit Community Cloud only runs ``streamlit run app.py``, so the app starts a worker itself
(``ensure_worker_running``) when none is alive, as a detached process that outlives the script
run and exits when idle. Apart from the worker loop (``worker``) because it runs in the app's
process, never in a worker's; it first fails the jobs of dead workers (``liveness``), and when
the disk is too full for any worker to start it says so and fails the waiting jobs
(``full_disk``) rather than leaving them queued forever.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backend.config import PROJECT_ROOT, Settings, get_settings, to_environment
from backend.errors import DiskFullError, is_disk_full
from backend.i18n import _, ngettext
from backend.jobs import liveness
from backend.jobs.full_disk import fail_queued_jobs_for_full_disk
from backend.jobs.store import JobStore

# The module that wires the handlers and runs the worker loop's ``main``.
ENTRY_MODULE = "backend.worker"
WORKER_LOG = "worker.log"
AUTOSTART_IDLE_EXIT_SECONDS = 1800.0
PROBE_FILE = "worker-start.probe"


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
        liveness.reap_dead_jobs(JobStore(settings=settings))
        if not settings.worker_autostart or liveness.worker_alive(settings):
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
            + (
                ngettext(
                    "; {count} waiting job was marked failed.",
                    "; {count} waiting jobs were marked failed.",
                    len(failed),
                ).format(count=len(failed))
                if failed
                else "."
            ),
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
