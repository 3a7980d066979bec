"""The supervisor: the app starts a worker that gets every setting, after failing dead workers' jobs,
and a full disk at the start fails the waiting jobs in words."""

from __future__ import annotations

import dataclasses
import errno
import subprocess
import sys
from pathlib import Path

import pytest

from backend.i18n import use_language
from backend.jobs import supervisor
from backend.jobs.store import FAILED, RUNNING, JobStore
from tests.support.job_rows import create_job


def _full_disk(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_an_app_started_worker_gets_every_setting_and_dead_jobs_are_reaped_first(local, monkeypatch):
    local = dataclasses.replace(local, cpu_quantize="int8", cpu_bfloat16="on", model_memory_mb=321)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    job_id = create_job(JobStore(settings=local), local.runs_dir).id
    JobStore(settings=local).claim(job_id, pid=dead.pid)
    started = []
    monkeypatch.setattr(supervisor.subprocess, "Popen", lambda command, **kwargs: started.append((command, kwargs)))
    assert supervisor.ensure_worker_running(local) is True
    [(command, kwargs)] = started
    assert command[1:3] == ["-m", "backend.worker"]
    assert Path(kwargs["env"]["LSM_STATE_DIR"]) == local.state_dir
    assert (kwargs["env"]["LSM_CPU_QUANTIZE"], kwargs["env"]["LSM_CPU_BFLOAT16"]) == ("int8", "on")
    assert kwargs["env"]["LSM_MODEL_MEMORY_MB"] == "321"
    assert JobStore(settings=local).require(job_id).status == FAILED
    assert RUNNING not in {job.status for job in JobStore(settings=local).list_jobs()}


def test_a_full_disk_at_autostart_fails_the_waiting_jobs_and_tells_the_page(local, monkeypatch):
    from backend.errors import DiskFullError

    job_id = create_job(JobStore(settings=local), local.runs_dir).id
    monkeypatch.setattr(supervisor, "_write_probe", _full_disk)
    started = []
    monkeypatch.setattr(supervisor.subprocess, "Popen", lambda *a, **k: started.append(a))
    with pytest.raises(DiskFullError, match="disk is full") as raised:
        supervisor.ensure_worker_running(local)
    assert raised.value.user_text().startswith(
        "The disk is full, so no background worker could start; 1 waiting job was marked failed."
    )
    assert started == []
    job = JobStore(settings=local).require(job_id)
    assert job.status == FAILED and job.message == "Disk full" and "disk is full" in job.error


def test_the_full_disk_message_counts_the_failed_jobs_in_the_readers_language(local, monkeypatch):
    from backend.errors import DiskFullError
    from tests.support.translation_marks import wrap_every_translation

    for _ in range(2):
        create_job(JobStore(settings=local), local.runs_dir)
    monkeypatch.setattr(supervisor, "_write_probe", _full_disk)
    monkeypatch.setattr(supervisor.subprocess, "Popen", lambda *a, **k: None)
    wrap_every_translation(monkeypatch)
    with use_language("zh"), pytest.raises(DiskFullError) as raised:
        supervisor.ensure_worker_running(local)
    assert "‹; 2 waiting jobs were marked failed.›" in raised.value.message
