"""One path from a model reference to a loaded model: resolve it once, then let that plan decide.

A page's click used to resolve the same reference three times (the workspace check, "does it need
a download?", the cache). Here ``plan_load`` runs once; its ``LoadPlan`` answers whether the folder
is the user's to open, whether the warm start is already loading it, whether a download comes first,
and it is what the cache loads. Only a download changes where the model lies, so only then is the
reference planned again, from the folder that now holds it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from backend.config import Settings, get_settings
from backend.models import warm
from backend.models.cache import ModelCache
from backend.models.fetch import download
from backend.models.fetch.download import ProgressCallback
from backend.models.loader import LoadedModel, check_stored_weights
from backend.models.resolve.plan import LoadPlan, plan_load

# The waits a caller may want to show (a page shows a spinner for each).
WARMING = "warming"
LOADING = "loading"

AccessCheck = Callable[[LoadPlan], None]
StageShown = Callable[[str], AbstractContextManager[object]]


def _no_display(_stage: str) -> AbstractContextManager[object]:
    return nullcontext()


def acquire(
    task: str,
    model_ref: str,
    cache: ModelCache,
    check_access: AccessCheck,
    on_download: ProgressCallback | None = None,
    show_stage: StageShown = _no_display,
    settings: Settings | None = None,
) -> LoadedModel:
    """The loaded model for ``model_ref``: planned once, checked, waited for, downloaded, cached.

    Args:
        task: a task name from ``backend.models.resolve.catalogue.TASKS``.
        model_ref: what the user picked or typed.
        cache: the cache that holds (and loads) it; its device is the plan's.
        check_access: raises when the planned folder is not the requester's to open
            (``backend.model_access.check_plan_access`` with their owner id). It is a parameter
            because the job store that knows run owners sits above this package.
        on_download: progress reports while a hub model is fetched into the models folder.
        show_stage: a context manager around each wait (``WARMING``, ``LOADING``), e.g. a spinner.
        settings: settings to use (default: the process settings).

    Raises:
        ShowcaseError: the reference is malformed or unsafe, the folder belongs to someone else,
            the hub cannot serve a missing model, or the load failed.
        UntrainedWeightsError: the stored checkpoint lacks weights the task relies on (see
            ``loader.check_stored_weights``), said before anything is evicted or loaded.
    """
    settings = settings or get_settings()
    plan = plan_load(task, model_ref, settings, cache.device)
    check_access(plan)
    if warm.is_warming(task, model_ref):
        with show_stage(WARMING):
            warm.wait(task, model_ref)
    if download.plan_needs_download(plan, settings):
        download.download_model(model_ref, on_download, settings=settings)
    if not plan.is_local and download.is_downloaded(model_ref.strip(), settings):
        # The download (ours or the warm start's) put a folder where the hub id stood.
        plan = plan_load(task, model_ref, settings, cache.device)
    if (task, model_ref) not in {(model.task, model.model_ref) for model in cache.loaded()}:
        # Refused from its headers before the cache makes room for it (evicting others) or reads it.
        check_stored_weights(plan, settings)
    with show_stage(LOADING):
        return cache.get_planned(plan)
