"""Batch mode on the demo pages: a table (or images) goes to the worker as a job; runs are listed here.

The page never runs a batch itself: a refresh, a second tab or an app restart finds every run
again, and a running one updates every few seconds until its table and CSV are ready.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from backend.i18n import _, ngettext
from backend.i18n.formats import format_timestamp
from backend.inference import batch
from backend.jobs import manage, tables
from backend.jobs.store import Job
from backend.jobs.submit import RETRYABLE
from backend.models.resolve import catalogue
from backend.text_safety import plain_markdown
from pages.components import job_monitor
from pages.components.auth import current_owner
from pages.components.demo import show_table_run
from pages.components.errors import user_errors


def submit(request: batch.BatchRequest, frame: pd.DataFrame, key: str) -> None:
    """Check and queue a table, select it below, and make sure a worker will take it."""
    with user_errors():
        _queued(batch.submit_batch_job(request, frame, owner=current_owner()), key)


def submit_images(request: batch.BatchRequest, files: list[tuple[str, bytes]], key: str) -> None:
    """Check and queue uploaded images, select them below, and make sure a worker will take them."""
    with user_errors():
        _queued(batch.submit_image_batch_job(request, files, owner=current_owner()), key)


def _queued(job: Job, key: str) -> None:
    st.session_state[f"{key}.batch_job"] = job.id
    st.toast(_("Queued {items:,} items.").format(items=job.dataset["items"]), icon=":material/table_view:")
    job_monitor.start_worker_if_needed()


def _label(job: Job) -> str:
    # The job id's tail tells apart runs of the same size started in the same second.
    when = format_timestamp(job.created)
    count = job.dataset.get("rows", 0)
    retried = " · " + _("retry {retries}").format(retries=job.dataset["retries"]) if job.dataset.get("retries") else ""
    if job.task == catalogue.IMAGE_CLASSIFICATION:
        images = ngettext("{count:,} image", "{count:,} images", count).format(count=count)
        return f"{images} · {when}{retried} · {job.id[-6:]}"
    rows = ngettext("{count:,} row", "{count:,} rows", count).format(count=count)
    return f"{job.title or _('table')} · {rows} · {when}{retried} · {job.id[-6:]}"


def show_runs(task: str, key: str, file_name: str) -> None:
    """This demo's batch runs, newest first: the chosen one live while it runs, then its results."""
    listed: list[Job] = []
    with user_errors():
        listed = batch.list_batch_jobs(current_owner(), task)
    if not listed:
        return
    by_id = {job.id: job for job in listed}
    # A retry (below the picker, so after it was drawn) asks for its new run to be picked here.
    if (retried := st.session_state.pop(f"{key}.batch_retried", None)) in by_id:
        st.session_state[f"{key}.batch_job"] = retried
    if st.session_state.get(f"{key}.batch_job") not in by_id:
        st.session_state[f"{key}.batch_job"] = listed[0].id
    st.divider()
    selected = st.selectbox(
        _("Batch runs"), list(by_id), format_func=lambda job_id: _label(by_id[job_id]), key=f"{key}.batch_job"
    )
    if by_id[selected].is_finished:
        _show_finished(selected, key, file_name)
    else:
        job_monitor.show_live(
            selected,
            f"{key}.batch",
            _show_status,
            _("Cancel"),
            _("Cancelling: the batch stops after its current group of rows."),
        )


def _show_status(view: manage.JobView) -> None:
    job = view.job
    if job.status == "queued":
        job_monitor.show_queue_wait(view, _("Waiting for the worker: {ahead}."))
    elif job.total_steps:
        eta = tables.format_eta(job.eta_seconds)
        st.progress(
            job.progress,
            text=_("{step:,} of {total_steps:,} done{value}").format(
                step=job.step, total_steps=job.total_steps, value=(" · " + eta) if eta else ""
            ),
        )
    else:
        st.progress(0.0, text=_("Loading the model…"))


def _show_finished(job_id: str, key: str, file_name: str) -> None:
    with user_errors():
        job = manage.view_job(job_id, current_owner()).job
        if job.status == "failed":
            st.error(plain_markdown(job.error or "The batch failed."), icon=":material/error:")
        elif job.status == "cancelled":
            st.info(_("This batch was cancelled."), icon=":material/stop_circle:")
        else:
            result = batch.read_result(job)
            if result is None:
                st.error(_("The results of this batch are missing from the server."), icon=":material/error:")
            else:
                show_table_run(result, file_name, key)
        if job.status in RETRYABLE and st.button(
            _("Retry"),
            key=f"{key}.batch_retry.{job_id}",
            icon=":material/replay:",
            help=_("Queue it again, same input."),
        ):
            # A new run with the same input and options; this one stays, for reference.
            retried = batch.retry_batch_job(job_id, current_owner())
            job_monitor.start_worker_if_needed()
            st.session_state[f"{key}.batch_retried"] = retried.id
            st.rerun()
        if st.button(_("Delete this run"), key=f"{key}.batch_delete.{job_id}", icon=":material/delete:"):
            manage.delete_job(job_id, current_owner())
            st.session_state.pop(f"{key}.batch_job", None)
            st.rerun()
