"""What pages call for a job of any kind: view it live, cancel it, delete it.

Reads here never write: jobs of dead workers are marked failed by the worker and by
``supervisor.ensure_worker_running``, not by whoever happens to look.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from backend.config import Settings, get_settings
from backend.errors import InvalidInputError
from backend.i18n import _
from backend.jobs.liveness import any_worker_alive
from backend.jobs.store import FINISHED, RUNNING, Job, JobStore


class ModelEvictor(Protocol):
    """A model cache that can forget one model (``backend.models.cache.ModelCache``)."""

    def evict(self, task: str, model_ref: str) -> bool: ...


@dataclass
class JobView:
    """Everything the live view of one job shows."""

    job: Job
    queue_position: int | None
    history: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    worker_alive: bool = False
    # kind name -> how many queued jobs of that kind wait before this one
    kinds_ahead: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "job": self.job.to_dict(),
            "queue_position": self.queue_position,
            "history": self.history,
            "logs": self.logs,
            "worker_alive": self.worker_alive,
            "kinds_ahead": self.kinds_ahead,
        }


def view_job(job_id: str, owner: str, settings: Settings | None = None) -> JobView:
    """Status, queue position, curves and logs of one job (reads only).

    Raises:
        InvalidInputError: no such job for this owner.
    """
    settings = settings or get_settings()
    store = JobStore(settings=settings)
    job = store.require(job_id, owner)
    ahead = store.line_ahead(job_id)
    return JobView(
        job=job,
        queue_position=None if ahead is None else sum(ahead.values()) + 1,
        history=store.metric_history(job_id),
        logs=store.logs(job_id),
        worker_alive=any_worker_alive(store, settings),
        kinds_ahead=ahead or {},
    )


def cancel_job(job_id: str, owner: str, settings: Settings | None = None) -> Job:
    """Cancel a waiting job at once, or ask a running one to stop within seconds."""
    store = JobStore(settings=settings)
    job = store.require(job_id, owner)
    if job.is_finished:
        raise InvalidInputError(_("The job has already {status}.").format(status=job.status))
    return store.request_cancel(job_id)


def delete_job(job_id: str, owner: str, settings: Settings | None = None, cache: ModelEvictor | None = None) -> Job:
    """Remove a finished or waiting job, its run folder and the model it recorded; returns the job.

    Args:
        job_id: the job.
        owner: its owner (another owner's job is "not found").
        settings: where the jobs live.
        cache: a model cache to evict the job's model from, so it cannot be served after deletion.

    Raises:
        InvalidInputError: the job is running (cancel it first) or does not exist.
    """
    settings = settings or get_settings()
    store = JobStore(settings=settings)
    job = store.require(job_id, owner)
    if job.status == RUNNING:
        raise InvalidInputError(_("The job is still running."), _("Cancel it first, then delete it."))
    if job.status not in FINISHED:
        store.request_cancel(job_id)
    run_dir = Path(job.run_dir).resolve()
    runs_root = settings.runs_dir.resolve()
    # The path comes from the database; never delete anything outside the runs folder.
    if runs_root in run_dir.parents:
        shutil.rmtree(run_dir, ignore_errors=True)
    store.delete(job_id)
    model_dir, model_task = job.artefacts.get("model_dir"), job.artefacts.get("model_task")
    if cache is not None and model_dir and model_task:
        cache.evict(str(model_task), str(model_dir))
    return job
