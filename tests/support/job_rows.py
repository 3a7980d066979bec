"""A queued training job's row, for the tests of the job store and what reads it (liveness, recovery)."""

from __future__ import annotations

from pathlib import Path

from backend.jobs.store import Job, JobStore, new_job_id

PARAMS = {"task": "text", "method": "fast", "base_model": "org/model", "title": "Reviews"}


def create_job(store: JobStore, folder: Path, owner: str = "") -> Job:
    """Record a queued job whose run folder would be ``folder / <its id>`` (the folder is not made)."""
    job_id = new_job_id()
    return store.create(
        Job(
            job_id,
            "train",
            "text",
            str(folder / job_id),
            owner=owner,
            title="Reviews",
            method="fast",
            base_model="org/model",
            params=PARAMS,
            dataset={"train_size": 10},
        )
    )
