"""A real local hub for the download and reachability tests (see tests/local_hub.py), and real
Redis and PostgreSQL servers for the stores that live in the workspace database (jobs, arena)."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack

import huggingface_hub.constants
import pytest

from backend.models.fetch import hub
from tests.support import services
from tests.support.local_hub import TINY_REPO, LocalHub, closed_port_endpoint


@pytest.fixture
def local_hub(tiny_models_dir):
    """A hub on 127.0.0.1 serving the tiny sentiment classifier as ``tiny-org/tiny-sentiment``."""
    with LocalHub({TINY_REPO: tiny_models_dir["sentiment"]}) as server:
        yield server


@pytest.fixture
def online(monkeypatch, tmp_path):
    """huggingface_hub with offline mode off (the test session sets HF_HUB_OFFLINE=1 at import)
    and an empty cache of its own, so models cached on the developer's machine change nothing."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    hub.forget()
    yield
    hub.forget()


@pytest.fixture
def hub_settings(settings, local_hub, online, tmp_path, monkeypatch):
    """Settings that reach the local hub, with an empty models folder of their own."""
    models = tmp_path / "models"
    models.mkdir()
    # transformers' own fetches build their URLs from these (HF_ENDPOINT, read once at import).
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", local_hub.endpoint)
    monkeypatch.setattr(
        huggingface_hub.constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        local_hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}",
    )
    # transformers keeps one HfApi, with the endpoint of its first use: an earlier test's hub, long
    # closed, which a tokenizer's file listing then retried with backoff for 47 s.
    import transformers.utils.hub

    monkeypatch.setattr(transformers.utils.hub, "_hf_api", None)
    yield dataclasses.replace(settings, offline=False, hub_endpoint=local_hub.endpoint, models_dir=models)
    shutil.rmtree(models, ignore_errors=True)


@pytest.fixture
def dead_hub_settings(settings, online, tmp_path):
    """Settings whose hub endpoint is a closed local port, offline mode off."""
    models = tmp_path / "dead-hub-models"
    models.mkdir()
    return dataclasses.replace(settings, offline=False, hub_endpoint=closed_port_endpoint(), models_dir=models)


def _started(stack: ExitStack, server: Callable[[], AbstractContextManager[str]]) -> str:
    try:
        return stack.enter_context(server())
    except services.ServiceUnavailable as reason:
        pytest.skip(str(reason))


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A real PostgreSQL cluster for the session (skipped, with the reason, where it cannot run)."""
    with ExitStack() as stack:
        yield _started(stack, services.postgres_server)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server for the session (skipped, with the reason, where it cannot run)."""
    with ExitStack() as stack:
        yield _started(stack, services.redis_server)


@pytest.fixture
def postgres_url(postgres_server_url: str) -> str:
    """A ``postgresql://`` job store location with no tables yet (a fresh schema per test)."""
    return services.fresh_schema(postgres_server_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, tmp_path) -> str | object:
    """Where a behaviour test's job store lives: a SQLite file, then a real PostgreSQL server."""
    if request.param == "sqlite":
        return tmp_path / "jobs.sqlite3"
    return request.getfixturevalue("postgres_url")
