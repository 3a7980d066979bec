"""Showing backend errors as messages, never tracebacks.

Every ShowcaseError shown to a user passes through :func:`show_error`, and its text is escaped
there with ``plain_markdown``: messages quote file, column, label and model names that users
chose, and ``st.warning``/``st.error`` render Markdown, so a name must never become a link,
an image, HTML or a styled directive.

The main text says what happened and what the person at the screen can do in the app; commands,
settings and paths for whoever runs the server (``error.detail``) sit folded in an expander.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from backend.errors import InvalidInputError, ModelUnavailableError, ShowcaseError, disk_full_error, is_disk_full
from backend.i18n import _
from backend.text_safety import plain_markdown

_log = logging.getLogger(__name__)


def show_error(error: ShowcaseError) -> None:
    """Render one backend error with the right severity, its text shown literally."""
    text = plain_markdown(error.user_text())
    if isinstance(error, InvalidInputError):
        st.warning(text, icon=":material/edit_note:")
    elif isinstance(error, ModelUnavailableError):
        st.error(text, icon=":material/cloud_off:")
    else:
        st.error(text, icon=":material/error:")
    if error.detail:
        with st.expander(_("Details for whoever runs this server")):
            st.markdown(error.detail)


@contextmanager
def user_errors() -> Iterator[None]:
    """Run a block, turning backend errors and unexpected failures into messages."""
    try:
        yield
    except ShowcaseError as error:
        show_error(error)
    except Exception as error:  # noqa: BLE001 - the user gets a message; the log keeps the traceback
        if is_disk_full(error):
            _log.error("Disk full in a page: %s", error)
            show_error(disk_full_error("this could not be saved or started"))
            return
        _log.exception("Unexpected error in a page")
        st.error(
            _("Something went wrong on our side. The error was logged; please try again."), icon=":material/error:"
        )
