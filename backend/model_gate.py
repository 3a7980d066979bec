"""The one check a job's model passes before anything is queued: it can load here, the owner may
use it, a fine-tuning base can be had now (downloaded, or the hub answers), and a copy that is
here holds trained weights for what the kind needs (its safetensors headers say so; no weight is
read).

Every job kind that loads a model (training, chat tuning, batch inference) calls it from its
submission checks, so a model that can never load (no such folder, pickle weights, a folder
outside the models folder) or another owner's run folder is refused at once, fast (no network,
no weights read), rather than by the worker after queuing. The worker loads without knowing who
asked, so the owner check cannot wait until then.
"""

from __future__ import annotations

from collections.abc import Callable

from backend.config import Settings
from backend.model_access import check_plan_access
from backend.models import availability, loader
from backend.models.resolve.plan import LoadPlan, plan_load


def check_job_model(
    model_task: str,
    model_ref: str,
    owner: str,
    settings: Settings,
    *,
    training: bool = False,
    check_plan: Callable[[LoadPlan], None] | None = None,
) -> LoadPlan:
    """Plan loading ``model_ref`` as ``model_task`` and check ``owner`` may use it; returns the plan.

    Args:
        model_task: the catalogue task the job loads the model as.
        model_ref: a hub id or a folder.
        owner: who submits the job.
        settings: where the models and runs live.
        training: a fine-tuning base: plan for training (float32 estimate) and require that the
            base can be had now, since a base that is neither downloaded nor fetchable would only
            fail in the worker after the queue.
        check_plan: the kind's own limits on the plan (a model too large for full fine-tuning),
            checked before availability: what a model can never do is said before what it cannot
            do right now.

    Raises:
        ShowcaseError: ``plan_load``'s and ``check_plan_access``'s errors.
        HubUnreachableError: a fine-tuning base is not downloaded and the hub cannot serve it now.
        UntrainedWeightsError: the stored checkpoint lacks weights the task relies on (an embedding
            model read as a classifier; a base missing weights of its body), which the worker's
            load would refuse only after the queue.
    """
    plan = plan_load(model_task, model_ref, settings, training=training)
    check_plan_access(plan, owner, settings)
    if check_plan is not None:
        check_plan(plan)
    if training:
        availability.require_base(model_ref, settings)
    loader.check_stored_weights(plan, settings)
    return plan
