"""Liveness: jobs whose worker died are failed once, with a reason; workers announce themselves."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from backend.jobs.liveness import live_workers, reap_dead_jobs, worker_gone, worker_seen
from backend.jobs.store import FAILED, RUNNING, JobStore
from tests.support.job_rows import create_job


def test_job_of_a_dead_worker_process_is_failed_with_a_reason(store, tmp_path):
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    job = create_job(store, tmp_path)
    store.claim(job.id, pid=process.pid)
    if store.shared:
        # Workers of a server store may run on any machine, where this pid means nothing: only
        # silence counts, so a fresh heartbeat keeps the job.
        assert reap_dead_jobs(store) == [] and store.get(job.id).status == RUNNING
        return
    assert reap_dead_jobs(store) == [job.id]
    failed = store.get(job.id)
    assert failed.status == FAILED
    assert f"worker process (pid {process.pid}) stopped during the job" in failed.error
    assert "Submit the job again" in failed.error


def test_job_with_a_silent_worker_on_another_host_is_failed(store, tmp_path):
    job = create_job(store, tmp_path)
    store.claim(job.id, pid=1, host="gpu-box-7")
    assert reap_dead_jobs(store, stale_after=60) == []
    with store.connect() as connection:
        connection.execute("UPDATE jobs SET heartbeat = ? WHERE id = ?", (time.time() - 600, job.id))
    assert reap_dead_jobs(store, stale_after=60) == [job.id]
    assert "stopped reporting" in store.get(job.id).error


def test_a_dead_job_is_failed_once_however_many_reap_it_and_a_live_one_is_kept(store, tmp_path):
    dead, alive = create_job(store, tmp_path), create_job(store, tmp_path)
    for job in (dead, alive):
        store.claim(job.id, pid=1, host="gpu-box-7")
    with store.connect() as connection:
        connection.execute("UPDATE jobs SET heartbeat = ? WHERE id = ?", (time.time() - 600, dead.id))
    with ThreadPoolExecutor(4) as pool:
        reaped = list(pool.map(lambda _: reap_dead_jobs(JobStore(store.location), stale_after=60), range(4)))
    assert sorted(map(len, reaped)) == [0, 0, 0, 1] and [dead.id] in reaped
    assert [line["text"] for line in store.logs(dead.id)] == ["The worker stopped reporting 600 s ago"]
    failed = store.get(dead.id)
    assert (failed.status, failed.message) == (FAILED, "Worker died")
    assert "stopped reporting 600 s ago (it may have run out of memory" in failed.error
    assert store.get(alive.id).status == RUNNING


def test_a_reaper_does_not_fail_a_job_whose_worker_beat_since_it_looked(store, tmp_path):
    job = create_job(store, tmp_path)
    store.claim(job.id)
    looked = time.time() - 60
    store.beat(job.id)  # the worker beats after the reaper judged it silent
    assert not store.finish(job.id, FAILED, error="silent", silent_since=looked)
    assert store.get(job.id).status == RUNNING


def test_workers_announce_themselves_and_fall_silent(store):
    worker_seen(store, "box-1:11", "box-1", 11, time.time())
    worker_seen(store, "box-2:22", "box-2", 22, time.time())
    worker_seen(store, "box-1:11", "box-1", 11, time.time())  # a later beat of the same worker
    assert [(w["host"], w["pid"]) for w in live_workers(store)] == [("box-1", 11), ("box-2", 22)]
    worker_gone(store, "box-2:22")
    time.sleep(0.05)
    assert [w["id"] for w in live_workers(store)] == ["box-1:11"]
    assert live_workers(store, stale_after=0.01) == []
