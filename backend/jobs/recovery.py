"""Rebuilding a damaged SQLite job database, and the notice users see once afterwards.

Apart from the store's rows because it is about the database file: telling a damaged file from a
busy one, moving it aside, one process at a time, and leaving a notice beside it. The rows come
back from the run folders (``JobStore`` rebuilds them through ``run_records``). A PostgreSQL
store is never rebuilt here: its server keeps its own data.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from backend.i18n import N_, _, ngettext, use_language

RECOVERED_STATUS = N_("Recovered")
RECOVERED_ERROR = N_(
    "Recovered after the job database was damaged; its final state was not recorded. Submit the job again to retry."
)
# SQLite's result codes for "not a database" and "corrupt".
_DAMAGED_CODES = (26, 11)
_log = logging.getLogger(__name__)


def is_damaged(error: sqlite3.DatabaseError) -> bool:
    """Whether ``error`` says the file is no database, is corrupt, or cannot be read (not "locked")."""
    if getattr(error, "sqlite_errorcode", None) in _DAMAGED_CODES:
        return True
    text = str(error).lower()
    return any(
        words in text
        for words in ("file is not a database", "database disk image is malformed", "cannot be read or written")
    )


def recovered_words(language: str) -> tuple[str, str]:
    """The status line and error of a job left unfinished by the damage, in the language of whoever
    started it (as a worker's own messages are)."""
    with use_language(language):
        return _(RECOVERED_STATUS), _(RECOVERED_ERROR)


def _notice_path(database: Path) -> Path:
    return database.with_name(database.name + ".recovered")


def recover(
    database: Path, error: sqlite3.DatabaseError, reopen: Callable[[], None], rebuild: Callable[[], int]
) -> None:
    """Move a damaged ``database`` aside, ``reopen`` a fresh one, ``rebuild`` its rows (returns how
    many jobs came back) and leave the notice.

    One process at a time (a lock file); one that waited finds the database already rebuilt.
    """
    with database.with_name(database.name + ".recover-lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            reopen()
            return  # another process rebuilt it while we waited
        except sqlite3.DatabaseError as again:
            if not is_damaged(again):
                raise
        aside = database.with_name(f"{database.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}")
        os.replace(database, aside)
        for suffix in ("-wal", "-shm"):
            sibling = database.with_name(database.name + suffix)
            if sibling.exists():
                os.replace(sibling, aside.with_name(aside.name + suffix))
        _log.error("The job database was damaged (%s); moved it to %s and rebuilt it", error, aside.name)
        reopen()
        rebuilt = rebuild()
        _notice_path(database).write_text(
            json.dumps(
                {
                    # A count, not words: each reader is told in their own language (``read_notice``).
                    "recovered": rebuilt,
                    "moved_to": aside.name,
                    "at": time.time(),
                }
            ),
            encoding="utf-8",
        )


def read_notice(database: Path) -> str | None:
    """What to tell users after ``database`` was rebuilt, in the reader's language, or None."""
    try:
        notice = json.loads(_notice_path(database).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(notice, dict):
        return None
    if not isinstance(count := notice.get("recovered"), int):
        # A notice written by an older release keeps its English text.
        return str(notice["text"]) if "text" in notice else None
    return ngettext(
        "The job database was damaged and has been rebuilt from the run folders ({count} job recovered). "
        "Jobs that had not finished were marked failed; their logs and curves are lost.",
        "The job database was damaged and has been rebuilt from the run folders ({count} jobs recovered). "
        "Jobs that had not finished were marked failed; their logs and curves are lost.",
        count,
    ).format(count=count)


def forget_notice(database: Path) -> None:
    """The notice has been shown: remove it."""
    _notice_path(database).unlink(missing_ok=True)
