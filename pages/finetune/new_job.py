"""New training job: upload labelled data (or conversations, or preference pairs), map columns, check it,
pick a base model and method, submit."""

import streamlit as st

from backend.i18n import N_, _
from backend.text_safety import plain_markdown
from backend.training.chat.params import CHAT
from backend.training.classifier.params import IMAGE, TEXT
from backend.training.common import PREFERENCE
from pages.components import chat_tuning, finetune, job_monitor, preference_tuning

st.title(_("New training job"))
st.caption(
    _(
        "Train your own classifier on your labelled data, or tune a chat model on your conversations. Training runs in a background worker: you can "
        "close or refresh this tab and find the job under **Training jobs**."
    )
)

task = st.radio(
    _("What to train"),
    (TEXT, IMAGE, CHAT, PREFERENCE),
    format_func=lambda task: _(
        {
            TEXT: N_("Text classifier (CSV, TSV, JSONL, JSON, XLSX)"),
            IMAGE: N_("Image classifier (zip)"),
            CHAT: N_("Chat model (conversations)"),
            PREFERENCE: N_("Chat model by preference (DPO on chosen/rejected pairs)"),
        }[task]
    ),
    horizontal=True,
    key="finetune.task",
)


def _queued(job) -> None:  # noqa: ANN001 - a backend Job
    job_monitor.start_worker_if_needed()
    st.session_state["finetune.selected_job"] = job.id
    st.success(
        _("Job queued: {value}.").format(value=plain_markdown(job.title or job.id)), icon=":material/check_circle:"
    )
    st.page_link(
        "pages/finetune/jobs.py",
        label=_("Watch it train"),
        icon=":material/monitoring:",
        query_params={"job": job.id},
    )


# Each kind of model has its own form; the page only picks it and reports what was queued.
NEW_JOB_FORMS = {
    TEXT: lambda: finetune.show_new_job_form(TEXT, "finetune"),
    IMAGE: lambda: finetune.show_new_job_form(IMAGE, "finetune"),
    CHAT: lambda: chat_tuning.show_new_job_form("finetune.chat"),
    PREFERENCE: lambda: preference_tuning.show_new_job_form("finetune.preference"),
}
queued = NEW_JOB_FORMS[task]()
if queued is not None:
    _queued(queued)
