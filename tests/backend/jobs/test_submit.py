"""Submitting and retrying a job of any kind, with a real job store and queue and a kind made
here (``note``), so the generic path is tested without any task's code."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from backend.config import Settings
from backend.errors import InvalidInputError, ShowcaseError
from backend.jobs import queue, submit
from backend.jobs.kinds import JobKind, handlers_of
from backend.jobs.run_records import PARAMS_FILE
from backend.jobs.store import FAILED, QUEUED, SUCCEEDED, JobStore
from backend.jobs.worker import JobHandler

INPUT = "input.txt"
EXTRA = "extra"


@dataclass(frozen=True)
class NoteParams:
    text: str
    title: str = ""
    base_model: str = "org/model"
    method: str = ""

    @property
    def task(self) -> str:
        return "note"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NoteParams:
        return cls(**data)


def _check(params: NoteParams, owner: str, settings: Settings) -> None:
    if params.text == "refused":
        raise InvalidInputError("This note is refused.")


NOTE = JobKind(
    name="note",
    noun="note job",
    handler=JobHandler(run=lambda *args: ({}, {}), doing="The note", output="note", memory_advice="None"),
    check=_check,
    load_params=NoteParams.from_dict,
    input_record=INPUT,
    input_paths=(INPUT, EXTRA),
)
OTHER = dataclasses.replace(NOTE, name="other", noun="other job")


def _write(text: str):
    def write_input(run_dir: Path) -> dict[str, Any]:
        (run_dir / INPUT).write_text(text, encoding="utf-8")
        (run_dir / EXTRA).mkdir()
        (run_dir / EXTRA / "part.bin").write_bytes(b"\x00\x01")
        return {"characters": len(text)}

    return write_input


def _end(settings: Settings, job_id: str, status: str) -> None:
    store = JobStore(settings=settings)
    store.claim(job_id)
    store.finish(job_id, status, error="stopped" if status == FAILED else "")


def test_a_submitted_job_has_its_input_params_record_and_place_in_the_queue(local):
    job = submit.submit_job(NOTE, NoteParams("hello", title="First"), _write("hello"), "ann", local)
    run_dir = Path(job.run_dir)
    assert (run_dir / INPUT).read_text(encoding="utf-8") == "hello"
    assert json.loads((run_dir / "params.json").read_text(encoding="utf-8"))["text"] == "hello"
    stored = JobStore(settings=local).require(job.id, "ann")
    assert (stored.kind, stored.task, stored.title, stored.status, stored.dataset) == (
        "note",
        "note",
        "First",
        QUEUED,
        {"characters": 5},
    )
    assert queue.pending_count(local) == 1


def test_a_refused_submission_writes_and_queues_nothing(local):
    with pytest.raises(InvalidInputError, match="refused"):
        submit.submit_job(NOTE, NoteParams("refused"), _write("refused"), "ann", local)
    assert JobStore(settings=local).list_jobs() == []
    assert not local.runs_dir.exists() or list(local.runs_dir.iterdir()) == []


def test_an_unreachable_queue_leaves_no_folder_and_no_record(local):
    unreachable = dataclasses.replace(local, queue_backend="redis", redis_url="redis://127.0.0.1:1/0")
    with pytest.raises(ShowcaseError, match="cannot be reached"):
        submit.submit_job(NOTE, NoteParams("hello"), _write("hello"), "ann", unreachable)
    assert JobStore(settings=local).list_jobs() == []
    assert list(local.runs_dir.iterdir()) == []


def test_a_retry_reuses_the_input_counts_itself_and_keeps_the_old_job(local):
    old = submit.submit_job(NOTE, NoteParams("hello", title="First"), _write("hello"), "ann", local)
    _end(local, old.id, FAILED)
    new = submit.retry_job(NOTE, old.id, "ann", local)
    assert new.id != old.id
    assert (new.kind, new.params, new.dataset, new.owner, new.status) == (
        "note",
        old.params,
        {**old.dataset, "retries": 1},
        "ann",
        QUEUED,
    )
    for job in (old, new):
        assert (Path(job.run_dir) / EXTRA / "part.bin").read_bytes() == b"\x00\x01"
    # Linked, not copied: a retry stores no second copy of its input.
    old_part, new_part = (Path(job.run_dir) / EXTRA / "part.bin" for job in (old, new))
    assert old_part.stat().st_ino == new_part.stat().st_ino
    assert JobStore(settings=local).require(old.id).status == FAILED


def test_a_retry_is_refused_for_another_kind_an_unfinished_or_succeeded_job_or_gone_input(local):
    job = submit.submit_job(NOTE, NoteParams("hello"), _write("hello"), "ann", local)
    with pytest.raises(InvalidInputError, match="only a failed or cancelled job"):
        submit.retry_job(NOTE, job.id, "ann", local)
    _end(local, job.id, SUCCEEDED)
    with pytest.raises(InvalidInputError, match="only a failed or cancelled job"):
        submit.retry_job(NOTE, job.id, "ann", local)
    other = submit.submit_job(NOTE, NoteParams("again"), _write("again"), "ann", local)
    _end(local, other.id, FAILED)
    with pytest.raises(InvalidInputError, match="No other job"):
        submit.retry_job(OTHER, other.id, "ann", local)
    (Path(other.run_dir) / INPUT).unlink()
    with pytest.raises(InvalidInputError, match="no longer there"):
        submit.retry_job(NOTE, other.id, "ann", local)
    assert len(JobStore(settings=local).list_jobs()) == 2


def test_the_worker_table_has_each_kinds_handler():
    assert handlers_of((NOTE, OTHER)) == {"note": NOTE.handler, "other": OTHER.handler}


def test_a_job_keeps_the_language_of_whoever_started_it(local):
    from backend.i18n import use_language

    with use_language("zh"):
        job = submit.submit_job(NOTE, NoteParams("你好"), _write("你好"), "ann", local)
    assert job.language == "zh"
    assert json.loads((Path(job.run_dir) / PARAMS_FILE).read_text(encoding="utf-8"))["language"] == "zh"
    assert submit.submit_job(NOTE, NoteParams("hello"), _write("hello"), "ann", local).language == "en"
