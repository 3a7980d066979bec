"""Two real worker processes sharing a real Redis queue and a real PostgreSQL job store, each with
its own state folder (as on two machines) and one shared runs folder: every job runs exactly once,
even when delivered twice, and a worker killed mid-job is found by its silence and its job failed.

The workers run ``tests.support.marker_worker``: the real generic worker with a job kind that
records each execution in its run folder. Waits poll the store; their limits are safety nets.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from backend import config
from backend.config import Settings
from backend.jobs import liveness, manage, queue
from backend.jobs.store import CANCELLED, FAILED, FINISHED, RUNNING, SUCCEEDED, Job, JobStore, new_job_id
from backend.jobs.supervisor import ensure_worker_running
from tests.support import processes
from tests.support.marker_worker import EXECUTIONS, MARKER
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow

# Fast beats keep the test short: a worker is dead after 12 silent beats (6 s).
HEARTBEAT_SECONDS = 0.5


@pytest.fixture
def app_settings(tmp_path: Path, settings: Settings, redis_url: str, postgres_url: str) -> Settings:
    """The app's side of a cluster: Redis queue, PostgreSQL store, shared runs folder, no local worker."""
    redis.Redis.from_url(redis_url).flushdb()  # no task of an earlier test is left in the queue
    return dataclasses.replace(
        settings,
        state_dir=tmp_path / "app-state",
        queue_backend="redis",
        redis_url=redis_url,
        job_store=postgres_url,
        runs_folder=str(tmp_path / "shared-runs"),
        job_heartbeat_seconds=HEARTBEAT_SECONDS,
        worker_autostart=False,
    )


@pytest.fixture
def start_machine_worker(app_settings: Settings, tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen]]:
    """Start a worker as if on machine ``name``: its own state folder, the cluster's queue and store."""
    started: list[subprocess.Popen] = []

    def start(name: str) -> subprocess.Popen:
        machine = dataclasses.replace(app_settings, state_dir=tmp_path / name)
        env = {**os.environ, **config.to_environment(machine)}
        process = processes.start_module("tests.support.marker_worker", env, tmp_path / f"{name}.log")
        started.append(process)
        return process

    yield start
    processes.stop_all(started)


def _submit(settings: Settings, seconds: float = 0.0, deliveries: int = 1) -> str:
    job_id = new_job_id()
    run_dir = settings.runs_dir / job_id
    run_dir.mkdir(parents=True)
    JobStore(settings=settings).create(
        Job(job_id, MARKER, "demo", str(run_dir), owner="ana", params={"seconds": seconds})
    )
    for _ in range(deliveries):
        queue.enqueue_job(job_id, settings)
    return job_id


def _two_workers(start: Callable[[str], subprocess.Popen], settings: Settings) -> list[subprocess.Popen]:
    workers = [start("machine-a"), start("machine-b")]
    store = JobStore(settings=settings)
    wait_for(lambda: len(liveness.live_workers(store)) == 2, "both workers announced themselves in the store")
    return workers


def _executions(settings: Settings, job_id: str) -> list[int]:
    path = settings.runs_dir / job_id / EXECUTIONS
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def test_two_workers_run_every_job_once_and_a_killed_one_is_found_by_the_other(app_settings, start_machine_worker):
    # One scenario, so the two worker processes (each imports torch) start once.
    workers = _two_workers(start_machine_worker, app_settings)
    store = JobStore(settings=app_settings)

    # Every job delivered twice (as a retried enqueue or a redelivery would): each runs once.
    job_ids = [_submit(app_settings, seconds=0.3, deliveries=2) for _ in range(10)]
    wait_for(lambda: all(store.require(j).is_finished for j in job_ids), "every job finished")
    runs = {job_id: _executions(app_settings, job_id) for job_id in job_ids}
    assert all(len(pids) == 1 for pids in runs.values()), runs
    assert {store.require(j).status for j in job_ids} == {SUCCEEDED}
    assert all(store.require(j).worker_pid == runs[j][0] for j in job_ids)  # the claimer ran it
    assert {pids[0] for pids in runs.values()} == {w.pid for w in workers}  # both machines took work
    wait_for(lambda: queue.pending_count(app_settings) == 0, "duplicate deliveries drained")
    assert all(_executions(app_settings, j) == runs[j] for j in job_ids)  # and ran nothing again
    # The app's machine runs no worker, yet its job view knows that workers elsewhere are up.
    assert manage.view_job(job_ids[0], "ana", app_settings).worker_alive

    # kill -9 the worker of a long job.
    long_job = _submit(app_settings, seconds=120)
    job = wait_for(lambda: (found := store.require(long_job)).status == RUNNING and found, "long job running")
    [victim] = [w for w in workers if w.pid == job.worker_pid]
    [survivor] = [w for w in workers if w is not victim]
    victim.send_signal(signal.SIGKILL)
    victim.wait()

    # Nobody here reaps: the surviving worker notices the silence on its own.
    wait_for(lambda: store.require(long_job).is_finished, "the dead worker's job was failed", limit_seconds=60)
    failed = store.require(long_job)
    assert (failed.status, failed.message) == (FAILED, "Worker died")
    assert "The worker stopped reporting" in failed.error and "Submit the job again to retry." in failed.error
    # The reaper writes the log line just after failing the job: wait for it rather than race it.
    wait_for(lambda: any("stopped reporting" in line["text"] for line in store.logs(long_job)), "the reaper's log line")
    wait_for(lambda: [w["pid"] for w in liveness.live_workers(store)] == [survivor.pid], "the dead worker fell silent")

    # The survivor carries on: a new job succeeds there, and a cancel reaches it through the store.
    after = _submit(app_settings)
    wait_for(lambda: store.require(after).status in FINISHED, "next job finished")
    assert store.require(after).status == SUCCEEDED and _executions(app_settings, after) == [survivor.pid]
    stopped = _submit(app_settings, seconds=120)
    wait_for(lambda: store.require(stopped).status == RUNNING, "job to cancel running")
    store.request_cancel(stopped)
    wait_for(lambda: store.require(stopped).status in FINISHED, "cancelled job stopped")
    assert store.require(stopped).status == CANCELLED
    # The app of a cluster starts no worker of its own, but still reaps.
    assert ensure_worker_running(app_settings) is False
    assert not (app_settings.state_dir / "worker.log").exists()
