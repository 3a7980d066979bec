"""A damaged SQLite job database is moved aside and rebuilt from the run folders, and users are told once."""

from __future__ import annotations

import json
import sqlite3

from backend.i18n import use_language
from backend.jobs.recovery import RECOVERED_ERROR, is_damaged
from backend.jobs.run_records import JOB_RECORD
from backend.jobs.store import FAILED, LANGUAGE_PARAM, SUCCEEDED, Job, JobStore, new_job_id
from tests.support.translation_marks import wrap_every_translation


def test_a_damaged_job_database_is_moved_aside_and_rebuilt_from_the_run_folders(local):
    store = JobStore(settings=local)
    done, waiting = new_job_id(), new_job_id()
    for job_id, title in ((done, "Done"), (waiting, "Waiting")):
        (local.runs_dir / job_id).mkdir(parents=True)
        store.create(
            Job(job_id, "train", "text", str(local.runs_dir / job_id), owner="ann", title=title, params={"epochs": 1})
        )
    store.claim(done)
    store.finish(done, SUCCEEDED, metrics={"accuracy": 0.9}, artefacts={"model_dir": "m", "model_task": "t"})
    assert json.loads((local.runs_dir / done / JOB_RECORD).read_text())["status"] == SUCCEEDED
    (local.runs_dir / "junk").mkdir()
    (local.runs_dir / "junk" / JOB_RECORD).write_text("{not json")
    older = local.runs_dir / "20250101-000000-abcdef"  # from before job.json records
    older.mkdir()
    (older / "params.json").write_text(json.dumps({"task": "image", "method": "full", "title": "Old run"}))
    local.jobs_db.write_bytes(b"this is not a database at all" * 100)

    rebuilt = JobStore(settings=local)
    assert list(local.jobs_db.parent.glob(local.jobs_db.name + ".corrupt-*"))
    jobs = {job.id: job for job in rebuilt.list_jobs(owner="ann")}
    assert set(jobs) == {done, waiting}
    (old,) = rebuilt.list_jobs(owner="")
    assert (old.id, old.title, old.task, old.status, old.error) == (
        older.name,
        "Old run",
        "image",
        FAILED,
        RECOVERED_ERROR,
    )
    assert jobs[done].status == SUCCEEDED and jobs[done].metrics == {"accuracy": 0.9}
    assert jobs[done].artefacts["model_dir"] == "m" and jobs[done].title == "Done"
    assert jobs[waiting].status == FAILED and jobs[waiting].error == RECOVERED_ERROR
    notice = rebuilt.recovery_notice()
    assert notice == (
        "The job database was damaged and has been rebuilt from the run folders (3 jobs recovered). "
        "Jobs that had not finished were marked failed; their logs and curves are lost."
    )
    assert JobStore(settings=local).take_recovery_notice() == notice
    assert JobStore(settings=local).recovery_notice() is None  # shown once

    new = new_job_id()
    (local.runs_dir / new).mkdir()
    assert rebuilt.create(Job(new, "train", "text", str(local.runs_dir / new), owner="ann")).status == "queued"
    assert len(JobStore(settings=local).list_jobs(owner="ann")) == 3


def test_a_locked_database_is_not_mistaken_for_a_damaged_one():
    assert not is_damaged(sqlite3.OperationalError("database is locked"))
    assert is_damaged(sqlite3.DatabaseError("file is not a database"))


def test_after_a_rebuild_each_reader_and_each_jobs_owner_is_told_in_their_language(local, monkeypatch):
    store = JobStore(settings=local)
    waiting = new_job_id()
    (local.runs_dir / waiting).mkdir(parents=True)
    store.create(Job(waiting, "train", "text", str(local.runs_dir / waiting), params={LANGUAGE_PARAM: "zh"}))
    local.jobs_db.write_bytes(b"this is not a database at all" * 100)
    wrap_every_translation(monkeypatch)

    rebuilt = JobStore(settings=local)
    job = rebuilt.require(waiting)
    # The job was started by a Chinese reader: its status line and error are theirs.
    assert (job.message, job.error) == ("‹Recovered›", f"‹{RECOVERED_ERROR}›")
    assert rebuilt.recovery_notice().startswith("The job database was damaged") and "(1 job recovered)" in (
        rebuilt.recovery_notice()
    )
    with use_language("zh"):
        notice = rebuilt.recovery_notice()
    assert notice.startswith("‹The job database was damaged") and notice.endswith("›")
