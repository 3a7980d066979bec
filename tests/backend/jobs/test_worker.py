"""The worker loop: the handler table, the failure table, the idle exit, and a start on a full disk."""

from __future__ import annotations

import dataclasses
import errno

import pytest
import torch

from backend import config
from backend.errors import InvalidInputError
from backend.jobs import liveness, queue, worker
from backend.jobs.progress import JobCancelled
from backend.jobs.store import CANCELLED, FAILED, LANGUAGE_PARAM, SUCCEEDED, Job, JobStore, new_job_id
from backend.jobs.worker import JobHandler


def _queued(local, kind: str = "echo") -> str:
    job_id = new_job_id()
    JobStore(settings=local).create(Job(job_id, kind, "demo", str(local.runs_dir / job_id)))
    return job_id


def _handler(run, cleaned: list[str] | None = None) -> JobHandler:
    return JobHandler(
        run=run,
        doing="The echo",
        output="echo",
        memory_advice="Echo less",
        cleanup=lambda job: cleaned.append(job.id) if cleaned is not None else None,
    )


def test_a_job_runs_with_the_handler_of_its_kind_and_records_its_results(local):
    job_id = _queued(local)

    def run(job, events, should_stop, settings):
        assert (job.id, settings) == (job_id, local) and not should_stop()
        return {"rows": 3}, {"result": "r.csv"}

    assert worker.execute_job(job_id, {"echo": _handler(run)}, local) == SUCCEEDED
    job = JobStore(settings=local).require(job_id)
    assert (job.metrics, job.artefacts) == ({"rows": 3}, {"result": "r.csv"})


def test_a_kind_without_a_handler_fails_the_job_in_words(local):
    job_id = _queued(local, kind="render")
    called = []
    assert worker.execute_job(job_id, {"echo": _handler(lambda *a: called.append(a))}, local) == FAILED
    job = JobStore(settings=local).require(job_id)
    assert "cannot run 'render' jobs (it runs echo)" in job.error and "Update the worker" in job.error
    assert called == []


@pytest.mark.parametrize(
    ("error", "status", "words"),
    [
        (JobCancelled("stop"), CANCELLED, ""),
        (InvalidInputError("The column is empty.", "Pick another."), FAILED, "The column is empty."),
        (OSError(errno.ENOSPC, "No space left"), FAILED, "The disk is full, so the echo could not be saved."),
        (torch.OutOfMemoryError("CUDA out of memory"), FAILED, "The echo ran out of memory. Echo less, and submit"),
        (MemoryError(), FAILED, "The echo ran out of memory."),
        (KeyError("x"), FAILED, "The echo failed unexpectedly (KeyError"),
    ],
)
def test_each_failure_becomes_a_status_and_words_and_the_handler_cleans_up(local, error, status, words):
    job_id = _queued(local)
    cleaned: list[str] = []

    def run(*_):
        raise error

    assert worker.execute_job(job_id, {"echo": _handler(run, cleaned)}, local) == status
    job = JobStore(settings=local).require(job_id)
    assert job.status == status and words in job.error and "Traceback" not in job.error
    assert cleaned == [job_id]


def test_a_job_cancelled_while_waiting_is_skipped(local):
    job_id = _queued(local)
    JobStore(settings=local).request_cancel(job_id)
    assert worker.execute_job(job_id, {}, local) == CANCELLED


def test_the_queue_runs_what_the_worker_entry_point_hands_it(monkeypatch):
    monkeypatch.setattr(queue, "_runner", None)
    with pytest.raises(RuntimeError, match="python -m backend.worker"):
        queue._run_job("job-1")
    seen = []
    queue.set_runner(seen.append)
    queue._run_job("job-1")
    assert seen == ["job-1"]


def test_the_entry_point_registers_every_kind():
    from backend import worker as entry
    from backend.decisions.measure import MEASURE
    from backend.inference.batch import BATCH
    from backend.inference.compression_lab import LAB
    from backend.inference.engine_check import ENGINE_CHECK
    from backend.training.chat.params import CHAT
    from backend.training.classifier.runner import TRAIN
    from backend.training.common import PREFERENCE

    assert set(entry.HANDLERS) == {TRAIN, CHAT, PREFERENCE, BATCH, MEASURE, ENGINE_CHECK, LAB}


def test_every_setting_survives_the_trip_through_the_environment(settings, tmp_path, monkeypatch):
    changed = dataclasses.replace(
        settings,
        state_dir=tmp_path / "state",
        models_dir=tmp_path / "models",
        device="cpu",
        model_memory_mb=1234,
        offline=True,
        queue_backend="redis",
        redis_url="redis://:secret@box:6379/2",
        cpu_quantize="int8",
        cpu_bfloat16="off",
        job_store="postgresql://jobs:secret@db:5432/showcase",
        runs_folder=str(tmp_path / "shared-runs"),
        job_heartbeat_seconds=2.5,
        worker_autostart=False,
    )
    for name, value in config.to_environment(changed).items():
        monkeypatch.setenv(name, value)
    assert config.load_settings(tmp_path / "no-secrets.toml") == changed


