"""The bounded upload keeper on Streamlit's own manager: refusal before keeping, memory freed.

These tests also pin the Streamlit internals the component relies on (the manager's
``file_storage`` and ``_lock``, and that every holder shares the one object), so an upgrade that
changes them fails here rather than silently leaving uploads unbounded.
"""

from __future__ import annotations

import pytest
from starlette.exceptions import HTTPException
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFileRec

from backend.upload_budget import UploadBudget
from pages.components import upload_budget

MB = 2**20


def _file(file_id: str, size: int) -> UploadedFileRec:
    return UploadedFileRec(file_id=file_id, name=f"{file_id}.png", type="image/png", data=b"\0" * size)


class _Sessions:
    """What the sweep asks of Streamlit's runtime: which sessions have a browser connected."""

    def __init__(self, active: set[str]) -> None:
        self.active = active

    def is_active_session(self, session_id: str) -> bool:
        return session_id in self.active


def test_a_file_over_the_session_budget_is_refused_and_not_kept():
    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    manager.add_file("early", _file("e1", 1 * MB))
    bounded = upload_budget.bound(manager, UploadBudget(per_visitor_bytes=3 * MB, total_bytes=10 * MB))
    assert bounded is manager and bounded.budget.held_by("early") == 1 * MB
    bounded.add_file("s", _file("f1", 2 * MB))
    with pytest.raises(HTTPException) as refused:
        bounded.add_file("s", _file("f2", 2 * MB))
    assert refused.value.status_code == 413
    assert "f2.png (2 MB) was not kept" in refused.value.detail
    assert [rec.file_id for rec in bounded.get_files("s", ["f1", "f2"])] == ["f1"]
    assert [refusal.name for refusal in bounded.refusals_for("s")] == ["f2.png"]
    assert bounded.get_stats()["cache_memory_bytes"][0].byte_length == 3 * MB
    bounded.dismiss_refusals("s")
    assert bounded.refusals_for("s") == []


def test_removing_a_file_makes_room_and_the_refusals_kept_are_few():
    bounded = upload_budget.bound(MemoryUploadedFileManager("/u"), UploadBudget(2 * MB, 10 * MB))
    bounded.add_file("s", _file("f1", 2 * MB))
    for index in range(20):
        with pytest.raises(HTTPException):
            bounded.add_file("s", _file(f"r{index}", 1 * MB))
    assert len(bounded.refusals_for("s")) == 5
    bounded.remove_file("s", "f1")
    bounded.add_file("s", _file("f2", 2 * MB))
    assert bounded.budget.held_by("s") == 2 * MB


def test_files_of_a_session_gone_longer_than_a_reconnect_are_freed():
    bounded = upload_budget.bound(MemoryUploadedFileManager("/u"), UploadBudget(5 * MB, 10 * MB))
    bounded.add_file("gone", _file("f1", 2 * MB))
    bounded.add_file("here", _file("f1", 2 * MB))
    sessions = _Sessions({"here"})
    bounded.sweep(sessions, now=100.0)
    bounded.sweep(sessions, now=100.0 + upload_budget._RECONNECT_GRACE_SECONDS - 1)
    assert bounded.budget.held_by("gone") == 2 * MB, "a short disconnect keeps the files"
    bounded.sweep(sessions, now=100.0 + upload_budget._RECONNECT_GRACE_SECONDS)
    assert bounded.get_files("gone", ["f1"]) == [] and bounded.budget.held_by("gone") == 0
    assert bounded.budget.held_in_all() == 2 * MB and bounded.get_files("here", ["f1"])


def test_a_session_back_before_the_grace_ends_keeps_its_files():
    bounded = upload_budget.bound(MemoryUploadedFileManager("/u"), UploadBudget(5 * MB, 10 * MB))
    bounded.add_file("s", _file("f1", 1 * MB))
    bounded.sweep(_Sessions(set()), now=0.0)
    bounded.sweep(_Sessions({"s"}), now=10.0)
    bounded.sweep(_Sessions(set()), now=upload_budget._RECONNECT_GRACE_SECONDS + 5)
    assert bounded.get_files("s", ["f1"])
