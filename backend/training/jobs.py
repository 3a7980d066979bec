"""What the fine-tuning pages call: check data, submit, watch, cancel, delete and compare jobs.

Data is checked before it is submitted: a table by ``datasets.prepare_text_dataset``, an image
zip by ``staging.check_image_data``. Submitting takes that checked dataset as it is (nothing is
prepared twice, nothing is queued when data or parameters are bad), writes it and the parameters
into a new run folder, records the job, and puts its id on the queue.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from backend.config import Settings, get_settings
from backend.errors import InvalidInputError
from backend.training import queue, staging
from backend.training.datasets import PreparedDataset
from backend.training.evaluation import EVALUATION_FILE, EvaluationReport
from backend.training.job_store import FINISHED, RUNNING, Job, JobStore, new_job_id
from backend.training.params import IMAGE, METHODS, TEXT, TrainingParams
from backend.training.worker import DATA_FOLDER, worker_alive

COMPARED_METRICS = ("accuracy", "precision", "recall", "f1")


@dataclass
class JobView:
    """Everything the live view of one job shows."""

    job: Job
    queue_position: int | None
    history: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    report: EvaluationReport | None = None
    worker_alive: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "job": self.job.to_dict(),
            "queue_position": self.queue_position,
            "history": self.history,
            "logs": self.logs,
            "report": self.report.to_dict() if self.report else None,
            "worker_alive": self.worker_alive,
        }


def _submit(params: TrainingParams, prepare: Callable[[Path], PreparedDataset], owner: str, settings: Settings) -> Job:
    params.validate()
    job_id = new_job_id()
    run_dir = settings.runs_dir / job_id
    try:
        prepared = prepare(run_dir / DATA_FOLDER)
        prepared.save(run_dir / DATA_FOLDER)
        params.save(run_dir)
        summary = {**prepared.summary, "warnings": prepared.warnings, "class_names": prepared.classes}
        job = JobStore(settings=settings).create(job_id, params.to_dict(), summary, run_dir, owner)
        queue.enqueue_job(job_id, settings)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        JobStore(settings=settings).delete(job_id)
        raise
    return job


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
    """
    if params.task != IMAGE or prepared.task != IMAGE:
        raise InvalidInputError("These parameters or data are not for image classification.")
    settings = settings or get_settings()
    return _submit(params, lambda data_dir: staging.move_staged(prepared, data_dir, settings), owner, settings)


def list_jobs(
    owner: str, statuses: tuple[str, ...] = (), task: str | None = None, settings: Settings | None = None
) -> list[Job]:
    """The owner's training jobs, newest first; jobs of dead workers are marked failed first.

    Batch jobs share the queue and store but belong to the demo pages (``batch_jobs``).
    """
    store = JobStore(settings=settings)
    store.reap_dead_jobs()
    return store.list_jobs(owner=owner, statuses=statuses, task=task, methods=METHODS)


def load_report(job: Job) -> EvaluationReport | None:
    """The evaluation report of a finished job, if it has one."""
    path = Path(job.run_dir) / EVALUATION_FILE
    if not path.is_file():
        return None
    try:
        return EvaluationReport.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def view_job(job_id: str, owner: str, settings: Settings | None = None) -> JobView:
    """Status, queue position, curves, logs and (when done) the report of one job.

    Raises:
        InvalidInputError: no such job for this owner.
    """
    settings = settings or get_settings()
    store = JobStore(settings=settings)
    store.reap_dead_jobs()
    job = store.require(job_id, owner)
    return JobView(
        job=job,
        queue_position=store.queue_position(job_id),
        history=store.metric_history(job_id),
        logs=store.logs(job_id),
        report=load_report(job) if job.is_finished else None,
        worker_alive=worker_alive(settings),
    )


def cancel_job(job_id: str, owner: str, settings: Settings | None = None) -> Job:
    """Cancel a waiting job at once, or ask a running one to stop within seconds."""
    store = JobStore(settings=settings)
    job = store.require(job_id, owner)
    if job.is_finished:
        raise InvalidInputError(f"The job has already {job.status}.")
    return store.request_cancel(job_id)


def delete_job(job_id: str, owner: str, settings: Settings | None = None) -> None:
    """Remove a finished or waiting job, its run folder and its model.

    Raises:
        InvalidInputError: the job is running (cancel it first) or does not exist.
    """
    settings = settings or get_settings()
    store = JobStore(settings=settings)
    job = store.require(job_id, owner)
    if job.status == RUNNING:
        raise InvalidInputError("The job is still running.", "Cancel it first, then delete it.")
    if job.status not in FINISHED:
        store.request_cancel(job_id)
    run_dir = Path(job.run_dir).resolve()
    runs_root = settings.runs_dir.resolve()
    # The path comes from the database; never delete anything outside the runs folder.
    if runs_root in run_dir.parents:
        shutil.rmtree(run_dir, ignore_errors=True)
    store.delete(job_id)


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