def test_the_idle_exit_counts_from_the_end_of_the_last_job_and_never_fires_while_one_runs(local, monkeypatch):
    import threading
    import time

    monkeypatch.setattr(worker, "_activity", worker._Activity())
    monkeypatch.setattr(queue, "pending_count", lambda settings=None: 0)
    exits: list[float] = []
    monkeypatch.setattr(worker.os, "kill", lambda pid, sig: exits.append(time.monotonic()))
    job_id = _queued(local)
    ended: list[float] = []

    def run(*_):
        time.sleep(1.0)  # longer than the idle setting
        ended.append(time.monotonic())
        return {}, {}

    watcher = threading.Thread(target=worker._exit_when_idle, args=(local, 0.4), daemon=True)
    watcher.start()
    time.sleep(0.1)  # the job starts 0.1 s after the worker
    assert worker.execute_job(job_id, {"echo": _handler(run)}, local) == SUCCEEDED
    assert exits == []  # a running job is not idleness
    watcher.join(timeout=5)
    assert len(exits) == 1 and 0.4 <= exits[0] - ended[0] < 2.0


@pytest.mark.parametrize(
    ("error", "full"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
        (RuntimeError("Error while serializing: IoError(Os { code: 28, kind: StorageFull })"), True),
        (RuntimeError("No space left on device"), True),
        (OSError(errno.EACCES, "Permission denied"), False),
        (KeyError("x"), False),
    ],
)
def test_is_disk_full_reads_the_errno_and_the_words(error, full):
    assert worker.is_disk_full(error) is full


def test_is_disk_full_follows_the_exception_chain():
    try:
        try:
            raise OSError(errno.ENOSPC, "full")
        except OSError as cause:
            raise ValueError("saving failed") from cause
    except ValueError as error:
        assert worker.is_disk_full(error)


def _full_disk(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_worker_that_cannot_write_at_start_fails_the_waiting_jobs_and_exits(local, monkeypatch, caplog):
    job_id = _queued(local)
    monkeypatch.setattr(worker, "get_settings", lambda: local)
    monkeypatch.setattr(liveness, "try_lock", _full_disk)
    with caplog.at_level("ERROR"):
        assert worker.main({"echo": _handler(lambda *a: ({}, {}))}, []) == 1
    assert "Disk full: the worker cannot start" in caplog.text and job_id in caplog.text
    assert JobStore(settings=local).require(job_id).status == FAILED


def test_a_worker_start_error_that_is_not_a_full_disk_is_not_hidden(local, monkeypatch):
    monkeypatch.setattr(worker, "get_settings", lambda: local)
    monkeypatch.setattr(liveness, "try_lock", lambda path: (_ for _ in ()).throw(PermissionError("denied")))
    with pytest.raises(PermissionError):
        worker.main({}, [])


@pytest.mark.parametrize("fails", [False, True], ids=["succeeded", "failed"])
def test_memory_is_given_back_after_every_job(local, monkeypatch, fails):
    job_id = _queued(local)
    calls: list[str] = []
    monkeypatch.setattr(worker, "release_memory", lambda: calls.append("released"))

    def run(job, events, should_stop, settings):
        assert calls == []  # not before the job
        calls.append("ran")
        if fails:
            raise InvalidInputError("No echo today.")
        return {}, {}

    assert worker.execute_job(job_id, {"echo": _handler(run)}, local) == (FAILED if fails else SUCCEEDED)
    assert calls == ["ran", "released"]


def test_release_memory_trims_the_c_heap_where_it_can(monkeypatch):
    from backend.models import memory

    freed: list[str] = []
    monkeypatch.setattr(memory, "free_accelerator_memory", lambda: freed.append("accelerator"))
    memory.release_memory()  # on glibc this also calls malloc_trim; elsewhere it is skipped silently
    assert freed == ["accelerator"]
    monkeypatch.setattr(memory.ctypes, "CDLL", lambda name: (_ for _ in ()).throw(OSError(name)))
    memory.release_memory()  # no libc.so.6: no error


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_job_runs_in_the_language_of_whoever_started_it(local, language):
    from backend.i18n import _, current_language

    job_id = new_job_id()
    JobStore(settings=local).create(
        Job(job_id, "echo", "demo", str(local.runs_dir / job_id), params={"language": language})
    )
    seen = []

    def run(job, events, should_stop, settings):
        seen.append((current_language(), _("Loading the base model…")))
        return {}, {}

    assert worker.execute_job(job_id, {"echo": _handler(run)}, local) == SUCCEEDED
    assert seen == [(language, "正在加载基础模型…" if language == "zh" else "Loading the base model…")]
    assert current_language() == "en"  # the worker's own language is back after the job


@pytest.mark.parametrize(
    ("error", "english"),
    [
        (OSError(errno.ENOSPC, "No space left"), "The disk is full"),
        (MemoryError(), "ran out of memory"),
        (KeyError("x"), "failed unexpectedly"),
    ],
)
def test_a_failure_is_told_in_the_language_of_whoever_started_the_job(local, error, english):
    from backend.decisions.measure import MEASURE_HANDLER
    from backend.i18n import translated

    job_id = new_job_id()
    JobStore(settings=local).create(
        Job(job_id, "echo", "demo", str(local.runs_dir / job_id), params={LANGUAGE_PARAM: "zh"})
    )

    def run(*_):
        raise error

    handler = dataclasses.replace(MEASURE_HANDLER, run=run)
    assert worker.execute_job(job_id, {"echo": handler}, local) == FAILED
    job = JobStore(settings=local).require(job_id)
    assert english not in job.error and job.message not in ("Failed", "Disk full", "Out of memory")
    said = translated(MEASURE_HANDLER.output if "disk" in english else MEASURE_HANDLER.doing, "zh")
    assert said in job.error and said != (MEASURE_HANDLER.output if "disk" in english else MEASURE_HANDLER.doing)
