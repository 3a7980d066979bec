"""A full disk is named everywhere: the job store, zip extraction, pages, the worker at start and
a running job, on a real small filesystem that the test fills (not a mocked error).

SQLite says only "disk I/O error" when the disk is full (its WAL index cannot grow), even for a
read; the one classifier (``backend.errors.is_disk_full``) reads that as a full disk when the
folder has no room left.
"""

from __future__ import annotations

import dataclasses
import io
import os
import sqlite3
import zipfile

import pytest
from streamlit.testing.v1 import AppTest

from backend import uploads
from backend.errors import DiskFullError, is_disk_full
from backend.jobs import full_disk, liveness, supervisor, worker
from backend.jobs.store import FAILED, RUNNING, Job, JobStore, new_job_id
from tests.support.small_disk import fill, small_disk


@pytest.fixture
def full_state(tmp_path, settings):
    """Settings whose state folder is a small filesystem holding a job store; filled by the test."""
    with small_disk(tmp_path / "disk", megabytes=16) as disk:
        local = dataclasses.replace(settings, state_dir=disk / "state")
        local.state_dir.mkdir()
        yield local


def _queued(settings) -> str:
    job_id = new_job_id()
    JobStore(settings=settings).create(Job(job_id, "echo", "demo", str(settings.runs_dir / job_id)))
    return job_id


def test_sqlite_on_a_full_disk_is_named_a_full_disk(full_state):
    _queued(full_state)
    filler = fill(full_state.state_dir)
    with pytest.raises(sqlite3.OperationalError) as failed:
        _queued(full_state)
    assert "disk i/o error" in str(failed.value).lower() or "full" in str(failed.value).lower()
    assert is_disk_full(failed.value, full_state.state_dir)
    filler.unlink()
    # With room again the same words are a failing disk, not a full one.
    assert not is_disk_full(sqlite3.OperationalError("disk I/O error"), full_state.state_dir)
    _queued(full_state)


def test_a_good_zip_on_a_full_disk_is_not_called_damaged(full_state):
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        for index in range(4):
            archive.writestr(f"cat/{index}.txt", os.urandom(256 * 1024))
    fill(full_state.state_dir)
    destination = full_state.state_dir / "unpacked"
    with pytest.raises(DiskFullError) as refused:
        uploads.extract_zip("photos.zip", packed.getvalue(), destination)
    assert refused.value.message == "The disk is full, so photos.zip could not be extracted."
    assert not list(destination.rglob("*.txt")), "nothing half-extracted stays"


def test_waiting_jobs_fail_with_the_reason_when_no_worker_can_start(full_state):
    waiting = [_queued(full_state) for _ in range(2)]
    full_disk.keep_disk_reserve(full_state)
    fill(full_state.state_dir)
    with pytest.raises(DiskFullError) as refused:
        supervisor.ensure_worker_running(full_state)
    assert "2 waiting jobs were marked failed" in refused.value.message
    for job_id in waiting:
        job = JobStore(settings=full_state).require(job_id)
        assert (job.status, job.message) == (FAILED, "Disk full")
        assert job.error == full_disk.DISK_FULL_AT_START


def test_a_running_job_is_not_called_dead_while_its_worker_lives(full_state):
    job_id = _queued(full_state)
    store = JobStore(settings=full_state)
    assert store.claim(job_id)
    job = store.require(job_id)
    assert job.status == RUNNING and job.worker_pid == os.getpid()
    # Beats stop (the disk is full), long past the stale limit; the worker (this process) lives.
    assert liveness.reap_dead_jobs(store, stale_after=-1) == []
    assert store.require(job_id).status == RUNNING


def test_a_running_job_that_fills_the_disk_fails_in_words(full_state):
    job_id = _queued(full_state)
    full_disk.keep_disk_reserve(full_state)

    def write_until_full(job, events, should_stop, settings):
        fill(settings.state_dir)
        (settings.state_dir / "output.bin").write_bytes(b"\0" * 2**20)
        return {}, {}

    handler = worker.JobHandler(
        run=write_until_full, doing="The echo", output="echo output", memory_advice="", cleanup=lambda job: None
    )
    status = worker.execute_job(job_id, {"echo": handler}, full_state)
    job = JobStore(settings=full_state).require(job_id)
    assert status == FAILED and job.message == "Disk full"
    assert "The disk is full, so the echo output could not be saved" in job.error


def test_a_page_names_a_full_disk_instead_of_something_went_wrong(full_state, monkeypatch):
    monkeypatch.setenv("LSM_STATE_DIR", str(full_state.state_dir))
    fill(full_state.state_dir)

    def page():
        import sqlite3

        from pages.components.errors import user_errors

        with user_errors():
            raise sqlite3.OperationalError("disk I/O error")

    from backend import config

    config.get_settings.cache_clear()
    try:
        app = AppTest.from_function(page).run()
    finally:
        config.get_settings.cache_clear()
    shown = " ".join(element.value for element in app.error)
    assert "The disk is full" in shown and "Something went wrong" not in shown
    assert not app.exception


def test_the_worker_at_start_on_a_full_disk_fails_the_waiting_jobs_and_exits_in_words(full_state, monkeypatch, caplog):
    from backend import config

    waiting = _queued(full_state)
    full_disk.keep_disk_reserve(full_state)
    fill(full_state.state_dir)
    monkeypatch.setenv("LSM_STATE_DIR", str(full_state.state_dir))
    config.get_settings.cache_clear()
    try:
        assert worker.main({}, ["--slot", "0"]) == 1
    finally:
        config.get_settings.cache_clear()
    assert "Disk full: the worker cannot start" in caplog.text
    job = JobStore(settings=full_state).require(waiting)
    assert (job.status, job.error) == (FAILED, full_disk.DISK_FULL_AT_START)
