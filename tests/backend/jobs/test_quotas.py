"""Job quotas: waiting jobs per visitor and per workspace, retries, stored input; retries reuse input."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from backend.errors import InvalidInputError
from backend.inference import batch as batch_jobs
from backend.inference.batch import BatchRequest
from backend.jobs import quotas
from backend.jobs.store import FAILED, JobStore
from backend.models.resolve import catalogue

REVIEWS = pd.DataFrame({"review": ["Great phone", "Slow delivery"]})


def _request() -> BatchRequest:
    return BatchRequest(catalogue.TRANSLATION, "org/opus", "review", "reviews.csv", target_language="zh")


def _fail(local, job_id: str) -> None:
    store = JobStore(settings=local)
    store.claim(job_id)
    store.finish(job_id, FAILED, error="boom")


def test_one_visitor_may_leave_only_a_few_jobs_waiting_and_others_still_may(local):
    with quotas.acting_for("203.0.113.7"):
        for _ in range(quotas.MAX_WAITING_PER_CLIENT):
            batch_jobs.submit_batch_job(_request(), REVIEWS, settings=local)
        with pytest.raises(InvalidInputError) as refused:
            batch_jobs.submit_batch_job(_request(), REVIEWS, settings=local)
    assert refused.value.message == (
        f"You have {quotas.MAX_WAITING_PER_CLIENT} jobs waiting or running; that is the most one visitor may have."
    )
    # Nothing half-made: the refused job has no row and no folder.
    assert len(JobStore(settings=local).list_jobs()) == quotas.MAX_WAITING_PER_CLIENT
    assert len(list(local.runs_dir.iterdir())) == quotas.MAX_WAITING_PER_CLIENT
    with quotas.acting_for("198.51.100.2"):
        batch_jobs.submit_batch_job(_request(), REVIEWS, settings=local)


def test_the_workspace_bound_holds_whatever_the_number_of_visitors(local, monkeypatch):
    monkeypatch.setattr(quotas, "MAX_WAITING_PER_WORKSPACE", 4)
    for index in range(4):
        with quotas.acting_for(f"192.0.2.{index}"):
            batch_jobs.submit_batch_job(_request(), REVIEWS, owner="team", settings=local)
    with quotas.acting_for("192.0.2.99"), pytest.raises(InvalidInputError) as refused:
        batch_jobs.submit_batch_job(_request(), REVIEWS, owner="team", settings=local)
    assert "This workspace has 4 jobs waiting or running; at most 4 may wait." in refused.value.message
    # Another workspace is not affected.
    batch_jobs.submit_batch_job(_request(), REVIEWS, owner="other", settings=local)


def test_a_run_is_retried_a_few_times_at_most_and_each_retry_reuses_its_input(local):
    job = batch_jobs.submit_batch_job(_request(), REVIEWS, settings=local)
    first_input = Path(job.run_dir) / batch_jobs.INPUT_FILE
    for attempt in range(1, quotas.MAX_RETRIES + 1):
        _fail(local, job.id)
        job = batch_jobs.retry_batch_job(job.id, "", local)
        assert job.dataset["retries"] == attempt
        again = Path(job.run_dir) / batch_jobs.INPUT_FILE
        assert os.path.samefile(again, first_input), "a retry links its input, no second copy"
    _fail(local, job.id)
    with pytest.raises(InvalidInputError) as refused:
        batch_jobs.retry_batch_job(job.id, "", local)
    assert (
        refused.value.message
        == f"This run was retried {quotas.MAX_RETRIES} times already; that is the limit for one run."
    )
    assert first_input.stat().st_nlink == quotas.MAX_RETRIES + 1


def test_stored_input_is_bounded_per_visitor_with_the_bound_in_words(local, monkeypatch):
    monkeypatch.setattr(quotas, "MAX_STORED_BYTES_PER_CLIENT", 1)
    with quotas.acting_for("203.0.113.50"):
        job = batch_jobs.submit_batch_job(_request(), REVIEWS, settings=local)
        _fail(local, job.id)
        with pytest.raises(InvalidInputError) as refused:
            batch_jobs.submit_batch_job(_request(), REVIEWS, settings=local)
    assert refused.value.message.startswith("Your runs store 0 MB of data; one visitor may store 0 MB.")
