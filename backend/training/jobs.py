"""What the fine-tuning pages call: check data, submit, watch, cancel, delete and compare jobs.

Submitting prepares and checks the data first (nothing is queued when it is bad), writes it and
the parameters into a new run folder, records the job, and puts its id on the queue.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from backend.config import Settings, get_settings
from backend.errors import InvalidInputError
from backend.models.plan import plan_load
from backend.training import queue
from backend.training.datasets import PreparedDataset, prepare_text_dataset
from backend.training.evaluation import EVALUATION_FILE, EvaluationReport
from backend.training.image_data import prepare_image_dataset
from backend.training.job_store import FINISHED, RUNNING, Job, JobStore, new_job_id
from backend.training.params import IMAGE, METHODS, TEXT, TrainingParams
from backend.training.runner import base_model_task
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


def check_text_data(
    frame: pd.DataFrame,
    text_column: str,
    label_column: str,
    validation_frame: pd.DataFrame | None = None,
    validation_fraction: float = 0.2,
    max_length: int = 128,
    drop_incomplete: bool = False,
) -> PreparedDataset:
    """Run every pre-training check on a table without queuing anything (raises on errors)."""
    return prepare_text_dataset(
        frame,
        text_column,
        label_column,
        validation_frame,
        validation_fraction,
        max_length=max_length,
        drop_incomplete=drop_incomplete,
    )


def check_image_data(
    name: str, data: bytes, validation_fraction: float = 0.2, settings: Settings | None = None
) -> PreparedDataset:
    """Run every pre-training check on an image zip in a scratch folder that is then removed."""
    settings = settings or get_settings()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.state_dir, prefix="check-") as scratch:
        return prepare_image_dataset(name, data, Path(scratch), validation_fraction)


def _submit(params: TrainingParams, prepare: Any, owner: str, settings: Settings) -> Job:
    params.validate()
    # A base model that can never load (no such folder, pickle weights, outside the models
    # folder) is refused here, as the data is, rather than by the worker after queuing.
    plan_load(base_model_task(params.task, params.method), params.base_model, settings)
    job_id = new_job_id()
    run_dir = settings.runs_dir / job_id
    try:
        prepared: PreparedDataset = prepare(run_dir / DATA_FOLDER)
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
    params: TrainingParams,
    frame: pd.DataFrame,
    text_column: str,
    label_column: str,
    validation_frame: pd.DataFrame | None = None,
    drop_incomplete: bool = False,
    owner: str = "",
    settings: Settings | None = None,
) -> Job:
    """Check a table, store it with the parameters in a new run folder and queue the job.

    Raises:
        InvalidInputError: bad parameters or data (nothing is queued).
        ShowcaseError: a base model that cannot load (``plan_load``'s errors; nothing is queued).
    """
    if params.task != TEXT:
        raise InvalidInputError("These parameters are not for text classification.")

    def prepare(_data_dir: Path) -> PreparedDataset:
        return prepare_text_dataset(
            frame,
            text_column,
            label_column,
            validation_frame,
            params.validation_fraction,
            params.seed,
            params.max_length,
            drop_incomplete,
        )

    return _submit(params, prepare, owner, settings or get_settings())


def submit_image_job(
    params: TrainingParams, name: str, data: bytes, owner: str = "", settings: Settings | None = None
) -> Job:
    """Extract and check an image zip into a new run folder and queue the job.

    Raises:
        InvalidInputError: bad parameters or archive (nothing is queued).
        ShowcaseError: a base model that cannot load (``plan_load``'s errors; nothing is queued).
    """
    if params.task != IMAGE:
        raise InvalidInputError("These parameters are not for image classification.")

    def prepare(data_dir: Path) -> PreparedDataset:
        return prepare_image_dataset(name, data, data_dir, params.validation_fraction, params.seed)

    return _submit(params, prepare, owner, settings or get_settings())


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
