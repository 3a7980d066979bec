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
    """Bytes held per visitor and in all; ``try_hold`` refuses a file that would pass a bound.

    A visitor is a browser session, and every session from one address together once the page
    has said which address a session comes from (``note_address``): new tabs are free, so without
    that one visitor could take the overall bound and leave nothing to the others.
    """

    def __init__(self, per_visitor_bytes: int, total_bytes: int) -> None:
        if per_visitor_bytes <= 0 or total_bytes <= 0:
            raise ValueError("upload budgets must be positive")
        self.per_visitor_bytes = per_visitor_bytes
        self.total_bytes = total_bytes
        self._held: dict[str, dict[str, int]] = {}
        self._address_of: dict[str, str] = {}
        self._lock = threading.Lock()

    def note_address(self, session_id: str, address: str | None) -> None:
        """Count ``session_id``'s uploads with the other sessions from ``address`` (None: unknown)."""
        with self._lock:
            if address:
                self._address_of[session_id] = address
            else:
                self._address_of.pop(session_id, None)

    def _visitor_sessions(self, session_id: str) -> list[str]:
        address = self._address_of.get(session_id)
        if address is None:
            return [session_id]
        return [session for session, seen in self._address_of.items() if seen == address]

    def try_hold(self, session_id: str, file_id: str, name: str, size: int) -> UploadRefusal | None:
        """Record ``size`` bytes for the file, or say why not (nothing is recorded then).

        A file sent again under the same id replaces its earlier size.
        """
        with self._lock:
            files = self._held.get(session_id, {})
            visitor = sum(sum(self._held.get(session, {}).values()) for session in self._visitor_sessions(session_id))
            visitor_after = visitor - files.get(file_id, 0) + size
            total_after = self._total_unlocked() - files.get(file_id, 0) + size
            reason = ""
            if visitor_after > self.per_visitor_bytes:
                kept = visitor_after - size
                reason = (
                    f"{name} ({_mb(size)}) was not kept: uploads are limited to "
                    f"{_mb(self.per_visitor_bytes)} per visitor (all your tabs together), and {_mb(kept)} are "
                    "kept already. Remove a file you no longer need, or upload a smaller one."
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
            self._address_of.pop(session_id, None)

    def held_by(self, session_id: str) -> int:
        with self._lock:
            return sum(self._held.get(session_id, {}).values())

    def held_in_all(self) -> int:
        with self._lock:
            return self._total_unlocked()

    def _total_unlocked(self) -> int:
        return sum(sum(files.values()) for files in self._held.values())
