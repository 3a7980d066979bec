"""Faults around training jobs: each is detected, told in words, and leaves the job store consistent.

The worker's own job loop (``execute_job``) runs in this process with a fault injected where it
would happen for real (the disk filling while the model is saved, CUDA running out of memory, the
hub being unreachable, a corrupt base model); kills and restarts use real worker processes.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from backend import worker
from backend.errors import HubUnreachableError
from backend.jobs import liveness, supervisor
from backend.jobs.store import FAILED, FINISHED, QUEUED, RUNNING, SUCCEEDED, JobStore
from backend.model_registry import list_local_models
from backend.models.resolve import catalogue
from backend.models.resolve.plan import mirror_folder
from backend.training.classifier import runner
from backend.training.classifier import studio as classifier_studio
from backend.training.classifier.datasets import PreparedDataset
from backend.training.classifier.params import FAST, FULL, TrainingParams
from backend.training.common import DATA_FOLDER, MODEL_FOLDER
from tests.support.polling import running_with_steps, wait_for
from tests.support.training_data import learnable_texts, prepared_texts

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _submit(local, base_model: str, method: str = FAST, owner: str = "", **overrides) -> str:
    params = TrainingParams("text", method, base_model, title="Fault test", **overrides)
    return classifier_studio.submit_text_job(
        params, prepared_texts(learnable_texts(per_class=10), params), owner=owner, settings=local
    ).id


def assert_consistent(local) -> None:
    """No job is left running without a worker, and every finished job says how it ended."""
    for job in JobStore(settings=local).list_jobs():
        assert job.status in (QUEUED, *FINISHED), (job.id, job.status)
        if job.status == FAILED:
            assert job.error and "Traceback" not in job.error


def _fast_run(local, tiny_model_paths) -> str:
    return _submit(local, tiny_model_paths["embeddings"], epochs=3, learning_rate=1e-2, batch_size=8)


# --- disk full, out of memory, hub, corrupt folders (in-process job loop) --------------------


def _safetensor_error(folder: Path) -> Exception:
    from safetensors import SafetensorError

    # What safetensors raises when its Rust writer hits ENOSPC: text only, no errno.
    return SafetensorError(
        'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })'
    )


def _chained_quota_error(folder: Path) -> Exception:
    try:
        raise OSError(errno.EDQUOT, "Disk quota exceeded", str(folder / "model.safetensors"))
    except OSError as cause:
        try:
            raise RuntimeError("could not write the checkpoint") from cause
        except RuntimeError as error:
            return error


@pytest.mark.parametrize(
    "make_error",
    [
        lambda folder: OSError(errno.ENOSPC, "No space left on device", str(folder / "model.safetensors")),
        _safetensor_error,
        _chained_quota_error,
    ],
    ids=["oserror", "safetensors", "chained-quota"],
)
def test_disk_full_while_saving_the_model_fails_the_job_in_words_and_keeps_the_data(
    local, tiny_model_paths, monkeypatch, make_error
):
    job_id = _fast_run(local, tiny_model_paths)

    def full_disk(fitted, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.safetensors").write_bytes(b"half a file")
        raise make_error(folder)

    monkeypatch.setattr(runner, "_save_model", full_disk)
    assert worker.run_job(job_id, local) == FAILED
    job = JobStore(settings=local).require(job_id)
    assert "disk is full" in job.error.lower() and "model could not be saved" in job.error
    assert job.message == "Disk full"
    assert not (Path(job.run_dir) / MODEL_FOLDER).exists()  # no half-written model stays
    assert PreparedDataset.load(Path(job.run_dir) / DATA_FOLDER).classes == ["negative", "positive"]
    assert list_local_models(catalogue.SENTIMENT, settings=local) == []
    assert_consistent(local)


def test_cuda_out_of_memory_at_the_smallest_batch_fails_the_job_in_words(local, tiny_model_paths, monkeypatch):
    job_id = _submit(local, tiny_model_paths["text-classifier-base"], method=FULL, epochs=1, batch_size=1)

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setitem(runner._TRAINERS, ("text", FULL), out_of_memory)
    assert worker.run_job(job_id, local) == FAILED
    job = JobStore(settings=local).require(job_id)
    assert job.error.startswith("Training ran out of memory.")
    assert "batch size" in job.error
    assert_consistent(local)


def test_unreachable_hub_for_the_base_model_fails_the_job_with_the_offline_hint(local, tiny_model_paths):
    # A well-formed hub id with no offline mirror, while the hub cannot be reached: the gate
    # refuses it before anything is queued.
    with pytest.raises(HubUnreachableError, match="not downloaded"):
        _submit(local, "sentence-transformers/not-mirrored-anywhere", epochs=1)
    # A job queued while its base was on disk, whose base is gone by the time the worker runs it.
    mirror = mirror_folder("sentence-transformers/mirrored-then-removed", local)
    shutil.copytree(tiny_model_paths["embeddings"], mirror)
    job_id = _submit(local, "sentence-transformers/mirrored-then-removed", epochs=1)
    shutil.rmtree(mirror)
    assert worker.run_job(job_id, local) == FAILED
    job = JobStore(settings=local).require(job_id)
    assert "could not be fetched" in job.error or "Hub" in job.error
    # What to do in the app; the operator's commands travel in the error's ``detail``.
    assert "downloaded on the Models page" in job.error
    assert_consistent(local)


def test_corrupt_base_model_folder_fails_the_job_in_words(local, tiny_model_paths, settings, tmp_path):
    broken = settings.models_dir / "broken-base"
    shutil.rmtree(broken, ignore_errors=True)
    shutil.copytree(tiny_model_paths["text-classifier-base"], broken)
    (broken / "model.safetensors").write_bytes(b"\0" * 100)
    job_id = _submit(local, str(broken), method=FULL, epochs=1)
    assert worker.run_job(job_id, local) == FAILED
    job = JobStore(settings=local).require(job_id)
    assert "corrupt" in job.error.lower() or "could not be read" in job.error
    assert_consistent(local)


def test_a_corrupt_finished_model_is_skipped_by_the_pickers_and_refused_by_the_loader(
    local, tiny_model_paths, settings
):
    from backend.errors import ModelLoadError
    from backend.models.loader import load_model

    job_id = _fast_run(local, tiny_model_paths)
    assert worker.run_job(job_id, local) == SUCCEEDED
    model_dir = Path(JobStore(settings=local).require(job_id).artefacts["model_dir"])
    [listed] = list_local_models(catalogue.SENTIMENT, settings=local)
    for weights in model_dir.rglob("*.safetensors"):
        weights.write_bytes(b"not safetensors at all")
    with pytest.raises(ModelLoadError) as caught:
        load_model(catalogue.SENTIMENT, listed.path, local)
    assert "corrupt" in caught.value.user_text()
    # A recorded model whose folder lost its config is no model: the pickers skip it.
    (model_dir / "config.json").unlink()
    assert list_local_models(catalogue.SENTIMENT, settings=local) == []


# --- worker killed, app restarted (real processes) -------------------------------------------


def _fresh_process_view(local) -> dict:
    """What a newly started app process finds on disk: jobs, and models for the demos."""
    code = (
        "import json, dataclasses, sys\n"
        "from pathlib import Path\n"
        "from backend.config import get_settings\n"
        "from backend.jobs.store import JobStore\n"
        "from backend.model_registry import list_local_models\n"
        "s = dataclasses.replace(get_settings(), state_dir=Path(sys.argv[1]))\n"
        "print(json.dumps({'jobs': {j.id: j.status for j in JobStore(settings=s).list_jobs()},\n"
        "  'models': [m.path for m in list_local_models('sentiment', settings=s)]}))\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", code, str(local.state_dir)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return json.loads(finished.stdout.strip().splitlines()[-1])


def _pause_outside_a_database_transaction(process: subprocess.Popen, database: Path) -> None:
    """SIGSTOP the worker at a moment when it holds no lock on the job store.

    A process frozen inside an SQLite write, or while closing the last connection (which
    checkpoints under an exclusive lock), would make every other process wait for it: that is
    the freeze, not the app. So freeze, check that another connection can both read and take
    the write lock, and otherwise let the worker run a moment and try again.
    """
    for _ in range(2000):  # each try lets the worker run ~10 ms; it never holds a lock that long
        process.send_signal(signal.SIGSTOP)
        try:
            probe = sqlite3.connect(database, timeout=0.2)
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("SELECT count(*) FROM jobs").fetchone()
                probe.execute("ROLLBACK")
                return
            finally:
                probe.close()
        except sqlite3.OperationalError:
            process.send_signal(signal.SIGCONT)
            time.sleep(0.01)
    raise AssertionError("the worker never paused outside a database transaction")


@pytest.mark.slow
def test_worker_killed_mid_job_is_detected_and_the_dataset_survives(local, start_worker, tiny_model_paths):
    finished = _fast_run(local, tiny_model_paths)
    assert worker.run_job(finished, local) == SUCCEEDED
    doomed = _submit(local, tiny_model_paths["text-classifier-base"], method=FULL, epochs=200, batch_size=2)
    process = start_worker()
    wait_for(lambda: running_with_steps(doomed, local), "job running")
    process.send_signal(signal.SIGKILL)
    process.wait()

    # What the app does on its next page view (ensure_worker_running starts with it).
    liveness.reap_dead_jobs(JobStore(settings=local))
    job = JobStore(settings=local).require(doomed)
    assert job.status == FAILED
    assert "stopped during the job" in job.error and "Submit the job again" in job.error
    assert PreparedDataset.load(Path(job.run_dir) / DATA_FOLDER).classes == ["negative", "positive"]
    assert_consistent(local)
    seen = _fresh_process_view(local)
    assert seen["jobs"] == {finished: SUCCEEDED, doomed: FAILED}
    assert len(seen["models"]) == 1  # the finished model survives; the killed one never appears


@pytest.mark.slow
def test_app_restart_during_training_leaves_the_job_running_to_success(local, start_worker, tiny_model_paths):
    job_id = _submit(local, tiny_model_paths["text-classifier-base"], method=FULL, epochs=8, batch_size=4)
    process = start_worker()
    wait_for(lambda: running_with_steps(job_id, local), "job running")

    # A restarted app is a new process: it must find the job, not reap a live worker's job, and
    # not start a second worker. The worker is paused meanwhile (well inside its heartbeat
    # allowance), so a fast machine cannot finish the job before the new process looks.
    _pause_outside_a_database_transaction(process, JobStore(settings=local).path)
    try:
        assert _fresh_process_view(local)["jobs"] == {job_id: RUNNING}
        assert supervisor.ensure_worker_running(local) is False
        assert JobStore(settings=local).require(job_id).status == RUNNING
    finally:
        process.send_signal(signal.SIGCONT)

    wait_for(lambda: JobStore(settings=local).require(job_id).is_finished, "job finished")
    assert JobStore(settings=local).require(job_id).status == SUCCEEDED
    seen = _fresh_process_view(local)
    assert seen["jobs"] == {job_id: SUCCEEDED}
    assert len(seen["models"]) == 1
    assert_consistent(local)
