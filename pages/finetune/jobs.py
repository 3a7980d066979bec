"""Training jobs: every job of this workspace, a live view of one, its results, and run comparison."""

import streamlit as st

from backend.training import figures, jobs
from backend.training.job_store import STATUSES
from pages.components import finetune
from pages.components.auth import current_owner
from pages.components.errors import user_errors

LIVE_REFRESH_SECONDS = 2

st.title("Training jobs")
st.caption(
    "Jobs live on the server, not in this tab: refresh, open a second tab or come back tomorrow and they "
    "are all here. A running job updates every few seconds."
)
owner = current_owner()

left, right = st.columns(2)
statuses = left.multiselect("Status", STATUSES, key="finetune.jobs.status", placeholder="any status")
task = right.selectbox("Task", ("all", "text", "image"), key="finetune.jobs.task")
listed = []
with user_errors():
    listed = jobs.list_jobs(owner, tuple(statuses), None if task == "all" else task)
if any(job.status == "queued" for job in listed):
    finetune.start_worker_if_needed()

if not listed and (statuses or task != "all"):
    st.info("No jobs match these filters.", icon=":material/filter_alt_off:")
elif not listed:
    st.info("No training jobs here yet.", icon=":material/inbox:")
    st.page_link("pages/finetune/new_job.py", label="Start a training job", icon=":material/add_circle:")
else:
    st.dataframe(
        figures.jobs_table(listed),
        hide_index=True,
        column_config={
            "progress": st.column_config.ProgressColumn("progress", min_value=0, max_value=100, format="%d%%")
        },
    )
    ids = [job.id for job in listed]
    by_id = {job.id: job for job in listed}
    wanted = st.query_params.get("job") or st.session_state.get("finetune.selected_job")
    selected = st.selectbox(
        "Job",
        ids,
        index=ids.index(wanted) if wanted in ids else 0,
        # No status in the label: it changes while the page is open, and the label would go stale.
        format_func=lambda job_id: f"{by_id[job_id].title or 'Untitled'} · {job_id}",
        key="finetune.jobs.selected",
    )
    # In the address bar, so a refresh or a shared link opens the same job.
    st.query_params["job"] = selected

    @st.fragment(run_every=LIVE_REFRESH_SECONDS)
    def live_view(job_id: str) -> None:
        with user_errors():
            view = jobs.view_job(job_id, owner)
            finetune.show_progress(view)
            if view.job.is_finished:
                st.rerun(scope="app")
            if st.button("Cancel job", key=f"finetune.cancel.{job_id}", icon=":material/stop_circle:"):
                jobs.cancel_job(job_id, owner)
                st.toast("Cancelling: training stops at its next step.", icon=":material/stop_circle:")

    if not by_id[selected].is_finished:
        live_view(selected)
    else:
        with user_errors():
            view = jobs.view_job(selected, owner)
            finetune.show_progress(view)
            if view.job.status == "succeeded":
                finetune.show_report(view)
                finetune.show_model_actions(view)
            with st.expander("Delete this job", icon=":material/delete:"):
                st.caption("Removes its data, model and download. This cannot be undone.")
                confirmed = st.checkbox("Yes, delete it", key=f"finetune.delete_confirm.{selected}")
                if st.button("Delete", key=f"finetune.delete.{selected}", disabled=not confirmed):
                    jobs.delete_job(selected, owner)
                    del st.query_params["job"]
                    st.rerun()

    finished = [job for job in listed if job.status == "succeeded"]
    if len(finished) >= 2:
        st.subheader("Compare runs")
        chosen = st.multiselect(
            "Runs",
            [job.id for job in finished],
            default=[job.id for job in finished[:3]],
            format_func=lambda job_id: by_id[job_id].title or job_id,
            key="finetune.compare",
        )
        rows = jobs.compare_jobs(chosen, owner)
        if rows:
            st.plotly_chart(figures.build_comparison_figure(rows, jobs.COMPARED_METRICS), key="finetune.compare_chart")
            st.dataframe(rows, hide_index=True)
