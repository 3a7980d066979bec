"""Training jobs page: list and filters, live view, cancel, results with confusion matrix, delete, compare."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend import worker
from backend.jobs import supervisor
from backend.jobs.store import JobStore
from backend.models.cache import ModelCache
from backend.training.classifier import studio as classifier_studio
from backend.training.classifier.params import FAST, TrainingParams
from tests.support.training_data import learnable_texts, prepared_texts

PAGE = "pages/finetune/jobs.py"


def _text(app) -> str:
    parts = [m.value for m in app.markdown] + [w.value for w in app.warning] + [e.value for e in app.error]
    parts += [i.value for i in app.info] + [c.value for c in app.caption]
    return " ".join(str(p) for p in parts)


def _submit(state, tiny_model_paths, title: str, owner: str = "") -> str:
    params = TrainingParams(
        "text", FAST, tiny_model_paths["embeddings"], title=title, epochs=20, learning_rate=1e-2, batch_size=16
    )
    return classifier_studio.submit_text_job(
        params, prepared_texts(learnable_texts(per_class=20), params), owner=owner, settings=state.settings
    ).id


@pytest.fixture
def trained(state, tiny_model_paths):
    """Two jobs run to success by the real worker code, in this process."""
    ids = [_submit(state, tiny_model_paths, title) for title in ("Run A", "Run B")]
    for job_id in ids:
        assert worker.run_job(job_id, state.settings) == "succeeded"
    return ids


def test_no_jobs_yet(state, open_page):
    app = open_page(PAGE)
    assert "No training jobs here yet" in _text(app)


def test_queued_job_shows_its_place_and_starts_a_worker(state, open_page, tiny_model_paths):
    job_id = _submit(state, tiny_model_paths, "Waiting run")
    app = open_page(PAGE)
    assert app.selectbox(key="finetune.jobs.selected").value == job_id
    assert "Waiting in the queue: next in line" in _text(app)
    assert state.worker_starts == ["start"]
    assert app.query_params["job"] == job_id


def test_the_jobs_ahead_that_the_list_does_not_show_are_named_by_kind(state, open_page, tiny_model_paths):
    from dataclasses import replace

    from backend.inference.engine_check import ENGINE_CHECK
    from backend.jobs.store import new_job_id

    store = JobStore(settings=state.settings)
    # A demo's engine check and another visitor's training, queued first: neither is in this list.
    theirs = store.get(_submit(state, tiny_model_paths, "Their run", owner="someone-else"))
    store.create(replace(theirs, id=new_job_id(), kind=ENGINE_CHECK, owner=""))
    _submit(state, tiny_model_paths, "My run")
    app = open_page(PAGE)
    assert "Waiting in the queue: 2 jobs ahead (engine check ×1, training job ×1)" in _text(app)
    assert len(app.selectbox(key="finetune.jobs.selected").options) == 1, "only my own job is listed"


def test_running_job_shows_progress_and_can_be_cancelled(state, open_page, tiny_model_paths):
    job_id = _submit(state, tiny_model_paths, "Live run")
    store = JobStore(settings=state.settings)
    store.claim(job_id, pid=os.getpid())
    store.update_progress(job_id, 30, 120, 1.5, 95.0, "Step 30 of 120")
    store.add_metric(job_id, 10, 0.5, "train_loss", 0.7)
    store.add_metric(job_id, 30, 1.5, "train_loss", 0.4)
    app = open_page(PAGE)
    progress = app.get("progress")[0]
    assert progress.value == 25
    assert "Step 30 of 120 · epoch 1.5 · about 2 min left" in progress.proto.text
    assert len(app.get("plotly_chart")) == 1
    app.button(key=f"finetune.cancel.{job_id}").click().run()
    assert store.cancel_requested(job_id)


def test_finished_job_shows_report_confusion_matrix_download_and_comparison(state, open_page, trained):
    app = open_page(PAGE, {"job": trained[0]})
    assert app.selectbox(key="finetune.jobs.selected").value == trained[0]
    metrics = {m.label: m.value for m in app.metric}
    assert set(metrics) == {"Accuracy", "Macro precision", "Macro recall", "Macro F1"}
    job = JobStore(settings=state.settings).require(trained[0])
    assert metrics["Accuracy"] == f"{job.metrics['accuracy']:.1%}"
    charts = app.get("plotly_chart")
    # curves, confusion matrix, comparison
    assert len(charts) == 3
    assert any('"type":"heatmap"' in chart.proto.spec.replace(" ", "") for chart in charts)
    assert app.get("download_button")
    assert "Compare runs" in [s.value for s in app.subheader]
    # Its own words in the empty picker, not Streamlit's English "Choose options".
    assert app.multiselect(key="finetune.compare").proto.placeholder == "Pick the runs to compare"


def test_failed_job_shows_its_reason(state, open_page, tiny_model_paths):
    job_id = _submit(state, tiny_model_paths, "Doomed")
    store = JobStore(settings=state.settings)
    store.claim(job_id, pid=os.getpid())
    store.finish(job_id, "failed", error="Out of GPU memory training x, even with a batch size of 1.")
    app = open_page(PAGE)
    assert "even with a batch size of 1" in _text(app)


def test_delete_removes_the_job_its_files_and_its_model_from_the_shared_cache(state, open_page, trained, monkeypatch):
    job = JobStore(settings=state.settings).require(trained[1])
    run_dir = Path(job.run_dir)
    assert run_dir.is_dir()
    evicted = []
    monkeypatch.setattr(ModelCache, "evict", lambda cache, task, ref: evicted.append((task, ref)) or True)
    app = open_page(PAGE, {"job": trained[1]})
    app.checkbox(key=f"finetune.delete_confirm.{trained[1]}").check().run()
    app.button(key=f"finetune.delete.{trained[1]}").click().run()
    assert not app.exception
    assert JobStore(settings=state.settings).get(trained[1]) is None
    assert not run_dir.exists()
    assert evicted == [("sentiment", job.artefacts["model_dir"])]


def test_other_owners_jobs_are_not_listed(state, open_page, tiny_model_paths):
    _submit(state, tiny_model_paths, "Someone else's", owner="bo@example.com")
    app = open_page(PAGE)
    assert "No training jobs here yet" in _text(app)


def test_status_filter(state, open_page, tiny_model_paths):
    _submit(state, tiny_model_paths, "Queued one")
    app = open_page(PAGE)
    app.multiselect(key="finetune.jobs.status").set_value(["succeeded"]).run()
    assert "No jobs match these filters" in _text(app)
    app.multiselect(key="finetune.jobs.status").set_value(["queued"]).run()
    assert "Queued one" in app.selectbox(key="finetune.jobs.selected").options[0]


def test_a_failed_job_offers_retry_which_queues_a_copy_and_selects_it(state, open_page, tiny_model_paths):
    job_id = _submit(state, tiny_model_paths, "Doomed")
    store = JobStore(settings=state.settings)
    store.claim(job_id, pid=os.getpid())
    store.finish(job_id, "failed", error="Out of GPU memory.")
    app = open_page(PAGE)
    app.button(key=f"finetune.retry.{job_id}").click().run()
    assert not app.exception, [e.value for e in app.exception]
    listed = store.list_jobs()
    assert [job.status for job in listed] == ["queued", "failed"]
    new = listed[0]
    assert new.title == "Doomed" and new.params == store.require(job_id).params
    assert app.selectbox(key="finetune.jobs.selected").value == new.id
    assert app.query_params["job"] == new.id
    assert "start" in state.worker_starts


def test_a_succeeded_job_offers_no_retry(state, open_page, trained):
    app = open_page(PAGE)
    assert not [b for b in app.button if b.key and b.key.startswith("finetune.retry.")]


def test_a_damaged_job_database_is_rebuilt_and_the_page_says_so_once(state, open_page, tiny_model_paths):
    job_id = _submit(state, tiny_model_paths, "Before the damage")
    state.settings.jobs_db.write_bytes(b"garbage, not SQLite" * 200)
    app = open_page(PAGE)
    assert "job database was damaged and has been rebuilt" in _text(app)
    assert app.selectbox(key="finetune.jobs.selected").value == job_id
    assert "No training jobs here yet" not in _text(app)
    app.run()
    assert "has been rebuilt from the run folders" not in _text(app)  # shown once


def test_a_full_disk_at_worker_start_is_shown_on_the_page(state, open_page, tiny_model_paths, monkeypatch):
    from backend.errors import DiskFullError

    def full(*_a, **_k):
        raise DiskFullError("The disk is full, so no background worker could start.", "Free space.")

    _submit(state, tiny_model_paths, "Waiting run")
    monkeypatch.setattr(supervisor, "ensure_worker_running", full)
    app = open_page(PAGE)
    assert "The disk is full, so no background worker could start." in _text(app)
