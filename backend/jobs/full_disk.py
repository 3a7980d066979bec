"""What the job machinery does when the disk fills: keep a little room in the state folder
while there is some, give it up so the job store can record why jobs failed, and fail the
waiting jobs when no worker can start.

Shared by the worker loop (a running job fills the disk) and the supervisor (no worker can
start), which is why it is neither's: SQLite on a full disk cannot even read its own file ("disk
I/O error": its WAL index cannot grow), so the reserve is what lets it write the reason.
"""

from __future__ import annotations

import logging
import os

from backend.config import Settings
from backend.i18n import N_, _, use_language
from backend.jobs.store import FAILED, QUEUED, JobStore

RESERVE_FILE = "disk-full-reserve"
DISK_FULL_STATUS = N_("Disk full")
_RESERVE_BYTES = 4 * 2**20
DISK_FULL_AT_START = N_(
    "The disk is full, so no worker could start to run the job. Free space in the state folder "
    "(LSM_STATE_DIR), then submit the job again."
)
_log = logging.getLogger(__name__)


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
    give_up_reserve(settings)
    try:
        store = JobStore(settings=settings)
        queued = store.list_jobs(statuses=(QUEUED,))
        for job in queued:
            # In the language of the person who started the job, like every other job message.
            with use_language(job.language):
                store.finish(job.id, FAILED, error=_(DISK_FULL_AT_START), message=_(DISK_FULL_STATUS))
        return [job.id for job in queued]
    except Exception:  # noqa: BLE001 - a full disk may stop the store too; the log line says it all
        _log.exception("Could not mark the waiting jobs failed")
        return []


def give_up_reserve(settings: Settings) -> None:
    """Free the reserve, so the job store can record why jobs failed on a full disk."""
    (settings.state_dir / RESERVE_FILE).unlink(missing_ok=True)
