"""Queue backends: SQLite file by default, Redis when configured, a clear error otherwise."""

from __future__ import annotations

import dataclasses

import pytest
from huey import RedisHuey, SqliteHuey

from backend.errors import ShowcaseError
from backend.jobs import queue


def test_default_queue_is_a_sqlite_file_in_the_state_folder(tmp_path, settings):
    local = dataclasses.replace(settings, state_dir=tmp_path)
    huey, task = queue.get_queue(local)
    assert isinstance(huey, SqliteHuey)
    assert queue.get_queue(local)[0] is huey
    queue.enqueue_job("job-1", local)
    queue.enqueue_job("job-2", local)
    assert (tmp_path / queue.QUEUE_FILE).is_file()
    # A fresh Huey on the same file (another process, a restart) sees both tasks.
    reopened = SqliteHuey(queue.QUEUE_NAME, filename=str(tmp_path / queue.QUEUE_FILE))
    assert reopened.pending_count() == 2


def test_redis_backend_is_used_when_configured(tmp_path, settings):
    local = dataclasses.replace(
        settings, state_dir=tmp_path, queue_backend="redis", redis_url="redis://redis.example:6379/3"
    )
    huey, _ = queue.get_queue(local)
    assert isinstance(huey, RedisHuey)
    assert huey.storage.conn.connection_pool.connection_kwargs["host"] == "redis.example"


def test_unknown_backend_is_a_readable_error(tmp_path, settings):
    with pytest.raises(ShowcaseError, match="Unknown queue backend 'rabbit'"):
        queue.get_queue(dataclasses.replace(settings, state_dir=tmp_path, queue_backend="rabbit"))


def test_an_unreachable_redis_is_a_readable_error_and_nothing_is_left_behind(tmp_path, settings, tiny_model_paths):
    from backend.jobs.store import JobStore
    from backend.training.classifier import studio as classifier_studio
    from backend.training.classifier.params import FAST, TrainingParams
    from tests.support.training_data import learnable_texts, prepared_texts

    local = dataclasses.replace(settings, state_dir=tmp_path, queue_backend="redis", redis_url="redis://127.0.0.1:1/0")
    params = TrainingParams("text", FAST, tiny_model_paths["embeddings"])
    with pytest.raises(ShowcaseError, match=r"job queue \(redis, LSM_REDIS_URL\) cannot be reached"):
        classifier_studio.submit_text_job(params, prepared_texts(learnable_texts(per_class=10), params), settings=local)
    assert JobStore(settings=local).list_jobs() == []
    assert not any((tmp_path / "runs").iterdir())
