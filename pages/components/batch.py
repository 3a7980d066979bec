"""Batch mode on the demo pages: a table (or images) goes to the worker as a job; runs are listed here.

The page never runs a batch itself: a refresh, a second tab or an app restart finds every run
again, and a running one updates every few seconds until its table and CSV are ready.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from backend.models import catalog
from backend.training import batch_jobs, figures, jobs
from backend.training.job_store import Job
from pages.components import finetune
from pages.components.auth import current_owner
from pages.components.demo import show_table_run
from pages.components.errors import user_errors

LIVE_REFRESH_SECONDS = 2


def submit(request: batch_jobs.BatchRequest, frame: pd.DataFrame, key: str) -> None:
    """Check and queue a table, select it below, and make sure a worker will take it."""
    with user_errors():
        _queued(batch_jobs.submit_batch_job(request, frame, owner=current_owner()), key)


def submit_images(request: batch_jobs.BatchRequest, files: list[tuple[str, bytes]], key: str) -> None:
    """Check and queue uploaded images, select them below, and make sure a worker will take them."""
    with user_errors():
        _queued(batch_jobs.submit_image_batch_job(request, files, owner=current_owner()), key)


def _queued(job: Job, key: str) -> None:
    st.session_state[f"{key}.batch_job"] = job.id
    st.toast(f"Queued {job.dataset['texts']:,} items.", icon=":material/table_view:")
    finetune.start_worker_if_needed()


def _label(job: Job) -> str:
    when = datetime.fromtimestamp(job.created).strftime("%Y-%m-%d %H:%M")
    count = job.dataset.get("rows", 0)
    if job.task == catalog.IMAGE_CLASSIFICATION:
        return f"{count:,} images · {when}"
    return f"{job.title or 'table'} · {count:,} rows · {when}"


def show_runs(task: str, key: str, file_name: str) -> None:
    """This demo's batch runs, newest first: the chosen one live while it runs, then its results."""
    listed: list[Job] = []
    with user_errors():
        listed = batch_jobs.list_batch_jobs(current_owner(), task)
    if not listed:
        return
    by_id = {job.id: job for job in listed}
    if st.session_state.get(f"{key}.batch_job") not in by_id:
        st.session_state[f"{key}.batch_job"] = listed[0].id
    st.divider()
    selected = st.selectbox(
        "Batch runs", list(by_id), format_func=lambda job_id: _label(by_id[job_id]), key=f"{key}.batch_job"
    )
    if by_id[selected].is_finished:
        _show_finished(selected, key, file_name)
    else:
        _live_view(selected, key)


@st.fragment(run_every=LIVE_REFRESH_SECONDS)
def _live_view(job_id: str, key: str) -> None:
    with user_errors():
        view = jobs.view_job(job_id, current_owner())
        if view.job.is_finished:
            st.rerun(scope="app")
        _show_status(view)
        if st.button("Cancel", key=f"{key}.batch_cancel.{job_id}", icon=":material/stop_circle:"):
            jobs.cancel_job(job_id, current_owner())
            st.toast("Cancelling: the batch stops after its current group of rows.", icon=":material/stop_circle:")


def _show_status(view: jobs.JobView) -> None:
    job = view.job
    if job.status == "queued":
        finetune.show_queue_wait(view, "Waiting for the worker: {ahead}.")
    elif job.total_steps:
        eta = figures.format_eta(job.eta_seconds)
        st.progress(job.progress, text=f"{job.step:,} of {job.total_steps:,} done{(' · ' + eta) if eta else ''}")
    else:
        st.progress(0.0, text="Loading the model…")


def _show_finished(job_id: str, key: str, file_name: str) -> None:
    with user_errors():
        view = jobs.view_job(job_id, current_owner())
        job = view.job
        if job.status == "failed":
            st.error(job.error or "The batch failed.", icon=":material/error:")
        elif job.status == "cancelled":
            st.info("This batch was cancelled.", icon=":material/stop_circle:")
        else:
            result = batch_jobs.read_result(job)
            if result is None:
                st.error("The results of this batch are missing from the server.", icon=":material/error:")
            else:
                show_table_run(result, file_name, key)
        if st.button("Delete this run", key=f"{key}.batch_delete.{job_id}", icon=":material/delete:"):
            jobs.delete_job(job_id, current_owner())
            st.session_state.pop(f"{key}.batch_job", None)
            st.rerun()
