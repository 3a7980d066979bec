"""Demo batch mode as worker jobs: checked before queuing, run by the job loop, results kept on disk."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from backend import uploads, worker
from backend.errors import InvalidInputError
from backend.i18n import use_language
from backend.inference import batch as batch_jobs  # "batch" names jobs in these tests
from backend.inference import sentiment
from backend.inference.batch import BatchRequest
from backend.inference.tables import read_text_column
from backend.jobs import manage
from backend.jobs.progress import JobCancelled
from backend.jobs.store import CANCELLED, FAILED, QUEUED, SUCCEEDED, JobStore
from backend.models.loader import load_model
from backend.models.resolve import catalogue
from backend.training.classifier import studio as classifier_studio
from backend.training.classifier.params import FAST, TrainingParams
from tests.support.training_data import learnable_texts, prepared_texts
from tests.support.translation_marks import wrap_every_translation

REVIEWS = pd.DataFrame(
    {
        "id": ["007", "2", "3", "4"],
        "review": ["I love this phone", "", '=HYPERLINK("http://evil")', "质量太差了"],
    }
)


def _submit(local, request: BatchRequest, frame: pd.DataFrame = REVIEWS):
    return batch_jobs.submit_batch_job(request, frame, owner="ann", settings=local)


def test_a_sentiment_batch_runs_in_the_job_loop_and_gives_the_demos_table(local, tiny_model_paths):
    ref = tiny_model_paths[catalogue.SENTIMENT]
    job = _submit(local, BatchRequest(catalogue.SENTIMENT, ref, "review", "reviews.csv"))
    assert (job.status, job.kind, job.method, job.title) == (QUEUED, batch_jobs.BATCH, "", "reviews.csv")
    assert job.dataset == {"rows": 4, "items": 3, "skipped": 1}

    assert worker.run_job(job.id, local) == SUCCEEDED
    done = JobStore(settings=local).require(job.id)
    assert (done.step, done.total_steps, done.metrics["rows"], done.metrics["skipped"]) == (3, 3, 4, 1)
    result = batch_jobs.read_result(done)
    expected = sentiment.classify_table(load_model(catalogue.SENTIMENT, ref, local), REVIEWS, "review").table
    assert result is not None and result.skipped == 1 and result.footer.items == 3
    assert result.table["label"].tolist() == expected["label"].tolist()
    assert result.table["id"].tolist() == ["007", "2", "3", "4"]  # text stays text through the run folder
    assert result.table["note"][1] == "empty text: skipped"
    csv = pd.read_csv(Path(done.artefacts["result_csv"]), encoding="utf-8-sig", dtype=str)
    assert csv["review"][2].startswith("'=")  # formulas escaped in the download


def test_translation_and_generation_batches_keep_their_options(local, tiny_model_paths):
    translation_job = _submit(
        local,
        BatchRequest(catalogue.TRANSLATION, tiny_model_paths[catalogue.TRANSLATION], "review", target_language="zh",
                     num_beams=2),
    )  # fmt: skip
    chat_job = _submit(
        local,
        BatchRequest(catalogue.TEXT_GENERATION, tiny_model_paths[catalogue.TEXT_GENERATION], "review", temperature=0,
                     max_new_tokens=3),
    )  # fmt: skip
    stored = BatchRequest.from_params(JobStore(settings=local).require(translation_job.id).params)
    assert (stored.target_language, stored.num_beams) == ("zh", 2)
    for job in (translation_job, chat_job):
        assert worker.run_job(job.id, local) == SUCCEEDED, JobStore(settings=local).require(job.id).error
    translated = batch_jobs.read_result(JobStore(settings=local).require(translation_job.id))
    replies = batch_jobs.read_result(JobStore(settings=local).require(chat_job.id))
    assert translated is not None and "translation" in translated.table.columns
    assert replies is not None and all(0 < tokens <= 3 for tokens in replies.table["new_tokens"].dropna())


@pytest.mark.parametrize(
    ("request_", "frame", "message"),
    [
        (BatchRequest(catalogue.SENTIMENT, "m", "missing"), REVIEWS, "no column 'missing'"),
        (BatchRequest(catalogue.SENTIMENT, "m", "review"), REVIEWS.assign(review=""), "no text to process"),
        (BatchRequest(catalogue.IMAGE_CLASSIFICATION, "m", "review"), REVIEWS, "is for sentiment"),
        (BatchRequest(catalogue.TRANSLATION, "m", "review"), REVIEWS, "language to translate into"),
        (BatchRequest(catalogue.TEXT_GENERATION, "m", "review", temperature=5), REVIEWS, "Temperature"),
    ],
)
def test_bad_requests_are_refused_before_anything_is_queued(local, request_, frame, message):
    with pytest.raises(InvalidInputError, match=message):
        _submit(local, request_, frame)
    assert JobStore(settings=local).list_jobs() == []
    assert not local.runs_dir.exists() or not any(local.runs_dir.iterdir())


def test_a_cancelled_batch_stops_at_its_next_group_and_leaves_no_results(local, tiny_model_paths):
    job = _submit(local, BatchRequest(catalogue.SENTIMENT, tiny_model_paths[catalogue.SENTIMENT], "review"))
    store = JobStore(settings=local)
    with pytest.raises(JobCancelled):
        batch_jobs.BATCH_HANDLER.run(job, should_stop=lambda: True, settings=local)
    assert batch_jobs.read_result(store.require(job.id)) is None
    # Cancelled while waiting: the worker skips it.
    store.request_cancel(job.id)
    assert worker.run_job(job.id, local) == CANCELLED


def test_batch_jobs_are_listed_by_their_demo_not_among_training_jobs(local, tiny_model_paths):
    batch = _submit(local, BatchRequest(catalogue.SENTIMENT, tiny_model_paths[catalogue.SENTIMENT], "review"))
    params = TrainingParams("text", FAST, tiny_model_paths["embeddings"], title="Training")
    training = classifier_studio.submit_text_job(
        params, prepared_texts(learnable_texts(per_class=10), params), owner="ann", settings=local
    )
    assert [job.id for job in classifier_studio.list_jobs("ann", settings=local)] == [training.id]
    assert [job.id for job in batch_jobs.list_batch_jobs("ann", catalogue.SENTIMENT, settings=local)] == [batch.id]
    assert batch_jobs.list_batch_jobs("bob", catalogue.SENTIMENT, settings=local) == []
    assert batch_jobs.list_batch_jobs("ann", catalogue.TRANSLATION, settings=local) == []

    manage.delete_job(batch.id, "ann", settings=local)
    assert not (local.runs_dir / batch.id).exists()
    assert batch_jobs.list_batch_jobs("ann", catalogue.SENTIMENT, settings=local) == []


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_image_batch_runs_in_the_job_loop_with_unreadable_files_noted(local, tiny_model_paths):
    files = [
        ("../../etc/cat.png", _png((200, 30, 30))),
        ("notes.png", b"text, not pixels"),
        ("dog.png", _png((9, 9, 9))),
    ]
    request = BatchRequest(
        catalogue.IMAGE_CLASSIFICATION, tiny_model_paths[catalogue.IMAGE_CLASSIFICATION], file_name="3 images"
    )
    job = batch_jobs.submit_image_batch_job(request, files, owner="ann", settings=local)
    assert job.dataset == {"rows": 3, "items": 2, "skipped": 1}
    stored = sorted(path.name for path in (local.runs_dir / job.id / batch_jobs.IMAGES_FOLDER).iterdir())
    assert stored == ["000", "001", "002"]  # by position: a user's file name never becomes a path

    assert worker.run_job(job.id, local) == SUCCEEDED
    result = batch_jobs.read_result(JobStore(settings=local).require(job.id))
    assert result is not None and result.skipped == 1 and result.footer.items == 2
    assert result.table["file"].tolist() == ["../../etc/cat.png", "notes.png", "dog.png"]
    assert result.table["label"].isna().tolist() == [False, True, False]
    assert "not" in result.table["note"][1]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([], "No images"),
        ([("a.txt", b"plain text")], "None of the uploaded files"),
        ([("huge.png", b"x" * (uploads.MAX_IMAGE_BYTES + 1))], "the limit is"),
        ([(f"{n}.png", b"x") for n in range(51)], "the limit is 50"),
    ],
)
def test_bad_image_batches_are_refused_before_anything_is_queued(local, files, message):
    request = BatchRequest(catalogue.IMAGE_CLASSIFICATION, "m")
    with pytest.raises(InvalidInputError, match=message):
        batch_jobs.submit_image_batch_job(request, files, settings=local)
    assert JobStore(settings=local).list_jobs() == []


def test_a_batch_whose_model_lost_its_trained_head_after_queuing_fails_saying_why(local, tiny_models_dir):
    # The gate refuses such a model at submission (tests/backend/test_model_gate.py); the worker's
    # load still refuses a folder replaced while the job waited.
    folder = local.models_dir / "replaced-while-queued"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(tiny_models_dir[catalogue.SENTIMENT], folder)
    try:
        job = _submit(local, BatchRequest(catalogue.SENTIMENT, str(folder), "review", "x.csv"))
        shutil.rmtree(folder)
        shutil.copytree(tiny_models_dir[catalogue.EMBEDDINGS], folder)
        assert worker.run_job(job.id, local) == FAILED
        failed = JobStore(settings=local).require(job.id)
        assert "no trained weights for sentiment" in failed.error and batch_jobs.read_result(failed) is None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_skipped_rows_note_is_in_the_language_of_whoever_ran_the_batch(monkeypatch):
    # Under a catalogue that wraps what it translates, a note written without it shows unwrapped.
    wrap_every_translation(monkeypatch)
    frame = pd.DataFrame({"review": ["fine", "", "x" * 40]})
    with use_language("zh"):
        column = read_text_column(frame, "review", max_chars=30)
    assert column.notes == {1: "‹empty text: skipped›", 2: "‹40 characters, over the 30 limit: skipped›"}
