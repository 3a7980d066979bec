"""Compression lab: every variant of one model, measured on this machine, on one chart and one table."""

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from backend import model_registry
from backend.i18n import _
from backend.inference import compression_lab
from backend.jobs import manage, tables
from backend.market.figure_layout import png_config
from backend.models.resolve import catalogue
from backend.text_safety import plain_markdown
from pages.components import job_monitor
from pages.components.auth import current_owner
from pages.components.errors import user_errors

KEY = "lab"
st.title(_("Compression lab"))
st.caption(
    _(
        "Each variant of a model (float32, bfloat16, int8, ONNX Runtime, CTranslate2, llama.cpp's 8-bit GGUF) "
        "runs in its own process on this machine, on the same fixed inputs, and is compared with full "
        "precision: its size, the memory its load takes, its speed, and whether its answers agree."
    )
)
owner = current_owner()

left, right = st.columns(2)
task = left.selectbox(_("Task"), compression_lab.LAB_TASKS, format_func=catalogue.task_title, key=f"{KEY}.task")
catalogue_refs = [spec.hub_id for spec in catalogue.models_for(task)]
picked = right.selectbox(_("Model"), catalogue_refs, format_func=model_registry.display_name, key=f"{KEY}.model")
typed = st.text_input(
    _("Or a model folder (a fine-tuned run, a packaged or hand-placed model)"), key=f"{KEY}.folder", max_chars=400
)
if st.button(_("Measure every variant"), key=f"{KEY}.start", icon=":material/speed:", type="primary"):
    with user_errors():
        job = compression_lab.submit_lab_job(compression_lab.LabRequest(task, typed.strip() or picked), owner)
        st.session_state[f"{KEY}.job"] = job.id
        job_monitor.start_worker_if_needed()

jobs = []
with user_errors():
    jobs = compression_lab.list_lab_jobs(owner)
if not jobs:
    st.info(_("No lab runs yet: pick a model and measure it."), icon=":material/inbox:")
    st.stop()

by_id = {job.id: job for job in jobs}
wanted = st.session_state.get(f"{KEY}.job")
ids = list(by_id)
selected = st.selectbox(
    _("Run"),
    ids,
    index=ids.index(wanted) if wanted in ids else 0,
    format_func=lambda job_id: f"{by_id[job_id].title} · {job_id}",
    key=f"{KEY}.selected",
)


def _show_status(view: manage.JobView) -> None:
    job = view.job
    if job.status == "queued":
        job_monitor.show_queue_wait(view, _("Waiting for the worker: {ahead}."))
    else:
        text = _("{done} of {total} variants measured").format(done=job.step, total=job.total_steps or "?")
        st.progress(job.progress, text=text)


job = by_id[selected]
if not job.is_finished:
    job_monitor.show_live(selected, KEY, _show_status, _("Cancel"), _("Cancelling: the lab stops after this variant."))
    st.stop()
if job.status != "succeeded":
    st.error(plain_markdown(job.error or tables.status_detail(job) or job.status), icon=":material/error:")
    st.stop()

lab = compression_lab.read_lab(job)
if lab is None:
    st.error(_("The results of this run are missing from the server."), icon=":material/error:")
    st.stop()
frame = pd.DataFrame(lab["rows"])
measured = frame[frame["p50_ms"].notna()] if "p50_ms" in frame else frame.iloc[0:0]
figure = go.Figure(
    go.Scatter(
        x=measured["weights_mb"],
        y=measured["speedup"],
        mode="markers+text",
        text=measured["label"],
        textposition="top center",
        marker={"size": 14, "color": ["#2e7d32" if ok else "#c62828" for ok in measured["passed"]]},
        hovertext=measured["agreement"],
    )
)
figure.update_layout(
    title=_("{model} on {cpu}").format(
        model=model_registry.display_name(lab["model"]), cpu=lab["machine"].get("cpu", "")
    ),
    xaxis_title=_("Weights (MB)"),
    yaxis_title=_("Speed (x float32)"),
    yaxis_type="log",  # variants differ by orders of magnitude (ONNX Runtime against a contended torch)
    height=420,
)
st.plotly_chart(figure, config=png_config(f"compression-lab-{job.id}"), key=f"{KEY}.chart")
st.caption(_("Green: agrees with float32 within the stated tolerances; red: does not (the table says why)."))
st.dataframe(frame, hide_index=True, width="stretch")
st.download_button(
    _("Download the table (CSV)"),
    data=(Path(job.run_dir) / compression_lab.RESULT_CSV).read_bytes(),
    file_name=f"compression-lab-{job.id}.csv",
    mime="text/csv",
    key=f"{KEY}.csv",
    icon=":material/download:",
)
st.subheader(_("Variants"))
for row in lab["rows"]:
    card, archive = compression_lab.variant_files(job, str(row["variant"]))
    if card is None:
        continue
    with st.expander(f"{row['label']}: {plain_markdown(str(row['agreement']))}"):
        st.text(card.read_text(encoding="utf-8"))  # the card's own lines, as plain text (it names the user's model)
        st.download_button(_("Card"), card.read_bytes(), file_name=card.name, key=f"{KEY}.card.{row['variant']}")
        if archive is not None:
            st.download_button(
                _("Variant (zip)"), archive.read_bytes(), file_name=archive.name, key=f"{KEY}.zip.{row['variant']}"
            )
