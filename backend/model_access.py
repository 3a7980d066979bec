"""Who may load which local model folder: one owner's runs are not another's.

Under OpenID Connect sign-in each user has a workspace; their fine-tuned models live in their jobs'
run folders. A model box accepts folder paths, so without this check a signed-in user could type
the path of another user's run folder and load (or fine-tune from, or batch-run) their model.
The job store knows every job's owner and run folder, so it decides for folders in the runs
folder; a folder in the models folder is shared unless its manifest names another owner.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

from backend.config import Settings, get_settings
from backend.errors import UnsafeModelError
from backend.i18n import _
from backend.jobs.store import JobStore
from backend.model_registry import MANIFEST
from backend.models.resolve.plan import LoadPlan, is_inside, resolve_source
from backend.server_paths import shown_path


class _Job(Protocol):
    owner: str
    run_dir: str


class JobLister(Protocol):
    """What the check needs of the job store (``backend.jobs.store.JobStore`` fits)."""

    def list_jobs(self) -> list[_Job]: ...


def _may_use(folder_owner: str, owner: str) -> bool:
    # "" is the shared workspace (no sign-in, the shared password, or models put there by the host).
    return folder_owner in ("", owner)


def allowed_run_folder(
    folder: Path, owner: str, store: JobLister | None = None, settings: Settings | None = None
) -> bool:
    """Whether ``owner`` may load the resolved model ``folder``.

    Args:
        folder: a resolved folder path (symlinks followed), as ``plan.resolve_source`` gives.
        owner: the signed-in user's owner id ("" for the shared workspace).
        store: the job store, for each job's owner and run folder (default: the settings' store,
            opened only for folders in the runs folder).
        settings: settings naming the runs and models folders.

    Returns:
        True for folders outside the runs folder whose manifest names no other owner, and for
        folders inside a run of ``owner`` or of the shared workspace; False otherwise, including a
        folder in the runs folder that no job claims, unless ``owner`` is the shared workspace.
    """
    settings = settings or get_settings()
    folder = folder.resolve()
    if is_inside(folder, settings.runs_dir.resolve()):
        if store is None:
            store = JobStore(settings=settings)
        for job in store.list_jobs():
            if is_inside(folder, Path(job.run_dir).resolve()):
                return _may_use(job.owner, owner)
        return owner == ""
    manifest = folder / MANIFEST
    try:
        declared = json.loads(manifest.read_text(encoding="utf-8")).get("owner", "") if manifest.is_file() else ""
    except (OSError, ValueError, AttributeError):
        declared = ""
    return _may_use(str(declared or ""), owner)


def check_model_access(
    model_ref: str, owner: str, settings: Settings | None = None, store: JobLister | None = None
) -> None:
    """Refuse a model reference that points into another owner's workspace.

    Call it wherever a user's model reference meets their identity: before loading a model for a
    page, and before queuing a training or batch job with a base model. Hub ids always pass.

    Raises:
        UnsafeModelError: the folder belongs to another owner (the message does not say whose,
            nor where it is on the server).
        UnsafeModelError, ModelUnavailableError: the reference is malformed, leaves the allowed
            folders or names no model folder (from ``plan.resolve_source``).
    """
    settings = settings or get_settings()
    source, is_local = resolve_source(model_ref, settings)
    _require_own_folder(Path(source) if is_local else None, owner, settings, store)


def check_plan_access(
    plan: LoadPlan, owner: str, settings: Settings | None = None, store: JobLister | None = None
) -> None:
    """:func:`check_model_access` for a reference already resolved into ``plan`` (a page's
    ``backend.models.acquire`` or a batch job's gate): the same refusal, nothing resolved again."""
    _require_own_folder(plan.folder, owner, settings or get_settings(), store)


def _require_own_folder(folder: Path | None, owner: str, settings: Settings, store: JobLister | None) -> None:
    if folder is not None and not allowed_run_folder(folder, owner, store, settings):
        raise UnsafeModelError(
            _("The model folder {shown_path} is not in your workspace.").format(
                shown_path=shown_path(str(folder), settings)
            ),
            _("Pick one of your own models from the list, or a hub id such as org/name."),
        )
