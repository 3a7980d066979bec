"""Viewing, listing and deleting jobs: reads never write, and a deleted job's model leaves the cache."""

from __future__ import annotations

import shutil
import subprocess
import sys

from backend import model_registry
from backend.inference import batch
from backend.jobs import manage
from backend.jobs.store import RUNNING, SUCCEEDED, Job, JobStore, new_job_id
from backend.models.cache import ModelCache
from backend.models.resolve import catalogue
from backend.training.classifier import studio as classifier_studio


def _recorded_model(local, source: str, owner: str = "ana") -> tuple[str, str]:
    store = JobStore(settings=local)
    job_id = new_job_id()
    folder = local.runs_dir / job_id / "model"
    shutil.copytree(source, folder)
    store.create(Job(job_id, "train", "text", str(folder.parent), owner=owner, title="Tickets"))
    store.claim(job_id)
    store.finish(job_id, SUCCEEDED, artefacts={"model_dir": str(folder), "model_task": catalogue.SENTIMENT})
    return job_id, str(folder)


def test_viewing_and_listing_jobs_never_write(local, sqlite_writes):
    store = JobStore(settings=local)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    job_id = new_job_id()
    store.create(Job(job_id, "train", "text", str(local.runs_dir / job_id), owner="ana"))
    store.claim(job_id, pid=dead.pid)  # its worker is gone; reads must not be the ones to say so
    with sqlite_writes() as writes:
        assert manage.view_job(job_id, "ana", local).job.status == RUNNING
        assert [job.id for job in classifier_studio.list_jobs("ana", settings=local)] == [job_id]
        assert batch.list_batch_jobs("ana", catalogue.SENTIMENT, settings=local) == []
        model_registry.list_local_models(catalogue.SENTIMENT, owner="ana", settings=local)
    assert writes == []


def test_deleting_a_job_evicts_its_model_from_the_cache(local, tiny_model_paths):
    job_id, model_dir = _recorded_model(local, tiny_model_paths["sentiment"])
    [listed] = model_registry.list_local_models(catalogue.SENTIMENT, owner="ana", settings=local)
    assert (listed.path, listed.label) == (model_dir, f"Tickets · {job_id}")
    cache = ModelCache(2**30, settings=local)
    cache.get(catalogue.SENTIMENT, listed.path)
    cache.get(catalogue.SENTIMENT, tiny_model_paths["sentiment"])  # another model stays
    manage.delete_job(job_id, "ana", local, cache=cache)
    assert [item.model_ref for item in cache.loaded()] == [tiny_model_paths["sentiment"]]
    assert model_registry.list_local_models(catalogue.SENTIMENT, owner="ana", settings=local) == []


def test_a_recorded_model_is_shown_by_title_and_job_id_never_by_path(local, tiny_model_paths):
    job_id, model_dir = _recorded_model(local, tiny_model_paths["sentiment"])
    assert model_registry.display_name(model_dir, local) == f"Tickets · {job_id}"
    assert model_registry.display_name("org/hub-model", local) == "org/hub-model"
    assert model_registry.display_name(str(local.models_dir / "team" / "model"), local) == "team/model"
    assert model_registry.display_name("/somewhere/else/my-model", local) == "my-model"
