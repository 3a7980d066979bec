"""How much work one workspace and one visitor may leave waiting, and how much input they may store.

Public demo pages queue batch jobs for anyone, all in the shared anonymous workspace: 30 retries of
one batch made 30 waiting jobs in 0.2 s, each with a full copy of up to 1 GB of input. Every
submission and retry passes :func:`admit` first (one line in each submit path), which refuses, with
the bound in the message, a job past any of these:

- jobs waiting or running per visitor (the client: the browser's address, set per script run by
  the page with :func:`acting_for`) and per workspace: the per-visitor bound is the smaller, so one
  visitor cannot fill the shared workspace's share and lock the others out;
- retries of one run;
- bytes of stored input (run folders) per visitor and per workspace.

A retry reuses its input (:func:`reuse_input`: hard links, no second copy on disk).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from backend.config import Settings
from backend.errors import InvalidInputError
from backend.i18n import _
from backend.jobs.store import QUEUED, RUNNING, Job, JobStore

MAX_WAITING_PER_CLIENT = 3
MAX_WAITING_PER_WORKSPACE = 20
MAX_RETRIES = 3
MAX_STORED_BYTES_PER_CLIENT = 2 * 2**30
MAX_STORED_BYTES_PER_WORKSPACE = 10 * 2**30
# Visitors remembered (their job ids): enough for a busy public host; the oldest are forgotten.
_CLIENTS_KEPT = 10_000
_JOBS_KEPT_PER_CLIENT = 100
_WAITING = (QUEUED, RUNNING)

_client: ContextVar[str] = ContextVar("lsm_quota_client", default="")
_jobs_by_client: OrderedDict[str, list[str]] = OrderedDict()
_lock = threading.Lock()


@contextmanager
def acting_for(client: str) -> Iterator[None]:
    """Count the submissions made inside the block against ``client`` (an address)."""
    token = _client.set(client)
    try:
        yield
    finally:
        _client.reset(token)


def set_client(client: str) -> None:
    """Count this thread's next submissions against ``client`` (a page sets it once per script run)."""
    _client.set(client)


def _stored_bytes(jobs: list[Job]) -> int:
    """Bytes in the jobs' run folders; a file hard-linked by a retry is counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for job in jobs:
        for folder, _subfolders, names in os.walk(job.run_dir):
            for name in names:
                try:
                    info = os.lstat(os.path.join(folder, name))
                except OSError:
                    continue
                if (info.st_dev, info.st_ino) not in seen:
                    seen.add((info.st_dev, info.st_ino))
                    total += info.st_size
    return total


def _gb(size: int) -> str:
    return f"{size / 2**30:,.1f} GB" if size >= 2**30 else f"{size / 2**20:,.0f} MB"


def admit(job_id: str, owner: str, settings: Settings, retry_of: Job | None = None) -> None:
    """Let job ``job_id`` of ``owner``'s workspace be queued, or say which bound it would pass.

    The job is counted against the current visitor from here on (a job that then fails to be
    queued is not in the store, so it does not count).

    Raises:
        InvalidInputError: naming the bound (nothing is queued).
    """
    client = _client.get()
    if retry_of is not None and int(retry_of.dataset.get("retries", 0)) >= MAX_RETRIES:
        raise InvalidInputError(
            _("This run was retried {MAX_RETRIES} times already; that is the limit for one run.").format(
                MAX_RETRIES=MAX_RETRIES
            ),
            _("Check its error, then start a new run with changed settings or data."),
        )
    store = JobStore(settings=settings)
    workspace = [job for job in store.list_jobs(owner=owner) if job.owner == owner]
    waiting = [job for job in workspace if job.status in _WAITING]
    with _lock:
        mine = set(_jobs_by_client.get(client, [])) if client else set()
    own = [job for job in workspace if job.id in mine]
    if client and sum(job.status in _WAITING for job in own) >= MAX_WAITING_PER_CLIENT:
        raise InvalidInputError(
            _(
                "You have {MAX_WAITING_PER_CLIENT} jobs waiting or running; that is the most one visitor may have."
            ).format(MAX_WAITING_PER_CLIENT=MAX_WAITING_PER_CLIENT),
            _("Wait for one to finish, or cancel one, then try again."),
        )
    if len(waiting) >= MAX_WAITING_PER_WORKSPACE:
        raise InvalidInputError(
            _(
                "This workspace has {waiting} jobs waiting or running; at most {MAX_WAITING_PER_WORKSPACE} may wait."
            ).format(waiting=len(waiting), MAX_WAITING_PER_WORKSPACE=MAX_WAITING_PER_WORKSPACE),
            _("Wait for some to finish, or cancel some, then try again."),
        )
    if client and _stored_bytes(own) >= MAX_STORED_BYTES_PER_CLIENT:
        raise InvalidInputError(
            _("Your runs store {gb} of data; one visitor may store {gb2}.").format(
                gb=_gb(_stored_bytes(own)), gb2=_gb(MAX_STORED_BYTES_PER_CLIENT)
            ),
            _("Delete runs you no longer need, then try again."),
        )
    if _stored_bytes(workspace) >= MAX_STORED_BYTES_PER_WORKSPACE:
        raise InvalidInputError(
            _("This workspace's runs store {gb} of data; the limit is {gb2}.").format(
                gb=_gb(_stored_bytes(workspace)), gb2=_gb(MAX_STORED_BYTES_PER_WORKSPACE)
            ),
            _("Delete runs you no longer need, then try again."),
        )
    if client:
        with _lock:
            jobs = _jobs_by_client.setdefault(client, [])
            jobs.append(job_id)
            del jobs[:-_JOBS_KEPT_PER_CLIENT]
            _jobs_by_client.move_to_end(client)
            while len(_jobs_by_client) > _CLIENTS_KEPT:
                _jobs_by_client.popitem(last=False)


def retries_after(job: Job) -> dict[str, int]:
    """The retry count a retry of ``job`` records in its summary."""
    return {"retries": int(job.dataset.get("retries", 0)) + 1}


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)  # another filesystem: a copy is the only way


def reuse_input(source: Path, target: Path) -> None:
    """``target`` holding ``source``'s files as hard links (a copy only across filesystems).

    Inputs are only read once written; a file rewritten later must be replaced (written to a new
    file and renamed over), never rewritten in place, or the first run would see the change.
    """
    if source.is_dir():
        shutil.copytree(source, target, copy_function=_link_or_copy)
    else:
        _link_or_copy(str(source), str(target))
