"""One user's jobs and models are not another's: owners see their own and the shared ones only."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from backend.errors import ShowcaseError
from backend.jobs import manage
from backend.jobs.store import SUCCEEDED, Job, JobStore, new_job_id
from backend.model_registry import list_local_models, write_manifest
from backend.models.resolve import catalogue
from backend.training.classifier import studio as classifier_studio
from backend.training.classifier.params import FAST, TrainingParams
from tests.support.training_data import learnable_texts, prepared_texts


@pytest.fixture
def local(tmp_path, settings):
    return dataclasses.replace(settings, state_dir=tmp_path / "state", models_dir=tmp_path / "models")


def _submit(local, owner: str, embeddings: str) -> str:
    # The base model must lie inside this test's own models folder to be accepted.
    base = local.models_dir / "embeddings"
    if not base.exists():
        shutil.copytree(embeddings, base)
    params = TrainingParams("text", FAST, str(base), title=f"{owner or 'shared'} model")
    return classifier_studio.submit_text_job(
        params, prepared_texts(learnable_texts(per_class=6), params), owner=owner, settings=local
    ).id


def test_jobs_are_scoped_to_their_owner(local, tiny_model_paths):
    ana = _submit(local, "ana@example.com", tiny_model_paths["embeddings"])
    bob = _submit(local, "oidc:https://idp:42", tiny_model_paths["embeddings"])

    assert [job.id for job in classifier_studio.list_jobs("ana@example.com", settings=local)] == [ana]
    assert [job.id for job in classifier_studio.list_jobs("oidc:https://idp:42", settings=local)] == [bob]
    assert classifier_studio.list_jobs("", settings=local) == []  # the anonymous workspace sees neither

    for action in (manage.view_job, manage.cancel_job, manage.delete_job):
        with pytest.raises(ShowcaseError):
            action(bob, "ana@example.com", local)
    # Bob's job and its uploaded data are untouched by Ana's attempts.
    job = JobStore(settings=local).require(bob)
    assert job.status == "queued" and not job.cancel_requested
    assert (Path(job.run_dir) / "data").is_dir()
    assert [row["job"] for row in classifier_studio.compare_jobs([ana, bob], "ana@example.com", local)] == [ana]


def _model_folder(root: Path, name: str, owner: str, source: str) -> Path:
    folder = root / name
    shutil.copytree(source, folder)
    write_manifest(folder, catalogue.SENTIMENT, name, "2026-11-24", owner)
    return folder


def _recorded_model(local, name: str, owner: str, source: str) -> str:
    """A succeeded job of ``owner`` that recorded a sentiment model (as the worker does)."""
    store = JobStore(settings=local)
    job_id = new_job_id()
    folder = _model_folder(local.runs_dir / job_id, "model", owner, source)
    store.create(Job(job_id, "train", "text", str(local.runs_dir / job_id), owner=owner, title=name))
    store.claim(job_id)
    store.finish(job_id, SUCCEEDED, artefacts={"model_dir": str(folder), "model_task": catalogue.SENTIMENT})
    return job_id


def test_models_are_listed_for_their_owner_and_shared_ones_for_everyone(local, tiny_model_paths):
    source = tiny_model_paths["sentiment"]
    ana = _recorded_model(local, "ana-model", "ana@example.com", source)
    _recorded_model(local, "bob-model", "bob@example.com", source)
    _model_folder(local.models_dir, "team-model", "", source)
    # A manifest deeper inside the models folder or in a run folder is not looked for.
    _model_folder(local.models_dir / "nested", "deep-model", "", source)
    _model_folder(local.runs_dir / "upload", "planted-model", "", source)

    def titles(owner: str) -> set[str]:
        return {m.title for m in list_local_models(catalogue.SENTIMENT, owner=owner, settings=local)}

    assert titles("ana@example.com") == {"ana-model", "team-model"}
    assert titles("bob@example.com") == {"bob-model", "team-model"}
    assert titles("") == {"team-model"}
    labels = [m.label for m in list_local_models(catalogue.SENTIMENT, owner="ana@example.com", settings=local)]
    assert labels == [f"ana-model · {ana}", "team-model · team-model"]


def test_jobs_cannot_be_queued_on_another_users_model_folder(local, tiny_model_paths):
    # The worker loads without knowing who asked, so the owner check happens at submission.
    from backend.errors import UnsafeModelError
    from backend.inference import batch
    from backend.jobs import queue

    bob = _recorded_model(local, "bob-model", "bob@example.com", tiny_model_paths["sentiment"])
    folder = str(local.runs_dir / bob / "model")
    request = batch.BatchRequest(catalogue.SENTIMENT, folder, column="text")
    with pytest.raises(UnsafeModelError, match="not in your workspace"):
        batch.submit_batch_job(request, learnable_texts(per_class=3), owner="ana@example.com", settings=local)
    params = TrainingParams("text", FAST, folder, title="on bob's model")
    with pytest.raises(UnsafeModelError, match="not in your workspace"):
        classifier_studio.submit_text_job(
            params, prepared_texts(learnable_texts(per_class=6), params), owner="ana@example.com", settings=local
        )
    assert [job.id for job in JobStore(settings=local).list_jobs()] == [bob]
    assert queue.pending_count(local) == 0
    # Bob himself may.
    mine = batch.submit_batch_job(request, learnable_texts(per_class=3), owner="bob@example.com", settings=local)
    assert mine.owner == "bob@example.com"
