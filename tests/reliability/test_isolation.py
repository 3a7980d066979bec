"""One user's jobs and models are not another's: owners see their own and the shared ones only."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from backend.errors import ShowcaseError, UnsafeModelError
from backend.models import catalog
from backend.models.access import allowed_run_folder, check_model_access
from backend.models.registry import list_local_models, write_manifest
from backend.training import jobs
from backend.training.job_store import JobStore
from backend.training.params import FAST, TrainingParams
from training_data import learnable_texts


@pytest.fixture
def local(tmp_path, settings):
    return dataclasses.replace(settings, state_dir=tmp_path / "state", models_dir=tmp_path / "models")


def _submit(local, owner: str, embeddings: str) -> str:
    params = TrainingParams("text", FAST, embeddings, title=f"{owner or 'shared'} model")
    return jobs.submit_text_job(params, learnable_texts(per_class=6), "text", "label", owner=owner, settings=local).id


def test_jobs_are_scoped_to_their_owner(local, tiny_model_paths):
    ana = _submit(local, "ana@example.com", tiny_model_paths["embeddings"])
    bob = _submit(local, "oidc:https://idp:42", tiny_model_paths["embeddings"])

    assert [job.id for job in jobs.list_jobs("ana@example.com", settings=local)] == [ana]
    assert [job.id for job in jobs.list_jobs("oidc:https://idp:42", settings=local)] == [bob]
    assert jobs.list_jobs("", settings=local) == []  # the anonymous workspace sees neither

    for action in (jobs.view_job, jobs.cancel_job, jobs.delete_job):
        with pytest.raises(ShowcaseError):
            action(bob, "ana@example.com", local)
    # Bob's job and its uploaded data are untouched by Ana's attempts.
    job = JobStore(settings=local).require(bob)
    assert job.status == "queued" and not job.cancel_requested
    assert (Path(job.run_dir) / "data").is_dir()
    assert [row["job"] for row in jobs.compare_jobs([ana, bob], "ana@example.com", local)] == [ana]


def _model_folder(root: Path, name: str, owner: str, source: str) -> Path:
    folder = root / name
    shutil.copytree(source, folder)
    write_manifest(folder, catalog.SENTIMENT, name, "2026-11-24", owner)
    return folder


def test_models_are_listed_for_their_owner_and_shared_ones_for_everyone(local, tiny_model_paths):
    source = tiny_model_paths["sentiment"]
    _model_folder(local.runs_dir / "a", "ana-model", "ana@example.com", source)
    _model_folder(local.runs_dir / "b", "bob-model", "bob@example.com", source)
    _model_folder(local.models_dir, "team-model", "", source)

    def titles(owner: str) -> set[str]:
        return {m.title for m in list_local_models(catalog.SENTIMENT, owner=owner, settings=local)}

    assert titles("ana@example.com") == {"ana-model", "team-model"}
    assert titles("bob@example.com") == {"bob-model", "team-model"}
    assert titles("") == {"team-model"}


# --- typing another user's run folder into a model box -----------------------------------------

ANA, BOB = "ana@example.com", "bob@example.com"


def _run_with_model(store: JobStore, local, job_id: str, owner: str, source: str) -> Path:
    """A finished-looking job of ``owner`` whose run folder holds a model."""
    run_dir = local.runs_dir / job_id
    params = TrainingParams("text", FAST, "org/base", title=f"{owner or 'shared'} model").to_dict()
    store.create(job_id, params, {}, run_dir, owner)
    return _model_folder(run_dir, "model", owner, source)


def test_a_signed_in_user_cannot_load_another_users_run_folder_by_its_path(local, tiny_model_paths, tmp_path):
    store = JobStore(settings=local)
    source = tiny_model_paths["sentiment"]
    ana_model = _run_with_model(store, local, "job-ana", ANA, source)
    bob_model = _run_with_model(store, local, "job-bob", BOB, source)
    shared_model = _run_with_model(store, local, "job-shared", "", source)

    check_model_access(str(ana_model), ANA, local, store)
    check_model_access(str(shared_model), ANA, local, store)
    check_model_access("org/name", ANA, local, store)  # hub ids are nobody's workspace
    assert not allowed_run_folder(bob_model, ANA, store, local)
    assert allowed_run_folder(bob_model, BOB, store, local)

    local.models_dir.mkdir(parents=True, exist_ok=True)
    (local.models_dir / "innocent-link").symlink_to(bob_model, target_is_directory=True)
    sneaky = [
        str(bob_model),
        f"{local.runs_dir}/job-ana/../job-bob/model",
        str(bob_model) + "/",
        "innocent-link",  # a relative name in the models folder that resolves into Bob's run
    ]
    for ref in sneaky:
        with pytest.raises(UnsafeModelError) as caught:
            check_model_access(ref, ANA, local, store)
        text = caught.value.user_text()
        assert "not in your workspace" in text
        assert str(tmp_path) not in text and "job-bob" in text  # relative to the runs folder only


def test_run_folders_no_job_claims_are_closed_to_signed_in_users(local, tiny_model_paths):
    store = JobStore(settings=local)
    orphan = _model_folder(local.runs_dir / "no-such-job", "model", BOB, tiny_model_paths["sentiment"])
    with pytest.raises(UnsafeModelError):
        check_model_access(str(orphan), ANA, local, store)
    check_model_access(str(orphan), "", local, store)  # the shared workspace (no OIDC) sees everything


def test_models_folder_entries_with_another_owner_are_refused(local, tiny_model_paths):
    store = JobStore(settings=local)
    exported = _model_folder(local.models_dir, "bob-export", BOB, tiny_model_paths["sentiment"])
    team = _model_folder(local.models_dir, "team-model", "", tiny_model_paths["sentiment"])
    with pytest.raises(UnsafeModelError):
        check_model_access("bob-export", ANA, local, store)
    check_model_access(str(exported), BOB, local, store)
    check_model_access(str(team), ANA, local, store)


def _typed_model_box() -> None:
    import streamlit as st

    from pages.components import models
    from pages.components.errors import user_errors

    ref = st.text_input("Model folder", key="isolation.model")
    if ref:
        with user_errors():
            models.get_model("sentiment", ref)
            st.success("loaded")


def test_model_box_refuses_another_users_run_folder_for_a_signed_in_user(settings, tiny_model_paths):
    from streamlit.testing.v1 import AppTest

    store = JobStore(settings=settings)
    source = tiny_model_paths["sentiment"]
    bob_model = _run_with_model(store, settings, "isolation-bob", BOB, source)
    ana_model = _run_with_model(store, settings, "isolation-ana", ANA, source)
    try:
        app = AppTest.from_function(_typed_model_box, default_timeout=60)
        app.user = {"is_logged_in": True, "email": ANA, "email_verified": True, "sub": "1"}
        app.run()
        app.text_input(key="isolation.model").input(str(bob_model)).run()
        assert not app.exception and not app.success
        shown = " ".join(str(w.value) for w in app.warning) + " ".join(str(e.value) for e in app.error)
        assert "not in your workspace" in shown
        assert str(settings.state_dir) not in shown

        app.text_input(key="isolation.model").input(str(ana_model)).run()
        assert [s.value for s in app.success] == ["loaded"]
    finally:
        for job_id in ("isolation-bob", "isolation-ana"):
            store.delete(job_id)
            shutil.rmtree(settings.runs_dir / job_id, ignore_errors=True)
