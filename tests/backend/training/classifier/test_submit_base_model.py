"""A base model that can never load is refused when the job is submitted, not by the worker."""

from __future__ import annotations

import shutil

import pytest

from backend.errors import ModelUnavailableError, UnsafeModelError
from backend.jobs import queue
from backend.jobs.store import JobStore
from backend.training.classifier import staging
from backend.training.classifier import studio as classifier_studio
from backend.training.classifier.params import FAST, FULL, TrainingParams
from tests.support.training_data import colour_folders_zip, learnable_texts, prepared_texts


def _nothing_was_queued(local) -> None:
    assert JobStore(settings=local).list_jobs() == []
    assert not local.runs_dir.exists() or not any(local.runs_dir.iterdir())
    assert queue.pending_count(local) == 0


@pytest.fixture
def pickled_base(settings, tiny_model_paths):
    folder = settings.models_dir / "pickled-base"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(tiny_model_paths["text-classifier-base"], folder)
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
    (folder / "pytorch_model.bin").write_bytes(b"a pickle")
    yield str(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(
    ("method", "base", "error", "words"),
    [
        (FULL, "no-such-base-model", ModelUnavailableError, "No model folder"),
        (FAST, "/etc", UnsafeModelError, "outside the models folder"),
        (FULL, "../../../tmp", UnsafeModelError, "outside the models folder"),
    ],
)
def test_a_bad_text_base_model_is_refused_before_queuing(local, method, base, error, words):
    params = TrainingParams("text", method, base, epochs=1)
    with pytest.raises(error, match=words):
        classifier_studio.submit_text_job(params, prepared_texts(learnable_texts(per_class=10), params), settings=local)
    _nothing_was_queued(local)


def test_a_pickle_only_base_model_is_refused_before_queuing(local, pickled_base):
    params = TrainingParams("text", FULL, pickled_base, epochs=1)
    with pytest.raises(UnsafeModelError, match="pickle"):
        classifier_studio.submit_text_job(params, prepared_texts(learnable_texts(per_class=10), params), settings=local)
    _nothing_was_queued(local)


def test_a_bad_image_base_model_is_refused_before_queuing(local):
    params = TrainingParams("image", FULL, "missing/../../escape", epochs=1)
    with pytest.raises(UnsafeModelError):
        classifier_studio.submit_image_job(
            params,
            staging.check_image_data("colours.zip", colour_folders_zip(per_class=6), settings=local),
            settings=local,
        )
    _nothing_was_queued(local)


def test_a_good_base_model_is_queued(local, tiny_model_paths):
    params = TrainingParams("text", FULL, tiny_model_paths["text-classifier-base"], epochs=1)
    job = classifier_studio.submit_text_job(
        params, prepared_texts(learnable_texts(per_class=10), params), settings=local
    )
    assert [queued.id for queued in JobStore(settings=local).list_jobs()] == [job.id]
    assert queue.pending_count(local) == 1


def test_check_base_model_is_the_check_submission_makes(local):
    with pytest.raises(ModelUnavailableError, match="No model folder"):
        classifier_studio.check_base_model(TrainingParams("text", FULL, "no-such-base-model", epochs=1), "alice", local)
    with pytest.raises(UnsafeModelError, match="outside the models folder"):
        classifier_studio.check_base_model(TrainingParams("text", FAST, "/etc", epochs=1), "alice", local)
    _nothing_was_queued(local)
