"""Job lists and progress as the UI shows them: tables and short texts (no Streamlit here)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from backend.jobs.store import Job


def _when(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M") if timestamp else ""


def jobs_table(jobs: list[Job]) -> pd.DataFrame:
    """One row per job for the jobs list."""
    return pd.DataFrame(
        [
            {
                "title": job.title or job.id,
                "status": job.status,
                "task": job.task,
                "method": job.method,
                "base model": job.base_model,
                "created (UTC)": _when(job.created),
                "progress": round(job.progress * 100),
                "accuracy": job.metrics.get("accuracy"),
                "macro F1": job.metrics.get("f1"),
                # Chat-tuning jobs have no accuracy; their validation loss after tuning stands in.
                "val loss": job.metrics.get("val_loss"),
                "job": job.id,
            }
            for job in jobs
        ]
    )


def format_eta(seconds: float | None) -> str:
    """'about 3 min left' style text; empty when unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"about {max(1, round(seconds))} s left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


def status_detail(job: Job) -> str:
    """The worker's message to show after the status word, or empty when it only repeats that word
    (a failed job's message is often just "Failed", which read "Failed · Failed")."""
    message = job.message.strip()
    return "" if message.lower() == job.status.lower() else message


def progress_text(job: Job) -> str:
    """The progress bar's text for a running job, saying what the job does when steps say nothing:
    before the first step it is loading its base model; after the last it is evaluating."""
    if job.total_steps <= 0:
        return "Loading the base model…"
    if job.step >= job.total_steps:
        return f"Step {job.step:,} of {job.total_steps:,} · Evaluating…"
    eta = format_eta(job.eta_seconds)
    return f"Step {job.step:,} of {job.total_steps:,} · epoch {job.epoch:.1f}" + (f" · {eta}" if eta else "")
