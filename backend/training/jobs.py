"""What the fine-tuning pages call: check data, submit, list and compare training jobs.

Data is checked before it is submitted: a table by ``datasets.prepare_text_dataset``, an image
zip by ``staging.check_image_data``. Submitting takes that checked dataset as it is (nothing is
prepared twice, nothing is queued when data or parameters are bad), writes it and the parameters
into a new run folder, records the job, and puts its id on the queue. Viewing,
cancelling and deleting a job is the same for every kind (``backend.jobs.manage``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from backend.config import Settings, get_settings
from backend.errors import InvalidInputError
from backend.jobs import queue
from backend.jobs.store import CANCELLED, FAILED, Job, JobStore, new_job_id
from backend.model_access import check_model_access
from backend.models import availability
from backend.models.resolve.plan import plan_load
from backend.training import staging
from backend.training.chat_params import CHAT
from backend.training.datasets import PreparedDataset
from backend.training.evaluation import EVALUATION_FILE, EvaluationReport
from backend.training.params import IMAGE, TEXT, TrainingParams
from backend.training.runner import DATA_FOLDER, TRAIN, base_model_task

COMPARED_METRICS = ("accuracy", "precision", "recall", "f1")
RETRYABLE = (FAILED, CANCELLED)
Dataset = TypeVar("Dataset")


def check_base_model(params: TrainingParams, owner: str, settings: Settings | None = None) -> None:
    """Refuse a base model that can never load, or that is another owner's, before anything is queued.

    The page's *Check data* calls it, and so does every submission: no such folder, pickle
    weights, a folder outside the models folder or in another owner's workspace, or a base that is
    not downloaded while the hub is out of reach fail here, fast (no weights read; at most the
    remembered hub probe), rather than in the worker after queuing.

    Raises:
        ShowcaseError: ``plan_load``'s and ``check_model_access``'s errors.
        HubUnreachableError: the base is not downloaded and the hub cannot serve it now.
    """
    settings = settings or get_settings()
    plan_load(base_model_task(params.task, params.method), params.base_model, settings)
    check_model_access(params.base_model, owner, settings)
    availability.require_base(params.base_model, settings)


def queue_new_run(
    kind: str, task: str, params: Any, write_data: Callable[[Path], dict[str, Any]], owner: str, settings: Settings
) -> Job:
    """Make a run folder, write the data into it (``write_data`` returns the job's summary) and
    the parameters, record the job and queue it; any failure removes the folder and the record.

    ``params`` is a training or chat-tuning parameter set (``title``, ``method``, ``base_model``,
    ``to_dict`` and ``save``), already validated and its base model checked.
    """
    job_id = new_job_id()
    run_dir = settings.runs_dir / job_id
    try:
        summary = write_data(run_dir)
        params.save(run_dir)
        job = JobStore(settings=settings).create(
            job_id,
            kind,
            task,
            params.to_dict(),
            summary,
            run_dir,
            owner,
            title=params.title,
            method=params.method,
            base_model=params.base_model,
        )
        queue.enqueue_job(job_id, settings)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        JobStore(settings=settings).delete(job_id)
        raise
    return job


def _submit(params: TrainingParams, prepare: Callable[[Path], PreparedDataset], owner: str, settings: Settings) -> Job:
    params.validate()
    check_base_model(params, owner, settings)

    def write_data(run_dir: Path) -> dict[str, Any]:
        prepared = prepare(run_dir / DATA_FOLDER)
        prepared.save(run_dir / DATA_FOLDER)
        return {**prepared.summary, "warnings": prepared.warnings, "class_names": prepared.classes}

    return queue_new_run(TRAIN, params.task, params, write_data, owner, settings)


def submit_text_job(
    params: TrainingParams, prepared: PreparedDataset, owner: str = "", settings: Settings | None = None
) -> Job:
    """Store a checked table with the parameters in a new run folder and queue the job.

    Args:
        params: the job's parameters; ``validation_fraction``, ``seed`` and ``max_length`` must be
            the ones ``prepared`` was made with.
        prepared: the result of ``datasets.prepare_text_dataset`` (the page's *Check data*), used
            as it is: the table is not prepared a second time.
        owner: who may see the job.
        settings: settings to use (default: the process settings).

    Raises:
        InvalidInputError: bad parameters, or data not prepared for text (nothing is queued).
        ShowcaseError: a base model that cannot load (``plan_load``'s errors; nothing is queued).
    """
    if params.task != TEXT or prepared.task != TEXT:
        raise InvalidInputError("These parameters or data are not for text classification.")
    # A copy, because saving records the run folder in it and the page keeps the checked original.
    return _submit(params, lambda _data_dir: replace(prepared), owner, settings or get_settings())


def submit_image_job(
    params: TrainingParams, prepared: PreparedDataset, owner: str = "", settings: Settings | None = None
) -> Job:
    """Move a checked image zip's images into a new run folder and queue the job.

    Args:
        params: the job's parameters; ``validation_fraction`` and ``seed`` must be the ones
            ``prepared`` was made with.
        prepared: the result of ``staging.check_image_data`` (the page's *Check data*); its
            images are moved, not checked again, so it can be submitted once.
        owner: who may see the job.
        settings: settings to use (default: the process settings).

    Raises:
        InvalidInputError: bad parameters, data not for images, or images already submitted
            (nothing is queued).
        ShowcaseError: a base model that cannot load (``plan_load``'s errors; nothing is queued).
    """
    if params.task != IMAGE or prepared.task != IMAGE:
        raise InvalidInputError("These parameters or data are not for image classification.")
    settings = settings or get_settings()
    return _submit(params, lambda data_dir: staging.move_staged(prepared, data_dir, settings), owner, settings)


def load_retry_data(
    job_id: str,
    owner: str,
    kind: str,
    kind_name: str,
    data_folder: str,
    load: Callable[[Path], Dataset],
    settings: Settings,
) -> tuple[Job, Path, Dataset]:
    """The failed or cancelled job ``job_id`` of ``kind`` that a retry starts from, its run's data
    folder, and the data ``load`` reads from it.

    Raises:
        InvalidInputError: no such job of ``kind`` (called ``kind_name`` in the message) for this
            owner, a job that did not fail and was not cancelled, or data outside the runs folder
            or no longer there.
    """
    job = JobStore(settings=settings).require(job_id, owner)
    if job.kind != kind:
        raise InvalidInputError(f"No {kind_name} job {job_id!r}.", "It may have been deleted.")
    if job.status not in RETRYABLE:
        raise InvalidInputError(f"The job is {job.status}; only a failed or cancelled job can be retried.")
    source = Path(job.run_dir).resolve() / data_folder
    # The path comes from the database; read or copy nothing from outside the runs folder.
    if settings.runs_dir.resolve() not in source.parents:
        raise InvalidInputError("The job's data is not in the runs folder.", "Start a new job instead.")
    try:
        data = load(source)
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise InvalidInputError("The job's data is no longer there.", "Start a new job instead.") from error
    return job, source, data


def retry_job(job_id: str, owner: str, settings: Settings | None = None) -> Job:
    """Queue a new job with a failed or cancelled training job's kind, parameters, owner and data.

    The old job's prepared dataset (its run folder's ``data/``, images included) is copied, not
    moved, into the new run folder, and goes through the same submission as a new job (the base
    model is checked again). The old job stays, for reference.

    Raises:
        InvalidInputError: no such training job for this owner, a job that did not fail or was
            not cancelled, or its data is gone (nothing is queued).
        ShowcaseError: a base model that can no longer load (nothing is queued).
    """
    settings = settings or get_settings()
    job, source, prepared = load_retry_data(
        job_id, owner, TRAIN, "training", DATA_FOLDER, PreparedDataset.load, settings
    )
    params = TrainingParams.from_dict(job.params)

    def copy(data_dir: Path) -> PreparedDataset:
        shutil.copytree(source, data_dir)
        return replace(prepared, data_dir=str(data_dir))

    return _submit(params, copy, job.owner, settings)


def list_jobs(
    owner: str, statuses: tuple[str, ...] = (), task: str | None = None, settings: Settings | None = None
) -> list[Job]:
    """The owner's training jobs, newest first (reads only).

    Chat-tuning jobs (``backend.training.chat_jobs``) are listed with them. Batch jobs share the
    queue and store but belong to the demo pages (``backend.inference.batch``).
    """
    return JobStore(settings=settings).list_jobs(owner=owner, statuses=statuses, task=task, kinds=(TRAIN, CHAT))


def load_report(job: Job) -> EvaluationReport | None:
    """The evaluation report of a finished job, if it has one."""
    path = Path(job.run_dir) / EVALUATION_FILE
    if not path.is_file():
        return None
    try:
        return EvaluationReport.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def compare_jobs(job_ids: list[str], owner: str, settings: Settings | None = None) -> list[dict[str, Any]]:
    """One row per finished job: title, base model, method, key parameters and metrics."""
    store = JobStore(settings=settings)
    rows = []
    for job_id in job_ids:
        job = store.get(job_id, owner)
        if job is None:
            continue
        row = {
            "job": job.id,
            "title": job.title or job.id,
            "task": job.task,
            "method": job.method,
            "base_model": job.base_model,
            "status": job.status,
            "epochs": job.params.get("epochs"),
            "learning_rate": job.params.get("learning_rate"),
            "batch_size": job.params.get("batch_size"),
            "train_size": job.dataset.get("train_size"),
            "seconds": job.metrics.get("seconds"),
        }
        row.update({name: job.metrics.get(name) for name in COMPARED_METRICS})
        rows.append(row)
    return rows
