"""New training job: upload labelled data, map columns, check it, pick a base model and method, submit."""

import streamlit as st

from backend.training import jobs
from backend.training.datasets import guess_columns
from backend.training.params import FAST, FULL, IMAGE, TEXT
from pages.components import finetune, job_monitor
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

frame = validation_frame = None
text_column = label_column = ""
drop_incomplete = False
image_upload = None
if task == TEXT:
    upload = st.file_uploader(
        "Training table",
        type=["csv", "tsv", "txt", "jsonl", "json", "xlsx"],
        key="finetune.table",
        help="One row per example: a text column and a label column. Labels can be words or numbers.",
    )
    validation_upload = st.file_uploader(
        "Validation table (optional)",
        type=["csv", "tsv", "txt", "jsonl", "json", "xlsx"],
        key="finetune.validation_table",
        help="Same columns. Without it, a stratified share of the training table is held out.",
    )
    if upload is not None:
        with user_errors():
            frame = finetune.read_uploaded_table(upload.name, upload.getvalue())
            if validation_upload is not None:
                validation_frame = finetune.read_uploaded_table(validation_upload.name, validation_upload.getvalue())
    if frame is not None:
        st.dataframe(frame.head(20), hide_index=True, height=220)
        st.caption(f"{len(frame):,} rows · first 20 shown")
        guessed_text, guessed_label = guess_columns(frame)
        columns = [str(c) for c in frame.columns]
        left, right = st.columns(2)
        text_column = left.selectbox(
            "Text column", columns, index=columns.index(guessed_text), key="finetune.text_column"
        )
        label_column = right.selectbox(
            "Label column", columns, index=columns.index(guessed_label), key="finetune.label_column"
        )
        drop_incomplete = st.checkbox("Drop rows with an empty text or label", key="finetune.drop_incomplete")
else:
    image_upload = st.file_uploader(
        "Images (zip)",
        type=["zip"],
        key="finetune.zip",
        help="One folder per class (cat/1.jpg, dog/2.png…), or any layout plus a CSV with file name and label columns.",
    )

method = st.radio("Method", (FAST, FULL), format_func=finetune.METHOD_LABELS.get, key="finetune.method")
base_model = finetune.pick_base_model(task, method, "finetune")
params = finetune.pick_parameters(task, method, base_model, "finetune")

ready = frame is not None if task == TEXT else image_upload is not None
check_column, submit_column = st.columns(2)
check = check_column.button("Check data", key="finetune.check", icon=":material/fact_check:", disabled=not ready)
submit = submit_column.button(
    "Start training", type="primary", key="finetune.submit", icon=":material/rocket_launch:", disabled=not ready
)

if not ready:
    st.info("Upload your data to continue.", icon=":material/upload_file:")
if check:
    with user_errors(), st.spinner("Checking the data…"):
        if task == TEXT:
            prepared = jobs.check_text_data(
                frame,
                text_column,
                label_column,
                validation_frame,
                params.validation_fraction,
                params.max_length,
                drop_incomplete,
            )
        else:
            prepared = jobs.check_image_data(image_upload.name, image_upload.getvalue(), params.validation_fraction)
        finetune.show_data_summary(prepared)
if submit:
    with user_errors(), st.spinner("Checking the data and queuing the job…"):
        if task == TEXT:
            job = jobs.submit_text_job(
                params, frame, text_column, label_column, validation_frame, drop_incomplete, owner=current_owner()
            )
        else:
            job = jobs.submit_image_job(params, image_upload.name, image_upload.getvalue(), owner=current_owner())
        job_monitor.start_worker_if_needed()
        st.session_state["finetune.selected_job"] = job.id
        st.success(f"Job queued: {job.title or job.id}.", icon=":material/check_circle:")
        st.page_link(
            "pages/finetune/jobs.py", label="Watch it train", icon=":material/monitoring:", query_params={"job": job.id}
        )
