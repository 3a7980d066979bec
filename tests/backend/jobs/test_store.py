"""The job store: state outside the session, queue order, cancel flags, dead workers.

Behaviour tests run against both stores: the SQLite file and a real PostgreSQL server
(``store_location``); tests of SQLite's own features (old files, damage, write recording) use SQLite.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from backend.errors import InvalidInputError
from backend.jobs.store import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Job,
    JobStore,
    new_job_id,
)
from tests.support.job_rows import create_job
from tests.support.services import free_port


@pytest.fixture
def sqlite_store(tmp_path):
    return JobStore(tmp_path / "jobs.sqlite3")


def test_a_new_store_on_the_same_file_finds_every_job(store, tmp_path):
    job = create_job(store, tmp_path, owner="ana@example.com")
    store.add_metric(job.id, 3, 1.0, "train_loss", 0.5)
    store.log(job.id, "hello")
    reopened = JobStore(store.location)
    found = reopened.get(job.id)
    assert found.status == QUEUED and found.title == "Reviews" and found.dataset == {"train_size": 10}
    assert reopened.metric_history(job.id) == [{"step": 3, "epoch": 1.0, "name": "train_loss", "value": 0.5}]
    assert [line["text"] for line in reopened.logs(job.id)] == ["hello"]


def test_owners_only_see_their_jobs(store, tmp_path):
    mine = create_job(store, tmp_path, owner="ana")
    create_job(store, tmp_path, owner="bo")
    assert [j.id for j in store.list_jobs(owner="ana")] == [mine.id]
    assert store.get(mine.id, owner="bo") is None
    with pytest.raises(InvalidInputError, match="No job"):
        store.require(mine.id, owner="bo")


def test_queue_positions_follow_submission_order(store, tmp_path):
    first = create_job(store, tmp_path)
    second = create_job(store, tmp_path)
    assert store.queue_position(first.id) == 1 and store.queue_position(second.id) == 2
    assert store.claim(first.id, pid=123, host="elsewhere")
    assert store.queue_position(first.id) is None and store.queue_position(second.id) == 1


def test_the_jobs_ahead_are_counted_by_kind_whoever_owns_them(store, tmp_path):
    from dataclasses import replace

    from backend.jobs.store import new_job_id

    first = create_job(store, tmp_path, owner="")
    theirs = create_job(store, tmp_path, owner="bo")
    check = store.create(replace(theirs, id=new_job_id(), kind="engine-check"))
    mine = create_job(store, tmp_path, owner="ana")
    assert store.queue_position(mine.id) == 4
    assert store.line_ahead(mine.id) == {"engine-check": 1, "train": 2}
    assert store.line_ahead(first.id) == {}, "nothing waits before the first"
    assert store.claim(check.id)
    assert store.line_ahead(mine.id) == {"train": 2}, "a running job is no longer ahead in the line"
    assert store.line_ahead(check.id) is None, "a job that is not waiting has no line"


def test_progress_and_finish(store, tmp_path):
    job = create_job(store, tmp_path)
    store.claim(job.id)
    store.update_progress(job.id, 5, 20, 0.5, 12.0, "Step 5 of 20")
    running = store.get(job.id)
    assert running.status == RUNNING and running.progress == 0.25 and running.eta_seconds == 12.0
    store.finish(job.id, SUCCEEDED, metrics={"accuracy": 0.9})
    store.finish(job.id, FAILED, error="late")  # the first ending wins
    done = store.get(job.id)
    assert done.status == SUCCEEDED and done.progress == 1.0 and done.metrics == {"accuracy": 0.9} and done.error == ""


def test_cancel_a_waiting_job_at_once_and_a_running_one_by_flag(store, tmp_path):
    waiting = create_job(store, tmp_path)
    assert store.request_cancel(waiting.id).status == CANCELLED
    assert not store.claim(waiting.id)
    running = create_job(store, tmp_path)
    store.claim(running.id)
    assert not store.cancel_requested(running.id)
    assert store.request_cancel(running.id).status == RUNNING
    assert store.cancel_requested(running.id)


def test_delete_removes_rows(store, tmp_path):
    job = create_job(store, tmp_path)
    store.log(job.id, "x")
    store.delete(job.id)
    assert store.get(job.id) is None and store.logs(job.id) == []


def test_jobs_are_filtered_by_kind_in_sql(store, tmp_path):
    training = create_job(store, tmp_path, owner="ana")
    batch = store.create(
        Job(
            new_job_id(),
            "batch",
            "sentiment",
            str(tmp_path / "b"),
            owner="ana",
            title="a.csv",
            base_model="m",
            dataset={"rows": 3},
        )
    )
    assert [job.id for job in store.list_jobs(owner="ana", kinds=("train",))] == [training.id]
    assert [job.id for job in store.list_jobs(owner="ana", kinds=("batch",))] == [batch.id]
    assert batch.kind == "batch" and batch.method == "" and batch.title == "a.csv"


def test_a_missing_job_is_not_called_a_training_job(store):
    with pytest.raises(InvalidInputError) as caught:
        store.require("nope")
    assert "No job 'nope'" in caught.value.user_text() and "training" not in caught.value.user_text()


def test_recorded_models_come_from_succeeded_jobs_of_their_owner(store, tmp_path):
    def finished(owner: str, status: str, task: str = "sentiment"):
        job = create_job(store, tmp_path, owner=owner)
        store.claim(job.id)
        store.finish(job.id, status, artefacts={"model_dir": str(tmp_path / job.id), "model_task": task})
        return job.id

    ana = finished("ana", SUCCEEDED)
    finished("ana", FAILED)
    finished("ana", SUCCEEDED, task="image_classification")
    bob = finished("bob", SUCCEEDED)
    assert [job.id for job in store.list_models("sentiment", "ana")] == [ana]
    assert [job.id for job in store.list_models("sentiment", "bob")] == [bob]
    assert {job.id for job in store.list_models("sentiment")} == {ana, bob}


def test_a_job_is_claimed_by_exactly_one_of_many_workers_at_once(store, tmp_path):
    jobs = [create_job(store, tmp_path) for _ in range(5)]
    barrier = threading.Barrier(6)

    def worker(number: int) -> list[str]:
        mine = JobStore(store.location)
        barrier.wait()
        return [job.id for job in jobs if mine.claim(job.id, pid=number, host=f"box-{number}")]

    with ThreadPoolExecutor(6) as pool:
        claimed = [job_id for taken in pool.map(worker, range(6)) for job_id in taken]
    assert sorted(claimed) == sorted(job.id for job in jobs)  # each job once, none lost
    assert {store.get(job.id).status for job in jobs} == {RUNNING}


def test_metric_points_and_log_lines_keep_their_order(store, tmp_path):
    job = create_job(store, tmp_path)
    for value in (3.0, 1.0, 2.0):
        store.add_metric(job.id, 7, 1.0, "loss", value)
    for text in ("b", "a", "c"):
        store.log(job.id, text)
    assert [point["value"] for point in store.metric_history(job.id)] == [3.0, 1.0, 2.0]
    assert [line["text"] for line in store.logs(job.id, limit=2)] == ["a", "c"]


def test_an_old_database_gets_a_kind_column_and_batch_jobs_stop_posing_as_training(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as connection:
        # The table as it was before jobs had a kind.
        connection.execute(
            "CREATE TABLE jobs (id TEXT PRIMARY KEY, owner TEXT NOT NULL DEFAULT '', title TEXT NOT NULL DEFAULT '', "
            "task TEXT NOT NULL, method TEXT NOT NULL, base_model TEXT NOT NULL, status TEXT NOT NULL, "
            "created REAL NOT NULL, started REAL, finished REAL, progress REAL NOT NULL DEFAULT 0, "
            "step INTEGER NOT NULL DEFAULT 0, total_steps INTEGER NOT NULL DEFAULT 0, epoch REAL NOT NULL DEFAULT 0, "
            "eta_seconds REAL, message TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '', "
            "params TEXT NOT NULL DEFAULT '{}', dataset TEXT NOT NULL DEFAULT '{}', "
            "metrics TEXT NOT NULL DEFAULT '{}', artefacts TEXT NOT NULL DEFAULT '{}', run_dir TEXT NOT NULL, "
            "worker_pid INTEGER, worker_host TEXT NOT NULL DEFAULT '', heartbeat REAL, "
            "cancel_requested INTEGER NOT NULL DEFAULT 0)"
        )
        rows = [
            ("t1", "text", "fast", "succeeded", json.dumps({"model_dir": "/runs/t1/model"})),
            ("i1", "image", "full", "succeeded", json.dumps({"model_dir": "/runs/i1/model"})),
            ("b1", "sentiment", "batch", "succeeded", json.dumps({"result_csv": "/runs/b1/result.csv"})),
        ]
        connection.executemany(
            "INSERT INTO jobs (id, task, method, base_model, status, created, run_dir, artefacts) "
            "VALUES (?, ?, ?, 'm', ?, 1.0, '/runs', ?)",
            [(i, t, m, st, a) for i, t, m, st, a in rows],
        )
    store = JobStore(path)
    assert {job.id: (job.kind, job.method) for job in store.list_jobs()} == {
        "t1": ("train", "fast"),
        "i1": ("train", "full"),
        "b1": ("batch", ""),
    }
    assert [job.id for job in store.list_models("sentiment")] == ["t1"]
    assert [job.id for job in store.list_models("image_classification")] == ["i1"]
    JobStore(path)  # a second open migrates nothing twice
    assert len(store.list_jobs()) == 3


def test_listing_and_reading_jobs_never_write(sqlite_store, tmp_path, sqlite_writes):
    store = sqlite_store
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    job = create_job(store, tmp_path)
    store.claim(job.id, pid=process.pid)  # its worker is dead, but only the worker side may say so
    with sqlite_writes() as writes:
        store.list_jobs()
        store.get(job.id)
        store.list_models("sentiment")
        store.queue_position(job.id)
        store.logs(job.id)
        store.metric_history(job.id)
    assert writes == []
    assert store.get(job.id).status == RUNNING


def test_the_write_recorder_sees_writes(sqlite_store, tmp_path, sqlite_writes):
    store = sqlite_store
    # Guard against the test above passing vacuously.
    job = create_job(store, tmp_path)
    with sqlite_writes() as writes:
        store.log(job.id, "hello")
    assert writes == [("insert", "job_logs")]


def test_a_server_store_keeps_its_password_out_of_reprs_and_errors(postgres_server_url, local):
    import dataclasses

    from backend.errors import ShowcaseError

    with_password = postgres_server_url.replace("postgres@", "postgres:hunter2@")  # trust auth ignores it
    store = JobStore(with_password)
    assert store.shared and "hunter2" not in repr(store)
    assert "hunter2" not in repr(dataclasses.replace(local, job_store=with_password))
    unreachable = f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/jobs"
    with pytest.raises(ShowcaseError) as caught:
        JobStore(settings=dataclasses.replace(local, job_store=unreachable))
    assert "job store (PostgreSQL, LSM_JOB_STORE) cannot be reached" in caught.value.user_text()
    assert "hunter2" not in caught.value.user_text() and "127.0.0.1" not in caught.value.user_text()
