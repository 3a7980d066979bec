"""Uploads bounded before the server keeps them, and the refusal shown in words.

Streamlit keeps every uploaded file in the server process (``MemoryUploadedFileManager``) with
no limit but ``server.maxUploadSize`` per file, and offers no setting or hook to bound the sum.
``install`` turns the runtime's one manager into :class:`BoundedUploadedFileManager` in place (the
upload route, the runtime and every session hold that same object, so a new object would not be
seen): before a file is kept, ``backend.upload_budget`` checks it against the per-session and
overall budgets; a refused file is dropped at once (answered 413, the browser marks it failed),
and its session reruns to say why. Streamlit also never frees the files of a session that was
disconnected and then expired from its reconnect storage, so a sweep drops the files of sessions
gone for longer than a reconnect takes. ``tests/ui/components/test_upload_budget.py`` pins the
Streamlit internals this relies on.
"""

from __future__ import annotations

import logging
import threading
import time

import streamlit as st
from starlette.exceptions import HTTPException
from streamlit.runtime import Runtime
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
from streamlit.runtime.uploaded_file_manager import UploadedFileRec

from backend.config import get_settings
from backend.i18n import _
from backend.text_safety import plain_markdown
from backend.upload_budget import UploadBudget, UploadRefusal
from pages.components.auth import client_address

_log = logging.getLogger(__name__)
# A session whose browser went away keeps its files this long (a reconnect after a network blip
# finds them), then they are freed; Streamlit keeps disconnected sessions 120 s by default.
_RECONNECT_GRACE_SECONDS = 20.0
_SWEEP_SECONDS = 5.0
# Refusals remembered per session to show (a hostile client may send thousands).
_REFUSALS_KEPT = 5
_install_lock = threading.Lock()


class BoundedUploadedFileManager(MemoryUploadedFileManager):
    """Streamlit's in-memory upload keeper, refusing a file that would pass the upload budget."""

    budget: UploadBudget
    refusals: dict[str, list[UploadRefusal]]
    gone_since: dict[str, float]

    def add_file(self, session_id: str, file: UploadedFileRec) -> None:
        refusal = self.budget.try_hold(session_id, file.file_id, file.name, len(file.data))
        if refusal is None:
            super().add_file(session_id, file)
            return
        with self._lock:
            kept = [item for item in self.refusals.get(session_id, []) if item.file_id != file.file_id]
            self.refusals[session_id] = [*kept, refusal][-_REFUSALS_KEPT:]
        _log.warning("Upload refused for session %s: %s", session_id, refusal.reason)
        _rerun(session_id)
        # The route answers this and drops the bytes; nothing refers to them any more.
        raise HTTPException(status_code=413, detail=refusal.reason)

    def remove_file(self, session_id: str, file_id: str) -> None:
        super().remove_file(session_id, file_id)
        self.budget.release(session_id, file_id)

    def remove_session_files(self, session_id: str) -> None:
        super().remove_session_files(session_id)
        self.budget.release_session(session_id)
        with self._lock:
            self.refusals.pop(session_id, None)
            self.gone_since.pop(session_id, None)

    def refusals_for(self, session_id: str) -> list[UploadRefusal]:
        """The session's latest refusals, shown until its user dismisses them."""
        with self._lock:
            return list(self.refusals.get(session_id, []))

    def dismiss_refusals(self, session_id: str) -> None:
        with self._lock:
            self.refusals.pop(session_id, None)

    def sweep(self, runtime: Runtime, now: float) -> None:
        """Free the files of sessions whose browser has been gone longer than a reconnect takes."""
        with self._lock:
            sessions = set(self.file_storage) | set(self.refusals)
        for session_id in sessions:
            if runtime.is_active_session(session_id):
                self.gone_since.pop(session_id, None)
            elif now - self.gone_since.setdefault(session_id, now) >= _RECONNECT_GRACE_SECONDS:
                self.remove_session_files(session_id)


def _rerun(session_id: str) -> None:
    """Rerun the session's page, so that it says why the file was not kept."""
    if not Runtime.exists():
        return
    session = Runtime.instance().get_app_session(session_id)
    if session is not None:
        session.request_rerun(None)


def _sweep_forever(manager: BoundedUploadedFileManager, runtime: Runtime) -> None:
    while True:
        time.sleep(_SWEEP_SECONDS)
        try:
            manager.sweep(runtime, time.monotonic())
        except Exception:  # noqa: BLE001 - the sweep must outlive one bad pass; the log keeps it
            _log.exception("Upload sweep failed")


def bound(manager: MemoryUploadedFileManager, budget: UploadBudget) -> BoundedUploadedFileManager:
    """Turn ``manager`` into a bounded one in place, counting the files it already holds."""
    with manager._lock:
        held = {session: dict(files) for session, files in manager.file_storage.items()}
    manager.__class__ = BoundedUploadedFileManager
    bounded = manager  # same object, new class
    assert isinstance(bounded, BoundedUploadedFileManager)
    bounded.budget = budget
    bounded.refusals = {}
    bounded.gone_since = {}
    for session_id, files in held.items():
        for file_id, record in files.items():
            budget.hold(session_id, file_id, len(record.data))
    return bounded


def install_upload_budget() -> None:
    """Bound the running server's uploads (once per server; nothing when no server runs: AppTest)."""
    if not Runtime.exists():
        return
    runtime = Runtime.instance()
    with _install_lock:
        manager = runtime.uploaded_file_mgr
        if isinstance(manager, BoundedUploadedFileManager) or not isinstance(manager, MemoryUploadedFileManager):
            return
        settings = get_settings()
        budget = UploadBudget(settings.upload_visitor_mb * 2**20, settings.upload_total_mb * 2**20)
        bounded = bound(manager, budget)
        threading.Thread(target=_sweep_forever, args=(bounded, runtime), name="upload-sweep", daemon=True).start()


def track_uploads_of_this_session() -> None:
    """Count this session's uploads with the others from its address, and say which of its
    uploads the server did not keep, and why (``app.py`` calls it on every run)."""
    context = get_script_run_ctx()
    manager = getattr(context, "uploaded_file_mgr", None)
    if not isinstance(manager, BoundedUploadedFileManager):
        return
    manager.budget.note_address(context.session_id, client_address())
    refusals = manager.refusals_for(context.session_id)
    if not refusals:
        return
    for refusal in refusals:
        st.warning(plain_markdown(refusal.reason), icon=":material/upload_file:")
    st.button(
        _("Dismiss"),
        key="uploads.dismiss_refusals",
        on_click=manager.dismiss_refusals,
        args=(context.session_id,),
        icon=":material/close:",
    )
