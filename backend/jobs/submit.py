"""Submitting and retrying a job, the same for every kind.

Submitting runs the kind's checks first (nothing is written for a job that would be refused),
then makes a run folder, writes the input into it (the caller's ``write_input``) and the
parameters (``params.json``), records the job and puts its id on the queue; any failure on the
way removes the folder and the record, so nothing half-made is left. Retrying a failed or
cancelled job submits a new one of the same kind, parameters and owner, with the old run's input
linked (copied where links cannot be made; never moved: the old job stays, for reference). Every
submission and retry passes the visitor's and workspace's quotas first (``quotas.admit``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backend.config import Settings, get_settings
from backend.errors import InvalidInputError
from backend.i18n import _, current_language
from backend.jobs import queue, quotas
from backend.jobs.kinds import JobKind, JobParams
from backend.jobs.run_records import PARAMS_FILE
from backend.jobs.store import CANCELLED, FAILED, LANGUAGE_PARAM, Job, JobStore, new_job_id

RETRYABLE = (FAILED, CANCELLED)


def write_params_file(params: dict[str, Any], run_dir: Path) -> Path:
    """Write a job's parameters as ``params.json`` into its run folder; returns the file."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / PARAMS_FILE
    path.write_text(json.dumps(params, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def submit_job(
    kind: JobKind,
    params: JobParams,
    write_input: Callable[[Path], dict[str, Any]],
    owner: str,
    settings: Settings | None = None,
    retry_of: Job | None = None,
) -> Job:
    """Check, store and queue one job of ``kind``.

    Args:
        kind: the job's kind; its ``check`` runs before anything is written.
        params: the job's parameters (not validated yet: ``kind.check`` does it).
        write_input: writes the job's input into the new run folder (which exists) and returns
            the job's summary of it (stored as ``Job.dataset``).
        owner: who may see the job and what it makes.
        settings: settings to use (default: the process settings).
        retry_of: the failed or cancelled job this one retries (it counts against the retry quota).

    Raises:
        ShowcaseError: the kind's checks or a quota refused it, or the queue cannot be reached
            (nothing is left behind).
    """
    settings = settings or get_settings()
    kind.check(params, owner, settings)
    job_id = new_job_id()
    quotas.admit(job_id, owner, settings, retry_of)
    run_dir = settings.runs_dir / job_id
    store = JobStore(settings=settings)
    try:
        run_dir.mkdir(parents=True)
        summary = write_input(run_dir)
        # Stored with the job, so the worker writes its messages and model card in this language.
        stored = {**params.to_dict(), LANGUAGE_PARAM: current_language()}
        write_params_file(stored, run_dir)
        job = store.create(
            Job(
                id=job_id,
                kind=kind.name,
                task=params.task,
                run_dir=str(run_dir),
                owner=owner,
                title=params.title,
                method=params.method,
                base_model=params.base_model,
                params=stored,
                dataset=summary,
            )
        )
        queue.enqueue_job(job_id, settings)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        store.delete(job_id)
        raise
    return job


def retry_job(kind: JobKind, job_id: str, owner: str, settings: Settings | None = None) -> Job:
    """Queue a new job with a failed or cancelled job's kind, parameters, owner and input.

    The new job goes through the same checks as a new submission (the base model is checked
    again).

    Raises:
        InvalidInputError: no such job of ``kind`` for this owner, a job that did not fail and was
            not cancelled, or its input is outside the runs folder or gone (nothing is queued).
        ShowcaseError: the kind's checks refuse it now (nothing is queued).
    """
    settings = settings or get_settings()
    job = JobStore(settings=settings).require(job_id, owner)
    if job.kind != kind.name:
        raise InvalidInputError(
            _("No {noun} {job_id!r}.").format(noun=_(kind.noun), job_id=job_id), _("It may have been deleted.")
        )
    if job.status not in RETRYABLE:
        raise InvalidInputError(
            _("The job is {status}; only a failed or cancelled job can be retried.").format(status=job.status)
        )
    source = Path(job.run_dir).resolve()
    # The path comes from the database; read or copy nothing from outside the runs folder.
    if settings.runs_dir.resolve() not in source.parents:
        raise InvalidInputError(_("The job's data is not in the runs folder."), _("Start a new job instead."))
    if not (source / kind.input_record).is_file():
        raise InvalidInputError(_("The job's data is no longer there."), _("Start a new job instead."))

    def reuse_input(run_dir: Path) -> dict[str, Any]:
        for name in kind.input_paths:
            if (source / name).exists():
                quotas.reuse_input(source / name, run_dir / name)
        return {**job.dataset, **quotas.retries_after(job)}

    # The kind's own parameters; the retry is in the language of whoever retries it.
    own = {name: value for name, value in job.params.items() if name != LANGUAGE_PARAM}
    return submit_job(kind, kind.load_params(own), reuse_input, job.owner, settings, job)
