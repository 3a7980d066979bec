"""The dataset a *Check data* click made, kept in the session under what it was made from.

Every training kind's new-job form uses it: *Start training* submits exactly the checked dataset
when nothing it was made from (upload, mapping, base model, split settings) has changed since,
and checks again otherwise, so stale data is never queued and good data is not checked twice.
What a dataset depends on is the kind's to say (``made_from``, any value that compares by value).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from backend.i18n import _


def _slot(key: str) -> str:
    return f"{key}.checked"


def remember(key: str, made_from: object, dataset: Any) -> None:
    """Keep ``dataset`` as what *Check data* made from ``made_from`` in the form ``key``."""
    st.session_state[_slot(key)] = (made_from, dataset)


def recall(key: str, made_from: object) -> Any | None:
    """The dataset checked from exactly ``made_from`` in the form ``key``, or None."""
    checked = st.session_state.get(_slot(key))
    if checked is not None and checked[0] == made_from:
        return checked[1]
    return None


def forget(key: str) -> Any | None:
    """Drop the form's checked dataset; returns it (None when there was none)."""
    checked = st.session_state.pop(_slot(key), None)
    return None if checked is None else checked[1]


def show_check_and_start(key: str, ready: bool, missing: str) -> tuple[bool, bool]:
    """The *Check data* and *Start training* buttons of a new-job form, disabled until ``ready``
    (``missing`` says what to upload); returns which was clicked."""
    left, right = st.columns(2)
    check = left.button(_("Check data"), key=f"{key}.check", icon=":material/fact_check:", disabled=not ready)
    start = right.button(
        _("Start training"), type="primary", key=f"{key}.submit", icon=":material/rocket_launch:", disabled=not ready
    )
    if not ready:
        st.info(missing, icon=":material/upload_file:")
    return check, start
