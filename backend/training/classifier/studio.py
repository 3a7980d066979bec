"""What the studio's classifier screens call: check data, submit, retry, list and compare training jobs.

Data is checked before it is submitted: a table by ``datasets.prepare_text_dataset``, an image
zip by ``staging.check_image_data``. Submitting takes that checked dataset as it is (nothing is
prepared twice, nothing is queued when data or parameters are bad) through the generic
``backend.jobs.submit`` with the ``train`` kind declared here. Viewing, cancelling and deleting
a job is the same for every kind (``backend.jobs.manage``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from backend.config import Settings, get_settings
from backend.errors import InvalidInputError
from backend.i18n import N_, _
from backend.jobs import submit
from backend.jobs.store import Job, JobStore
from backend.model_gate import check_job_model
from backend.training.classifier import staging
from backend.training.classifier.datasets import DATASET_FILE, PreparedDataset
from backend.training.classifier.params import IMAGE, TEXT, TrainingParams
from backend.training.classifier.runner import TRAIN, TRAINING_HANDLER, base_model_task
from backend.training.common import CHAT, DATA_FOLDER, PREFERENCE, read_json_report, training_kind
from backend.training.evaluation import EVALUATION_FILE, EvaluationReport

COMPARED_METRICS = ("accuracy", "precision", "recall", "f1")


def check_base_model(params: TrainingParams, owner: str, settings: Settings | None = None) -> None:
    """Refuse a base model that can never load, or that is another owner's, before anything is queued.

    The page's *Check data* calls it, and so does every submission (``check_job_model``).

    Raises:
        ShowcaseError: ``check_job_model``'s errors.
    """
    check_job_model(
        base_model_task(params.task, params.method), params.base_model, owner, settings or get_settings(), training=True
    )


CLASSIFIER_KIND = training_kind(
    TRAIN, N_("training job"), TRAINING_HANDLER, check_base_model, TrainingParams.from_dict, DATASET_FILE
)


def _submit(params: TrainingParams, prepare: Callable[[Path], PreparedDataset], owner: str, settings: Settings) -> Job:
    def write_data(run_dir: Path) -> dict[str, Any]:
        prepared = prepare(run_dir / DATA_FOLDER)
        prepared.save(run_dir / DATA_FOLDER)
        return {**prepared.summary, "warnings": prepared.warnings, "class_names": prepared.classes}

    return submit.submit_job(CLASSIFIER_KIND, params, write_data, owner, settings)


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
        raise InvalidInputError(_("These parameters or data are not for text classification."))
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
        raise InvalidInputError(_("These parameters or data are not for image classification."))
    settings = settings or get_settings()
    return _submit(params, lambda data_dir: staging.move_staged(prepared, data_dir, settings), owner, settings)


def retry_job(job_id: str, owner: str, settings: Settings | None = None) -> Job:
    """Queue a new job with a failed or cancelled training job's parameters, owner and data
    (``backend.jobs.submit.retry_job``: the data is copied, the base model checked again).

    Raises:
        InvalidInputError: no such training job for this owner, a job that did not fail or was
            not cancelled, or its data is gone (nothing is queued).
        ShowcaseError: a base model that can no longer load (nothing is queued).
    """
    return submit.retry_job(CLASSIFIER_KIND, job_id, owner, settings)


def list_jobs(
    owner: str, statuses: tuple[str, ...] = (), task: str | None = None, settings: Settings | None = None
) -> list[Job]:
    """The owner's training jobs, newest first (reads only).

    Chat- and preference-tuning jobs (``backend.training.chat.studio``,
    ``backend.training.preference.studio``) are listed with them. Batch jobs share the
    queue and store but belong to the demo pages (``backend.inference.batch``).
    """
    return JobStore(settings=settings).list_jobs(
        owner=owner, statuses=statuses, task=task, kinds=(TRAIN, CHAT, PREFERENCE)
    )


def load_report(job: Job) -> EvaluationReport | None:
    """The evaluation report of a finished job, if it has one."""
    return read_json_report(Path(job.run_dir) / EVALUATION_FILE, EvaluationReport.from_dict)


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
