"""Batch runs of the same size started in the same minute get labels that tell them apart."""

from __future__ import annotations

from backend.jobs.store import Job, JobStore, new_job_id
from backend.models.resolve import catalogue
from pages.components import batch


def test_runs_of_the_same_size_at_the_same_time_have_distinct_labels(local):
    store = JobStore(settings=local)
    jobs = []
    for retries in (0, 0, 1):
        job_id = new_job_id()
        dataset = {"rows": 12, **({"retries": retries} if retries else {})}
        jobs.append(
            store.create(
                Job(job_id, "batch", catalogue.SENTIMENT, str(local.runs_dir / job_id), title="r.csv", dataset=dataset)
            )
        )
    labels = [batch._label(job) for job in jobs]
    assert len(set(labels)) == 3
    assert labels[2].startswith("r.csv · 12 rows · ") and " · retry 1 · " in labels[2]
    assert labels[0].endswith(jobs[0].id[-6:])
