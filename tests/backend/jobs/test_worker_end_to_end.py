"""Jobs through the real queue and real worker processes: success, cancel, worker death, restart.

Waits poll the job store until a state is reached; their limits are safety nets, not assertions.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from backend.jobs import manage, queue
from backend.jobs.liveness import lock_path, reap_dead_jobs, worker_alive
from backend.jobs.store import CANCELLED, FAILED, SUCCEEDED, JobStore
from backend.jobs.supervisor import ensure_worker_running
from backend.model_registry import list_local_models
from backend.models.resolve import catalogue
from backend.training.classifier import studio as classifier_studio
from backend.training.classifier.params import FAST, FULL, TrainingParams
from tests.support.polling import running_with_steps, wait_for
from tests.support.training_data import learnable_texts, prepared_texts

pytestmark = pytest.mark.slow


def _fast_params(paths: dict[str, str]) -> TrainingParams:
    return TrainingParams(
        "text", FAST, paths["embeddings"], title="Queued reviews", epochs=30, learning_rate=1e-2, batch_size=16
    )


def _slow_params(paths: dict[str, str]) -> TrainingParams:
    # Enough steps that the job is surely still running when the test acts on it.
    return TrainingParams("text", FULL, paths["text-classifier-base"], epochs=200, batch_size=2)


def _submit(params: TrainingParams, local, owner: str = "") -> str:
    return classifier_studio.submit_text_job(
        params, prepared_texts(learnable_texts(per_class=30), params), owner=owner, settings=local
    ).id


def _status(job_id: str, local) -> str:
    return JobStore(settings=local).require(job_id).status


def test_cancel_then_worker_death_then_a_queued_job_survives_until_a_new_worker_runs_it(
    local, start_worker, tiny_model_paths
):
    # One scenario for cancel, worker death and a queued job's success: each worker process
    # started costs seconds of imports, and the queued job needs a second worker anyway.
    first = _submit(_slow_params(tiny_model_paths), local)
    second = _submit(_slow_params(tiny_model_paths), local)
    worker = start_worker()
    wait_for(lambda: running_with_steps(first, local), "first job running")
    assert manage.view_job(second, "", local).queue_position == 1

    manage.cancel_job(first, "", local)
    wait_for(lambda: _status(first, local) == CANCELLED, "first job cancelled")
    assert not (Path(JobStore(settings=local).require(first).run_dir) / "model").exists()

    wait_for(lambda: running_with_steps(second, local), "second job running")
    third = _submit(_fast_params(tiny_model_paths), local, owner="ana")
    worker.kill()
    worker.wait()
    # Listing only reads; the dead worker's job is marked failed by whoever starts the next
    # worker (ensure_worker_running, or the worker itself on start).
    assert {job.id: job.status for job in classifier_studio.list_jobs("", settings=local)}[second] == "running"
    reap_dead_jobs(JobStore(settings=local))
    listed = {job.id: job for job in classifier_studio.list_jobs("", settings=local)}
    assert listed[second].status == FAILED
    assert f"worker process (pid {worker.pid}) stopped during the job" in listed[second].error
    assert [(job.id, job.status) for job in classifier_studio.list_jobs("ana", settings=local)] == [(third, "queued")]
    # Nothing consumes now: the job waits in the queue file, visible to any new process.
    assert queue.pending_count(local) == 1
    assert manage.view_job(third, "ana", local).queue_position == 1

    start_worker()
    wait_for(lambda: _status(third, local) in (SUCCEEDED, FAILED, CANCELLED), "third job finished")
    view = manage.view_job(third, "ana", local)
    assert view.job.status == SUCCEEDED, view.job.error
    assert view.job.metrics["accuracy"] > 0.75  # chance is 0.5
    report = classifier_studio.load_report(view.job)
    assert report is not None and sum(map(sum, report.confusion)) == view.job.dataset["validation_size"]
    assert {point["name"] for point in view.history} >= {"train_loss", "val_accuracy"}
    assert any("took the job" in line["text"] for line in view.logs)
    model_dir = str(Path(view.job.artefacts["model_dir"]).resolve())
    assert [
        m.title for m in list_local_models(catalogue.SENTIMENT, owner="ana", settings=local) if m.path == model_dir
    ] == ["Queued reviews"]


def test_the_app_starts_one_detached_worker_when_none_is_alive(local):
    assert not worker_alive(local)
    assert ensure_worker_running(local, idle_exit_seconds=600) is True
    try:
        wait_for(lambda: worker_alive(local), "worker holds its lock")
        assert ensure_worker_running(local) is False
        pid = int(wait_for(lambda: lock_path(local).read_text().strip(), "worker wrote its pid"))
        assert pid != os.getpid()
    finally:
        if lock_path(local).read_text().strip():
            os.kill(int(lock_path(local).read_text().strip()), signal.SIGTERM)
    wait_for(lambda: not worker_alive(local), "worker stopped")


def test_an_app_started_worker_exits_by_itself_when_idle(local):
    assert ensure_worker_running(local, idle_exit_seconds=1) is True
    # The pid stays in the lock file after exit, so this holds whether or not we saw it alive.
    wait_for(lambda: lock_path(local).is_file() and lock_path(local).read_text().strip(), "worker started")
    wait_for(lambda: not worker_alive(local), "idle worker exited")
    assert "Idle for 1 s; exiting." in (local.state_dir / "worker.log").read_text()
