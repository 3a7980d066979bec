"""Watching a job of any kind: its place in the queue, a live view that polls it, and the worker.

Used by the fine-tuning jobs page and by the demos' batch runs, so both poll, wait, cancel and
start a worker the same way.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from backend.config import get_settings
from backend.errors import ShowcaseError
from backend.i18n import _, ngettext
from backend.jobs import manage, supervisor
from backend.jobs.manage import JobView
from backend.jobs.store import RUNNING
from backend.worker import KIND_NOUNS
from pages.components.auth import current_owner
from pages.components.errors import show_error, user_errors

LIVE_REFRESH_SECONDS = 2


def start_worker_if_needed() -> None:
    """Start a background worker when none is alive (Community Cloud runs only the app).

    Starting also marks jobs of dead workers as failed, so a job never stays "running" forever.
    """
    try:
        if supervisor.ensure_worker_running():
            st.toast(_("Started a background worker."), icon=":material/memory:")
    except ShowcaseError as error:
        show_error(error)
    except OSError as error:
        st.error(
            _("Could not start a background worker ({error}). Start one with `python -m backend.worker`.").format(
                error=error
            )
        )


def show_queue_wait(view: JobView, sentence: str) -> None:
    """A queued job's place in line (``sentence`` holds ``{ahead}``) and whether a worker is up."""
    position = view.queue_position or 1
    ahead = (
        _("next in line")
        if position == 1
        else ngettext("{count} job ahead", "{count} jobs ahead", position - 1).format(count=position - 1)
    )
    if position > 1 and view.kinds_ahead:
        # The jobs ahead may be others' or the demos' own (engine checks), which this list does not
        # show: name them by kind so the count is not a mystery.
        kinds = _(", ").join(
            _("{noun} ×{count}").format(noun=_(KIND_NOUNS.get(kind, kind)), count=count)
            for kind, count in view.kinds_ahead.items()
        )
        ahead = _("{ahead} ({kinds})").format(ahead=ahead, kinds=kinds)
    st.info(sentence.format(ahead=ahead), icon=":material/hourglass_top:")
    if not view.worker_alive:
        if get_settings().worker_autostart:
            st.warning(_("No worker is running on this machine; one is being started."), icon=":material/memory:")
        else:
            st.warning(
                _(
                    "No worker has reported in recently. The job starts when one does; "
                    "if this lasts, ask whoever runs this server to start a worker."
                ),
                icon=":material/memory:",
            )


@st.fragment(run_every=LIVE_REFRESH_SECONDS)
def show_live(
    job_id: str,
    key: str,
    show: Callable[[JobView], None],
    cancel_label: str,
    cancelling: str,
    drawn_status: str = "",
) -> None:
    """Poll an unfinished job every few seconds: ``show`` draws it, a button cancels it, and the
    whole page reruns once it has finished.

    Args:
        job_id: the job to watch (the current owner's).
        key: the widget namespace, e.g. ``finetune`` or ``sentiment``.
        show: draws the job's status (progress bar, curves...).
        cancel_label: the cancel button's label.
        cancelling: the toast shown after a cancel click.
        drawn_status: the status the page drew elsewhere (the jobs table); when the job moves on,
            the whole page redraws, so the table and this status line never disagree.
    """
    with user_errors():
        view = manage.view_job(job_id, current_owner())
        if view.job.is_finished or (drawn_status and view.job.status != drawn_status):
            st.rerun(scope="app")
        if view.job.status == RUNNING and not view.worker_alive:
            # Its worker may have died: starting one marks the job failed if so.
            start_worker_if_needed()
        show(view)
        if st.button(cancel_label, key=f"{key}.cancel.{job_id}", icon=":material/stop_circle:"):
            manage.cancel_job(job_id, current_owner())
            st.toast(cancelling, icon=":material/stop_circle:")
