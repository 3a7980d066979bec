"""How many uploaded bytes the server keeps: per browser session and for everyone together.

Streamlit keeps every uploaded file in the server's memory until its session ends, and its only
limit (``server.maxUploadSize``) is per file: ten 95 MB files in one multi-file uploader were
2.9 GB, more than Community Cloud's 2.7 GB for everything. The server-side keeper of uploads
(``pages/components/upload_budget.py``) asks this budget before it keeps a file and refuses the
file, in words, when keeping it would pass either bound. Checking and recording happen in one
step under one lock, so parallel uploads cannot pass a bound together.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class UploadRefusal:
    """A file the server did not keep, and why (shown to the session that sent it)."""

    file_id: str
    name: str
    size: int
    reason: str


def _mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MB"


class UploadBudget:
    """Bytes held per session and in all; ``try_hold`` refuses a file that would pass a bound."""

    def __init__(self, per_session_bytes: int, total_bytes: int) -> None:
        if per_session_bytes <= 0 or total_bytes <= 0:
            raise ValueError("upload budgets must be positive")
        self.per_session_bytes = per_session_bytes
        self.total_bytes = total_bytes
        self._held: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    def try_hold(self, session_id: str, file_id: str, name: str, size: int) -> UploadRefusal | None:
        """Record ``size`` bytes for the file, or say why not (nothing is recorded then).

        A file sent again under the same id replaces its earlier size.
        """
        with self._lock:
            files = self._held.get(session_id, {})
            session_after = sum(files.values()) - files.get(file_id, 0) + size
            total_after = self._total_unlocked() - files.get(file_id, 0) + size
            reason = ""
            if session_after > self.per_session_bytes:
                kept = session_after - size
                reason = (
                    f"{name} ({_mb(size)}) was not kept: uploads are limited to "
                    f"{_mb(self.per_session_bytes)} per visitor, and {_mb(kept)} are kept already. "
                    "Remove a file you no longer need, or upload a smaller one."
                )
            elif total_after > self.total_bytes:
                reason = (
                    f"{name} ({_mb(size)}) was not kept: the server holds at most {_mb(self.total_bytes)} "
                    "of uploads for all visitors together, and that is in use now. Try again in a few minutes."
                )
            if reason:
                return UploadRefusal(file_id, name, size, reason)
            self._held.setdefault(session_id, {})[file_id] = size
            return None

    def hold(self, session_id: str, file_id: str, size: int) -> None:
        """Record a file kept before the budget existed, whatever the bounds (later ones are refused)."""
        with self._lock:
            self._held.setdefault(session_id, {})[file_id] = size

    def release(self, session_id: str, file_id: str) -> None:
        """Forget one file (removed by its user)."""
        with self._lock:
            files = self._held.get(session_id)
            if files is not None:
                files.pop(file_id, None)
                if not files:
                    del self._held[session_id]

    def release_session(self, session_id: str) -> None:
        """Forget every file of a session that ended."""
        with self._lock:
            self._held.pop(session_id, None)

    def held_by(self, session_id: str) -> int:
        with self._lock:
            return sum(self._held.get(session_id, {}).values())

    def held_in_all(self) -> int:
        with self._lock:
            return self._total_unlocked()

    def _total_unlocked(self) -> int:
        return sum(sum(files.values()) for files in self._held.values())
