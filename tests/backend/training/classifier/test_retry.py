"""Retrying a failed or cancelled training job: a new queued job, same parameters and data, copied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.errors import InvalidInputError
from backend.jobs import queue
from backend.jobs.store import CANCELLED, FAILED, SUCCEEDED, JobStore
from backend.training.classifier import staging
from backend.training.classifier import studio as classifier_studio
from backend.training.classifier.datasets import DATASET_FILE, PreparedDataset
from backend.training.classifier.params import FAST, TrainingParams
from backend.training.common import DATA_FOLDER
from tests.support.training_data import colour_folders_zip, learnable_texts, prepared_texts

pytestmark = pytest.mark.usefixtures("made_up_bases_downloaded")

TEXT_PARAMS = TrainingParams("text", FAST, "org/sentence-model", title="Tickets", epochs=3)
IMAGE_PARAMS = TrainingParams("image", FAST, "org/vit", title="Colours")


def _failed_text_job(local, status: str = FAILED):
    job = classifier_studio.submit_text_job(
        TEXT_PARAMS, prepared_texts(learnable_texts(per_class=10), TEXT_PARAMS), owner="ann", settings=local
    )
    store = JobStore(settings=local)
    store.claim(job.id)
    store.finish(job.id, status, error="boom" if status == FAILED else "")
    return store.require(job.id)


@pytest.mark.parametrize("status", [FAILED, CANCELLED])
def test_a_failed_or_cancelled_job_is_queued_again_with_the_same_params_and_data(local, status):
    old = _failed_text_job(local, status)
    new = classifier_studio.retry_job(old.id, "ann", local)
    assert new.id != old.id and new.status == "queued"
    assert (new.kind, new.task, new.method, new.owner, new.title) == (old.kind, old.task, old.method, "ann", "Tickets")
    assert new.params == old.params and new.dataset == {**old.dataset, "retries": 1}
    assert new.run_dir != old.run_dir
    before = PreparedDataset.load(Path(old.run_dir) / DATA_FOLDER)
    after = PreparedDataset.load(Path(new.run_dir) / DATA_FOLDER)
    assert after.train == before.train and after.validation == before.validation and after.classes == before.classes
    assert after.data_dir == str(Path(new.run_dir) / DATA_FOLDER)
    assert queue.pending_count(local) == 2  # the original's queue entry is never consumed in this test
    # The failed job stays, for reference.
    assert JobStore(settings=local).require(old.id).status == status


def test_another_owner_cannot_retry_it(local):
    old = _failed_text_job(local)
    with pytest.raises(InvalidInputError, match="No job"):
        classifier_studio.retry_job(old.id, "bob", local)
    assert [job.id for job in JobStore(settings=local).list_jobs()] == [old.id]


@pytest.mark.parametrize("status", ["queued", "running", SUCCEEDED])
def test_a_job_that_did_not_fail_cannot_be_retried(local, status):
    job = classifier_studio.submit_text_job(
        TEXT_PARAMS, prepared_texts(learnable_texts(per_class=10), TEXT_PARAMS), owner="ann", settings=local
    )
    store = JobStore(settings=local)
    if status != "queued":
        store.claim(job.id)
    if status == SUCCEEDED:
        store.finish(job.id, SUCCEEDED)
    with pytest.raises(InvalidInputError, match="only a failed or cancelled job"):
        classifier_studio.retry_job(job.id, "ann", local)
    assert [j.id for j in store.list_jobs()] == [job.id]


def test_retried_images_are_reused_not_moved(local):
    prepared = staging.check_image_data("colours.zip", colour_folders_zip(per_class=6), settings=local)
    old = classifier_studio.submit_image_job(IMAGE_PARAMS, prepared, owner="ann", settings=local)
    JobStore(settings=local).claim(old.id)
    JobStore(settings=local).finish(old.id, FAILED, error="boom")
    new = classifier_studio.retry_job(old.id, "ann", local)
    for job in (old, new):
        data_dir = Path(job.run_dir) / DATA_FOLDER
        stored = PreparedDataset.load(data_dir)
        assert all((data_dir / path).is_file() for path in stored.train.inputs + stored.validation.inputs)
    assert PreparedDataset.load(Path(new.run_dir) / DATA_FOLDER).train.inputs == prepared.train.inputs
    # Reused, not copied: the retry's images are the first run's files (hard links).
    first = prepared.train.inputs[0]
    assert (Path(new.run_dir) / DATA_FOLDER / first).samefile(Path(old.run_dir) / DATA_FOLDER / first)
    # Its dataset file was written anew (beside, then renamed over), so the first run's is untouched.
    written = json.loads((Path(old.run_dir) / DATA_FOLDER / DATASET_FILE).read_text(encoding="utf-8"))
    assert written["data_dir"] == str(Path(old.run_dir) / DATA_FOLDER)
    # A second retry still finds the old job's images.
    assert classifier_studio.retry_job(old.id, "ann", local).status == "queued"


def test_a_job_whose_data_is_gone_is_not_retried(local):
    old = _failed_text_job(local)
    (Path(old.run_dir) / DATA_FOLDER / "dataset.json").unlink()
    with pytest.raises(InvalidInputError, match="no longer there"):
        classifier_studio.retry_job(old.id, "ann", local)
    assert len(JobStore(settings=local).list_jobs()) == 1
