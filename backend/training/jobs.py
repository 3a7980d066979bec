"""What the fine-tuning pages call: check data, submit, list and compare training jobs.

Submitting prepares and checks the data first (nothing is queued when it is bad), writes it and
the parameters into a new run folder, records the job (kind ``train``), and puts its id on the
queue. Viewing, cancelling and deleting a job is the same for every kind (``backend.jobs.manage``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from backend.config import Settings, get_settings
from backend.errors import InvalidInputError
from backend.jobs import queue
from backend.jobs.store import Job, JobStore, new_job_id
from backend.models.plan import plan_load
from backend.training.datasets import PreparedDataset, prepare_text_dataset
from backend.training.evaluation import EVALUATION_FILE, EvaluationReport
from backend.training.image_data import prepare_image_dataset
from backend.training.params import IMAGE, TEXT, TrainingParams
from backend.training.runner import DATA_FOLDER, TRAIN, base_model_task

COMPARED_METRICS = ("accuracy", "precision", "recall", "f1")


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
        job = JobStore(settings=settings).create(
            job_id,
            TRAIN,
            params.task,
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
    """The owner's training jobs, newest first (reads only).

    Batch jobs share the queue and store but belong to the demo pages (``backend.inference.batch``).
    """
    return JobStore(settings=settings).list_jobs(owner=owner, statuses=statuses, task=task, kinds=(TRAIN,))


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
