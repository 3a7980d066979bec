"""The job store: state outside the session, queue order, cancel flags, dead workers."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from backend.errors import InvalidInputError
from backend.training.job_store import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, JobStore, new_job_id

PARAMS = {"task": "text", "method": "fast", "base_model": "org/model", "title": "Reviews"}


@pytest.fixture
def store(tmp_path):
    return JobStore(tmp_path / "jobs.sqlite3")


def _create(store, tmp_path, owner="", created_offset=0.0):
    job_id = new_job_id()
    job = store.create(job_id, PARAMS, {"train_size": 10}, tmp_path / job_id, owner)
    return job


def test_a_new_store_on_the_same_file_finds_every_job(store, tmp_path):
    job = _create(store, tmp_path, owner="ana@example.com")
    store.add_metric(job.id, 3, 1.0, "train_loss", 0.5)
    store.log(job.id, "hello")
    reopened = JobStore(store.path)
    found = reopened.get(job.id)
    assert found.status == QUEUED and found.title == "Reviews" and found.dataset == {"train_size": 10}
    assert reopened.metric_history(job.id) == [{"step": 3, "epoch": 1.0, "name": "train_loss", "value": 0.5}]
    assert [line["text"] for line in reopened.logs(job.id)] == ["hello"]


def test_owners_only_see_their_jobs(store, tmp_path):
    mine = _create(store, tmp_path, owner="ana")
    _create(store, tmp_path, owner="bo")
    assert [j.id for j in store.list_jobs(owner="ana")] == [mine.id]
    assert store.get(mine.id, owner="bo") is None
    with pytest.raises(InvalidInputError, match="No training job"):
        store.require(mine.id, owner="bo")


def test_queue_positions_follow_submission_order(store, tmp_path):
    first = _create(store, tmp_path)
    second = _create(store, tmp_path)
    assert store.queue_position(first.id) == 1 and store.queue_position(second.id) == 2
    assert store.claim(first.id, pid=123, host="elsewhere")
    assert store.queue_position(first.id) is None and store.queue_position(second.id) == 1


def test_progress_and_finish(store, tmp_path):
    job = _create(store, tmp_path)
    store.claim(job.id)
    store.update_progress(job.id, 5, 20, 0.5, 12.0, "Step 5 of 20")
    running = store.get(job.id)
    assert running.status == RUNNING and running.progress == 0.25 and running.eta_seconds == 12.0
    store.finish(job.id, SUCCEEDED, metrics={"accuracy": 0.9})
    store.finish(job.id, FAILED, error="late")  # the first ending wins
    done = store.get(job.id)
    assert done.status == SUCCEEDED and done.progress == 1.0 and done.metrics == {"accuracy": 0.9} and done.error == ""


def test_cancel_a_waiting_job_at_once_and_a_running_one_by_flag(store, tmp_path):
    waiting = _create(store, tmp_path)
    assert store.request_cancel(waiting.id).status == CANCELLED
    assert not store.claim(waiting.id)
    running = _create(store, tmp_path)
    store.claim(running.id)
    assert not store.cancel_requested(running.id)
    assert store.request_cancel(running.id).status == RUNNING
    assert store.cancel_requested(running.id)


def test_job_of_a_dead_worker_process_is_failed_with_a_reason(store, tmp_path):
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    job = _create(store, tmp_path)
    store.claim(job.id, pid=process.pid)
    assert store.reap_dead_jobs() == [job.id]
    failed = store.get(job.id)
    assert failed.status == FAILED
    assert f"worker process (pid {process.pid}) stopped while training" in failed.error
    assert "Submit the job again" in failed.error


def test_job_with_a_silent_worker_on_another_host_is_failed(store, tmp_path):
    job = _create(store, tmp_path)
    store.claim(job.id, pid=1, host="gpu-box-7")
    assert store.reap_dead_jobs(stale_after=60) == []
    with store._connect() as connection:
        connection.execute("UPDATE jobs SET heartbeat = ? WHERE id = ?", (time.time() - 600, job.id))
    assert store.reap_dead_jobs(stale_after=60) == [job.id]
    assert "stopped reporting" in store.get(job.id).error


def test_delete_removes_rows(store, tmp_path):
    job = _create(store, tmp_path)
    store.log(job.id, "x")
    store.delete(job.id)
    assert store.get(job.id) is None and store.logs(job.id) == []
