"""A finished training run's files (model card, manifest, params, evaluation, logs) hold no secrets."""

from __future__ import annotations

import dataclasses

from backend import auth, config, worker
from backend.jobs.store import SUCCEEDED, JobStore
from backend.training.classifier import studio as classifier_studio
from backend.training.classifier.params import FAST, TrainingParams
from tests.support.training_data import learnable_texts, prepared_texts

REDIS_PASSWORD = "redis-secret-in-artefacts-41"
PASSWORD = "password-secret-in-artefacts-77"


def test_run_folder_and_job_rows_hold_no_secret(tmp_path, tiny_model_paths, monkeypatch):
    stored = auth.hash_password(PASSWORD, salt="saltsecret9", iterations=1000)
    monkeypatch.setenv("LSM_ACCESS_PASSWORD_HASH", stored)
    monkeypatch.setenv("LSM_REDIS_URL", f"redis://:{REDIS_PASSWORD}@localhost:6379/0")
    config.get_settings.cache_clear()
    try:
        local = dataclasses.replace(config.get_settings(), state_dir=tmp_path / "state")
        params = TrainingParams("text", FAST, tiny_model_paths["embeddings"], title="Secret check", epochs=2)
        job = classifier_studio.submit_text_job(
            params, prepared_texts(learnable_texts(per_class=6), params), settings=local
        )
        assert worker.run_job(job.id, local) == SUCCEEDED
    finally:
        config.get_settings.cache_clear()

    secrets = [REDIS_PASSWORD, PASSWORD, "saltsecret9", stored.rsplit("$", 1)[1]]
    files = [path for path in (tmp_path / "state").rglob("*") if path.is_file()]
    card = [path for path in files if path.name.lower() in ("readme.md", "showcase.json", "params.json")]
    assert len(card) >= 3  # the model card, the demo manifest and the saved parameters were written
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, f"{path.name} holds a secret"
    store = JobStore(settings=local)
    rows = repr(store.require(job.id)) + repr(store.logs(job.id)) + repr(store.metric_history(job.id))
    for secret in secrets:
        assert secret not in rows
