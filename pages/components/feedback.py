"""Thumbs up or down, with an optional comment, under a demo's answer; and the arena's store.

Feedback goes to the workspace database at once (``backend.arena.store``), so a refresh loses
nothing that was sent; a comment that is refused stays in its box.
"""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from backend.arena.store import MAX_COMMENT_CHARS, THUMBS_DOWN, THUMBS_UP, ArenaStore, Feedback
from backend.config import get_settings
from backend.i18n import _
from backend.jobs.databases import database_location
from pages.components.auth import current_owner
from pages.components.errors import user_errors


@st.cache_resource(show_spinner=False)
def _store_at(location: str) -> ArenaStore:
    return ArenaStore(location)


def arena_store() -> ArenaStore:
    """The store of votes and feedback, in the job store's database; its tables are made once per process."""
    return _store_at(str(database_location(get_settings())))


def _answer_id(model_ref: str, prompt: str, answer: str) -> str:
    return hashlib.sha256("\x00".join((model_ref, prompt, answer)).encode("utf-8")).hexdigest()[:16]


def show_feedback(
    task: str, model_ref: str, prompt: str, answer: str, key: str, settings: dict[str, Any] | None = None
) -> None:
    """A thumbs up/down on this answer; once a thumb is picked, a comment box and *Send*."""
    if not answer.strip():
        return
    answer_id = _answer_id(model_ref, prompt, answer)
    sent = st.session_state.setdefault(f"{key}.feedback_sent", set())
    if answer_id in sent:
        st.caption(":material/check: " + _("Thanks: your feedback on this answer is saved."))
        return
    thumb = st.feedback("thumbs", key=f"{key}.feedback.{answer_id}")
    if thumb is None:
        return
    comment = st.text_input(
        _("Comment (optional)"),
        key=f"{key}.feedback_comment.{answer_id}",
        max_chars=MAX_COMMENT_CHARS,
        placeholder=_("What was good or wrong about this answer?"),
    )
    if st.button(_("Send feedback"), key=f"{key}.feedback_send.{answer_id}", icon=":material/send:"):
        with user_errors():
            rating = THUMBS_UP if thumb == 1 else THUMBS_DOWN
            arena_store().add_feedback(
                Feedback(current_owner(), task, model_ref, prompt, answer, rating, comment, settings or {})
            )
            sent.add(answer_id)
            st.rerun()
