"""Job lists and progress as the UI shows them: tables and short texts (no Streamlit here)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd

from backend.i18n import LANGUAGES, N_, _, translated
from backend.jobs.store import CANCELLED, FAILED, SUCCEEDED, Job

# A job's status as people read it (the stored status is the English word).
STATUS_WORDS: dict[str, str] = {
    "queued": N_("queued"),
    "running": N_("running"),
    "succeeded": N_("succeeded"),
    "failed": N_("failed"),
    "cancelled": N_("cancelled"),
}

# The worker's last line for a job that ended with nothing more to say (made in the language of whoever
# started the job): it only repeats the status word, so it is not shown after it.
END_LINES: dict[str, str] = {SUCCEEDED: N_("Finished"), FAILED: N_("Failed"), CANCELLED: N_("Cancelled")}


def _when(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M") if timestamp else ""


# A headline figure a job does not have (yet, or at all): a dash in every language, never "None".
NO_FIGURE = "—"


def _figure(value: float | None) -> str:
    return NO_FIGURE if value is None else f"{value:.4g}"


def _share(value: float | None) -> str:
    # As the job's report shows it (100.0%), not as a fraction ("1") beside that report.
    return NO_FIGURE if value is None else f"{value:.1%}"


def jobs_table(
    jobs: list[Job], task_title: Callable[[str], str] = str, method_title: Callable[[str], str] = str
) -> pd.DataFrame:
    """One row per job for the jobs list; ``task_title`` and ``method_title`` say a job's task and
    method as people read them (the jobs package knows no task: the studio's titles are passed in)."""
    return pd.DataFrame(
        [
            {
                N_("title"): job.title or job.id,
                N_("status"): _(STATUS_WORDS.get(job.status, job.status)),
                N_("task"): task_title(job.task),
                N_("method"): method_title(job.method),
                N_("base model"): job.base_model,
                N_("created (UTC)"): _when(job.created),
                N_("progress"): round(job.progress * 100),
                N_("accuracy"): _share(job.metrics.get("accuracy")),
                N_("macro F1"): _share(job.metrics.get("f1")),
                # Chat-tuning jobs have no accuracy; their validation loss after tuning stands in.
                N_("val loss"): _figure(job.metrics.get("val_loss")),
                N_("job"): job.id,
            }
            for job in jobs
        ]
    )


def format_eta(seconds: float | None) -> str:
    """'about 3 min left' style text; empty when unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return _("about {seconds} s left").format(seconds=max(1, round(seconds)))
    if seconds < 3600:
        return _("about {minutes} min left").format(minutes=round(seconds / 60))
    return _("about {hours:.1f} h left").format(hours=seconds / 3600)


def status_detail(job: Job) -> str:
    """The worker's message to show after the status word, or empty when it only repeats that word
    (a failed job's message is often just "Failed", which read "Failed · Failed")."""
    message = job.message.strip()
    end_line = END_LINES.get(job.status)
    repeats = {job.status.lower()} | ({translated(end_line, lang).lower() for lang in LANGUAGES} if end_line else set())
    return "" if message.lower() in repeats else message


def progress_text(job: Job) -> str:
    """The progress bar's text for a running job, saying what the job does when steps say nothing:
    before the first step it is loading its base model; after the last it is evaluating."""
    if job.total_steps <= 0:
        return _("Loading the base model…")
    if job.step >= job.total_steps:
        return _("Step {step:,} of {total:,} · Evaluating…").format(step=job.step, total=job.total_steps)
    eta = format_eta(job.eta_seconds)
    step = _("Step {step:,} of {total:,} · epoch {epoch:.1f}").format(
        step=job.step, total=job.total_steps, epoch=job.epoch
    )
    return step + (f" · {eta}" if eta else "")
