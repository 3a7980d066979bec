"""New training job: upload labelled data, map columns, check it, pick a base model and method, submit."""

import streamlit as st

from backend.text_safety import plain_markdown
from backend.training import jobs
from backend.training.params import FAST, FULL, IMAGE, TEXT
from pages.components import finetune, job_monitor, training_data
from pages.components.auth import current_owner
from pages.components.errors import user_errors

st.title("New training job")
st.caption(
    "Train your own classifier on your labelled data. Training runs in a background worker: you can "
    "close or refresh this tab and find the job under **Training jobs**."
)

task = st.radio(
    "What to classify",
    (TEXT, IMAGE),
    format_func={TEXT: "Text (CSV, TSV, JSONL, JSON, XLSX)", IMAGE: "Images (zip)"}.get,
    horizontal=True,
    key="finetune.task",
)

data = training_data.show_text_data("finetune") if task == TEXT else training_data.show_image_zip("finetune")

method = st.radio("Method", (FAST, FULL), format_func=finetune.METHOD_LABELS.get, key="finetune.method")
base_model = finetune.pick_base_model(task, method, "finetune")
params = finetune.pick_parameters(task, method, base_model, "finetune")

check_column, submit_column = st.columns(2)
check = check_column.button("Check data", key="finetune.check", icon=":material/fact_check:", disabled=data is None)
submit = submit_column.button(
    "Start training", type="primary", key="finetune.submit", icon=":material/rocket_launch:", disabled=data is None
)

if data is None:
    st.info("Upload your data to continue.", icon=":material/upload_file:")
if check:
    # The base model is checked too (no download, no weights read), so a model that can never
    # load is reported here rather than by the worker after queuing.
    with user_errors():
        jobs.check_base_model(params, current_owner())
    with user_errors(), st.spinner("Checking the data…"):
        finetune.show_data_summary(training_data.check_data(data, params, "finetune"))
if submit:
    with user_errors(), st.spinner("Checking the data and queuing the job…"):
        # What Check data made, unless the data or settings changed since: then it is checked again.
        prepared = training_data.checked_data(data, params, "finetune")
        submit_job = jobs.submit_text_job if task == TEXT else jobs.submit_image_job
        job = submit_job(params, prepared, owner=current_owner())
        job_monitor.start_worker_if_needed()
        st.session_state["finetune.selected_job"] = job.id
        st.success(f"Job queued: {plain_markdown(job.title or job.id)}.", icon=":material/check_circle:")
        st.page_link(
            "pages/finetune/jobs.py", label="Watch it train", icon=":material/monitoring:", query_params={"job": job.id}
        )
