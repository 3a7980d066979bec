"""New training job: upload labelled data (or conversations), map columns, check it, pick a base model
and method, submit."""

import streamlit as st

from backend.text_safety import plain_markdown
from backend.training import chat_jobs, jobs
from backend.training.chat_params import CHAT
from backend.training.params import FAST, FULL, IMAGE, TEXT
from pages.components import chat_tuning, finetune, job_monitor, models, training_data
from pages.components.auth import current_owner
from pages.components.errors import user_errors

st.title("New training job")
st.caption(
    "Train your own classifier on your labelled data, or tune a chat model on your conversations. Training runs in a background worker: you can "
    "close or refresh this tab and find the job under **Training jobs**."
)

task = st.radio(
    "What to train",
    (TEXT, IMAGE, CHAT),
    format_func={
        TEXT: "Text classifier (CSV, TSV, JSONL, JSON, XLSX)",
        IMAGE: "Image classifier (zip)",
        CHAT: "Chat model (conversations)",
    }.get,
    horizontal=True,
    key="finetune.task",
)


def _queued(job) -> None:  # noqa: ANN001 - a backend Job
    job_monitor.start_worker_if_needed()
    st.session_state["finetune.selected_job"] = job.id
    st.success(f"Job queued: {plain_markdown(job.title or job.id)}.", icon=":material/check_circle:")
    st.page_link(
        "pages/finetune/jobs.py", label="Watch it train", icon=":material/monitoring:", query_params={"job": job.id}
    )


if task == CHAT:
    chat_data = chat_tuning.show_upload("finetune.chat")
    chat_base = chat_tuning.pick_base_model("finetune.chat")
    chat_params = chat_tuning.pick_parameters(chat_base, "finetune.chat")
    left, right = st.columns(2)
    chat_check = left.button(
        "Check data", key="finetune.chat.check", icon=":material/fact_check:", disabled=chat_data is None
    )
    chat_submit = right.button(
        "Start training",
        type="primary",
        key="finetune.chat.submit",
        icon=":material/rocket_launch:",
        disabled=chat_data is None,
    )
    if chat_data is None:
        st.info("Upload conversations to continue.", icon=":material/upload_file:")
    if chat_check:
        # The base model's tokenizer formats every conversation; its weights are not read.
        with user_errors(), st.spinner("Checking the conversations against the base model…"):
            chat_tuning.show_data_summary(chat_tuning.check_data(chat_data, chat_params, "finetune.chat"))
            models.show_base_availability(chat_params.base_model)
    if chat_submit:
        with user_errors(), st.spinner("Checking the data and queuing the job…"):
            checked = chat_tuning.checked_data(chat_data, chat_params, "finetune.chat")
            _queued(chat_jobs.submit_chat_job(chat_params, checked, owner=current_owner()))
    st.stop()

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
        models.show_base_availability(params.base_model)
    with user_errors(), st.spinner("Checking the data…"):
        finetune.show_data_summary(training_data.check_data(data, params, "finetune"))
if submit:
    with user_errors(), st.spinner("Checking the data and queuing the job…"):
        # What Check data made, unless the data or settings changed since: then it is checked again.
        prepared = training_data.checked_data(data, params, "finetune")
        submit_job = jobs.submit_text_job if task == TEXT else jobs.submit_image_job
        _queued(submit_job(params, prepared, owner=current_owner()))
