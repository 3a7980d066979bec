"""The training jobs page's widgets: each job kind's view, looked up by the job's kind, and the
progress every kind shows the same way.

A kind's view says how its running job draws its curves, how its finished job shows its report
and its downloads, how it is retried, and whether its runs compare on accuracy and F1 (chat and
preference runs have neither). The page asks ``KIND_VIEWS[job.kind]`` rather than branching on the kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from backend.i18n import _
from backend.jobs import tables
from backend.jobs.manage import JobView
from backend.jobs.store import Job
from backend.text_safety import plain_markdown
from backend.training.chat import studio as chat_studio
from backend.training.chat.params import CHAT
from backend.training.classifier import studio as classifier_studio
from backend.training.classifier.runner import TRAIN
from backend.training.common import PREFERENCE
from backend.training.preference import studio as preference_studio
from pages.components import chat_tuning, finetune, job_monitor, preference_tuning

STATUS_ICONS = {
    "queued": ":material/hourglass_top:",
    "running": ":material/model_training:",
    "succeeded": ":material/check_circle:",
    "failed": ":material/error:",
    "cancelled": ":material/cancel:",
}


@dataclass(frozen=True)
class KindView:
    """How the training jobs page shows one kind of job.

    Attributes:
        show_curves: the curves of a running or finished job.
        show_report: a succeeded job's report.
        show_model_actions: a succeeded job's downloads and the way to its demo.
        retry: ``retry(job_id, owner)`` queues a copy of a failed or cancelled job.
        compared: whether its succeeded runs take part in *Compare runs*.
    """

    show_curves: Callable[[JobView], None]
    show_report: Callable[[JobView], None]
    show_model_actions: Callable[[JobView], None]
    retry: Callable[[str, str], Job]
    compared: bool


KIND_VIEWS: dict[str, KindView] = {
    TRAIN: KindView(
        finetune.show_curves,
        finetune.show_report,
        finetune.show_model_actions,
        classifier_studio.retry_job,
        compared=True,
    ),
    CHAT: KindView(
        chat_tuning.show_progress_chart,
        chat_tuning.show_report,
        chat_tuning.show_model_actions,
        chat_studio.retry_chat_job,
        compared=False,
    ),
    PREFERENCE: KindView(
        preference_tuning.show_progress_chart,
        preference_tuning.show_report,
        chat_tuning.show_model_actions,  # the same downloads and demo as a tuned chat model
        preference_studio.retry_preference_job,
        compared=False,
    ),
}


def show_progress(view: JobView) -> None:
    """Status line, queue position, progress bar with ETA, and the curves so far."""
    job = view.job
    detail = tables.status_detail(job)
    status = _(tables.STATUS_WORDS.get(job.status, job.status))
    st.markdown(
        f"{STATUS_ICONS.get(job.status, '')} **{status[:1].upper()}{status[1:]}**"
        + (f" · {plain_markdown(detail)}" if detail else "")
    )
    if job.status == "queued":
        job_monitor.show_queue_wait(view, _("Waiting in the queue: {ahead}. One job trains at a time per worker."))
    if job.status == "running":
        st.progress(job.progress, text=tables.progress_text(job))
    if job.status == "failed":
        st.error(plain_markdown(job.error or _("The job failed.")), icon=":material/error:")
    KIND_VIEWS[job.kind].show_curves(view)
    with st.expander(_("Log"), icon=":material/receipt_long:"):
        st.code("\n".join(line["text"] for line in view.logs[-100:]) or _("(empty)"), language=None)
