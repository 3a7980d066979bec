"""Retrying a failed or cancelled batch: a new queued run with the same options and a copy of its input."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from backend.errors import InvalidInputError
from backend.inference import batch as batch_jobs
from backend.inference.batch import BatchRequest
from backend.jobs.store import CANCELLED, FAILED, SUCCEEDED, JobStore
from backend.models.resolve import catalogue

REVIEWS = pd.DataFrame({"review": ["I love this phone", "质量太差了"]})


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _end(local, job_id: str, status: str) -> None:
    store = JobStore(settings=local)
    store.claim(job_id)
    store.finish(job_id, status, error="boom" if status == FAILED else "")


@pytest.mark.parametrize("status", [FAILED, CANCELLED])
def test_a_failed_or_cancelled_table_batch_is_queued_again_with_its_table(local, status):
    request = BatchRequest(
        catalogue.TRANSLATION, "org/opus", "review", "reviews.csv", target_language="zh", num_beams=3
    )
    old = batch_jobs.submit_batch_job(request, REVIEWS, owner="ann", settings=local)
    _end(local, old.id, status)
    new = batch_jobs.retry_batch_job(old.id, "ann", local)
    assert new.id != old.id and new.status == "queued" and new.owner == "ann"
    assert (new.kind, new.task, new.params, new.dataset, new.title) == (
        old.kind,
        old.task,
        old.params,
        {**old.dataset, "retries": 1},
        "reviews.csv",
    )
    old_input = (Path(old.run_dir) / batch_jobs.INPUT_FILE).read_text(encoding="utf-8")
    assert (Path(new.run_dir) / batch_jobs.INPUT_FILE).read_text(encoding="utf-8") == old_input
    assert JobStore(settings=local).require(old.id).status == status


def test_retried_images_are_copied_not_moved(local):
    files = [("cat.png", _png((200, 0, 0))), ("dog.png", _png((0, 200, 0)))]
    request = BatchRequest(catalogue.IMAGE_CLASSIFICATION, "org/vit", file_name="2 images")
    old = batch_jobs.submit_image_batch_job(request, files, owner="ann", settings=local)
    _end(local, old.id, FAILED)
    new = batch_jobs.retry_batch_job(old.id, "ann", local)
    for job in (old, new):
        folder = Path(job.run_dir) / batch_jobs.IMAGES_FOLDER
        assert [(folder / name).read_bytes() for name in ("000", "001")] == [data for _, data in files]


def test_another_owner_or_a_job_that_did_not_fail_cannot_be_retried(local):
    request = BatchRequest(catalogue.SENTIMENT, "org/sentiment", "review")
    job = batch_jobs.submit_batch_job(request, REVIEWS, owner="ann", settings=local)
    with pytest.raises(InvalidInputError, match="only a failed or cancelled"):
        batch_jobs.retry_batch_job(job.id, "ann", local)
    _end(local, job.id, SUCCEEDED)
    with pytest.raises(InvalidInputError, match="only a failed or cancelled"):
        batch_jobs.retry_batch_job(job.id, "ann", local)
    with pytest.raises(InvalidInputError, match="No job"):
        batch_jobs.retry_batch_job(job.id, "bob", local)
    assert [j.id for j in JobStore(settings=local).list_jobs()] == [job.id]
