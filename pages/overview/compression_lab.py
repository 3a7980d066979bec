"""Compression lab: every variant of one model, measured on this machine, on one chart and one table."""

import datetime as dt

import pandas as pd
import streamlit as st

from backend import model_registry, uploads
from backend.arena import compare
from backend.i18n import _, use_language
from backend.inference import compression_lab
from backend.jobs import manage, tables
from backend.market import briefing
from backend.market.figure_layout import png_config
from backend.models.resolve import catalogue
from backend.text_safety import plain_markdown
from pages.components import job_monitor
from pages.components.auth import current_owner
from pages.components.compare import pick_labelled_images, pick_labelled_table, read_image_set
from pages.components.errors import user_errors

KEY = "lab"
st.title(_("Compression lab"))
st.caption(
    _(
        "Each variant of a model (float32, bfloat16, int8, ONNX Runtime, CTranslate2, llama.cpp's GGUF Q8_0 "
        "and Q4_K_M) runs in its own process on this machine, on the same fixed inputs, and is compared with "
        "full precision: its size, the memory its load takes, its speed, and whether its answers agree. "
        "With a labelled set, each variant's accuracy (or chrF) is measured too."
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
labelled = labelled_images = None
if task in compression_lab.LABELLED_TASKS:
    with st.expander(_("Labelled set (optional): accuracy per variant"), icon=":material/fact_check:"):
        if task == catalogue.IMAGE_CLASSIFICATION:
            labelled_images = pick_labelled_images(f"{KEY}.{task}")
        else:
            labelled = pick_labelled_table(f"{KEY}.{task}", reference=task == catalogue.TRANSLATION)
if st.button(_("Measure every variant"), key=f"{KEY}.start", icon=":material/speed:", type="primary"):
    with user_errors():
        held_out = compression_lab.LabelledSet(*labelled) if labelled else None
        if labelled_images is not None:
            held_out = compression_lab.LabelledSet(*read_image_set(labelled_images))
        job = compression_lab.submit_lab_job(
            compression_lab.LabRequest(task, typed.strip() or picked), owner, labelled=held_out
        )
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
scores, unknown = ({}, [])
if "labelled" in lab:
    with user_errors():
        scores, unknown = compare.score_outputs(
            lab["labelled"]["truth"], lab["labelled"]["outputs"], lab["task"] == catalogue.TRANSLATION
        )
rows = compression_lab.with_scores(lab["rows"], scores)
figure = compression_lab.lab_figure(lab, rows)
st.plotly_chart(figure, config=png_config(f"compression-lab-{job.id}"), key=f"{KEY}.chart")
st.caption(
    _(
        "Green: agrees with float32 within the stated tolerances; red: does not (the table says why). "
        "A larger marker took more memory to load."
    )
)
if scores:
    st.caption(
        _("Accuracy, macro-F1 and chrF on your {rows:,} labelled rows, with bootstrap 95% intervals.").format(
            rows=len(lab["labelled"]["truth"])
        )
    )
if unknown:
    st.warning(
        _(
            "No variant ever predicts these labels of your set: {labels}. Does the set name its classes differently?"
        ).format(labels=", ".join(unknown[:10])),
        icon=":material/label_off:",
    )
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
header, cells = compression_lab.table_cells(rows)
title = _("Compression lab: {model}").format(model=model_registry.display_name(lab["model"]))
left, right = st.columns(2)
left.download_button(
    _("Download the table (CSV)"),
    data=uploads.to_safe_csv(pd.DataFrame(rows)),
    file_name=f"compression-lab-{job.id}.csv",
    mime="text/csv",
    key=f"{KEY}.csv",
    icon=":material/download:",
)
right.download_button(
    _("Download the briefing (HTML)"),
    data=briefing.build_briefing_html(
        [briefing.BriefingChart.of(figure, [], 0, fallback=title)],
        generated=dt.datetime.now(dt.UTC),
        filters=_("{task} · {model}").format(task=lab["task"], model=model_registry.display_name(lab["model"])),
        title=title,
        tables=[briefing.BriefingTable(_("Every variant"), lab["machine"].get("cpu", ""), header, cells)],
        origin=_("Compression lab"),
    ).encode("utf-8"),
    file_name=f"compression-lab-{job.id}.html",
    mime="text/html",
    key=f"{KEY}.briefing",
    icon=":material/description:",
)
st.subheader(_("Variants"))
request = compression_lab.LabRequest(lab["task"], lab["model"])
for row in rows:
    card, archive = compression_lab.variant_files(job, str(row["variant"]))
    if card is None:
        continue
    # In the language of whoever started the run, as the job wrote it, with the labelled set's scores.
    with use_language(job.language):
        text = compression_lab.card_text(request, row, lab["machine"])
    with st.expander(f"{plain_markdown(str(row['label']))}: {plain_markdown(str(row['agreement']))}"):
        st.text(text)  # the card's own lines, as plain text (it names the user's model)
        st.download_button(_("Card"), text.encode("utf-8"), file_name=card.name, key=f"{KEY}.card.{row['variant']}")
        if archive is not None:
            st.download_button(
                _("Variant (zip)"), archive.read_bytes(), file_name=archive.name, key=f"{KEY}.zip.{row['variant']}"
            )
