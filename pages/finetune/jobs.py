"""Training jobs: every job of this workspace, a live view of one, its results, and run comparison."""

import streamlit as st

from backend.i18n import _
from backend.jobs import manage, tables
from backend.jobs.store import STATUSES, JobStore
from backend.jobs.submit import RETRYABLE
from backend.training import figures, titles
from backend.training.classifier import studio as classifier_studio
from pages.components import job_monitor, models, training_jobs
from pages.components.auth import current_owner
from pages.components.errors import user_errors


def _job_label(job) -> str:  # noqa: ANN001 - a backend Job
    untitled = _("Untitled")
    return f"{job.title or untitled} · {job.id}"


st.title(_("Training jobs"))
st.caption(
    _(
        "Jobs live on the server, not in this tab: refresh, open a second tab or come back tomorrow and they "
        "are all here. A running job updates every few seconds."
    )
)
owner = current_owner()

left, right = st.columns(2)
statuses = left.multiselect(_("Status"), STATUSES, key="finetune.jobs.status", placeholder=_("any status"))
task = right.selectbox(
    _("Task"),
    ("all", *titles.JOB_TASK_TITLES),
    format_func=lambda task: _("all tasks") if task == "all" else titles.task_title(task),
    key="finetune.jobs.task",
)
listed = []
with user_errors():
    listed = classifier_studio.list_jobs(owner, tuple(statuses), None if task == "all" else task)
    # Once, after the job database was found damaged and rebuilt from the run folders.
    recovered = JobStore().take_recovery_notice()
    if recovered:
        st.warning(recovered, icon=":material/build:")
if any(not job.is_finished for job in listed):
    # Also marks jobs of dead workers as failed (listing only reads).
    job_monitor.start_worker_if_needed()

if not listed and (statuses or task != "all"):
    st.info(_("No jobs match these filters."), icon=":material/filter_alt_off:")
elif not listed:
    st.info(_("No training jobs here yet."), icon=":material/inbox:")
    st.page_link("pages/finetune/new_job.py", label=_("Start a training job"), icon=":material/add_circle:")
else:
    st.dataframe(
        tables.jobs_table(listed, titles.task_title, titles.method_title).rename(columns=_),
        hide_index=True,
        column_config={
            _("progress"): st.column_config.ProgressColumn(_("progress"), min_value=0, max_value=100, format="%d%%")
        },
    )
    ids = [job.id for job in listed]
    by_id = {job.id: job for job in listed}
    wanted = st.query_params.get("job") or st.session_state.get("finetune.selected_job")
    selected = st.selectbox(
        _("Job"),
        ids,
        index=ids.index(wanted) if wanted in ids else 0,
        # No status in the label: it changes while the page is open, and the label would go stale.
        format_func=lambda job_id: _job_label(by_id[job_id]),
        key="finetune.jobs.selected",
    )
    # In the address bar, so a refresh or a shared link opens the same job.
    st.query_params["job"] = selected

    if not by_id[selected].is_finished:
        job_monitor.show_live(
            selected,
            "finetune",
            training_jobs.show_progress,
            _("Cancel job"),
            _("Cancelling: training stops at its next step."),
            drawn_status=by_id[selected].status,
        )
    else:
        with user_errors():
            view = manage.view_job(selected, owner)
            training_jobs.show_progress(view)
            kind_view = training_jobs.KIND_VIEWS[view.job.kind]
            if view.job.status == "succeeded":
                kind_view.show_report(view)
                kind_view.show_model_actions(view)
            elif view.job.status in RETRYABLE and st.button(
                _("Retry"),
                key=f"finetune.retry.{selected}",
                icon=":material/replay:",
                help=_("Queue it again, same data."),
            ):
                # A new job with the same parameters and data; this one stays, for reference.
                retried = kind_view.retry(selected, owner)
                job_monitor.start_worker_if_needed()
                st.session_state["finetune.selected_job"] = retried.id
                st.query_params["job"] = retried.id
                st.session_state.pop("finetune.jobs.selected", None)
                st.rerun()
            with st.expander(_("Delete this job"), icon=":material/delete:"):
                st.caption(_("Removes its data, model and download. This cannot be undone."))
                confirmed = st.checkbox(_("Yes, delete it"), key=f"finetune.delete_confirm.{selected}")
                if st.button(_("Delete"), key=f"finetune.delete.{selected}", disabled=not confirmed):
                    # Evicted from the shared cache too, so the deleted model cannot be served on.
                    manage.delete_job(selected, owner, cache=models.model_cache())
                    del st.query_params["job"]
                    st.rerun()

    finished = [job for job in listed if job.status == "succeeded" and training_jobs.KIND_VIEWS[job.kind].compared]
    if len(finished) >= 2:
        st.subheader(_("Compare runs"))
        chosen = st.multiselect(
            _("Runs"),
            [job.id for job in finished],
            default=[job.id for job in finished[:3]],
            # A retry keeps its run's title; the id tells the two apart.
            format_func=lambda job_id: _job_label(by_id[job_id]),
            placeholder=_("Pick the runs to compare"),
            key="finetune.compare",
        )
        rows = classifier_studio.compare_jobs(chosen, owner)
        if rows:
            st.plotly_chart(
                figures.build_comparison_figure(rows, classifier_studio.COMPARED_METRICS), key="finetune.compare_chart"
            )
            st.dataframe(figures.comparison_table(rows), hide_index=True)
