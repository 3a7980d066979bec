"""The one check a job's model passes before anything is queued: it can load here, and the owner
may use it.

Every job kind that loads a model (training, chat tuning, batch inference) calls it from its
submission checks, so a model that can never load (no such folder, pickle weights, a folder
outside the models folder) or another owner's run folder is refused at once, fast (no network,
no weights read), rather than by the worker after queuing. The worker loads without knowing who
asked, so the owner check cannot wait until then.
"""

from __future__ import annotations

from backend.config import Settings
from backend.model_access import check_model_access
from backend.models.resolve.plan import LoadPlan, plan_load


def check_job_model(
    model_task: str, model_ref: str, owner: str, settings: Settings, *, training: bool = False
) -> LoadPlan:
    """Plan loading ``model_ref`` as ``model_task`` and check ``owner`` may use it; returns the plan.

    Args:
        model_task: the catalogue task the job loads the model as.
        model_ref: a hub id or a folder.
        owner: who submits the job.
        settings: where the models and runs live.
        training: plan for training (float32 estimate) rather than for inference.

    Raises:
        ShowcaseError: ``plan_load``'s and ``check_model_access``'s errors.
    """
    plan = plan_load(model_task, model_ref, settings, training=training)
    check_model_access(model_ref, owner, settings)
    return plan
