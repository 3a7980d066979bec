"""Endpoints come only from the operator's settings; a model box never reaches an address."""

from __future__ import annotations

import dataclasses
import json

import pytest

from backend import config, model_registry
from backend.errors import ModelUnavailableError, ShowcaseError
from backend.models.cache import ModelCache
from backend.models.fetch.download import plan_needs_download
from backend.models.loader import load_model
from backend.models.resolve import catalogue, endpoints
from backend.models.resolve.plan import plan_load, resolve_source
from tests.support.openai_servers import FixedAnswerServer

KEY = "sk-very-secret-0123456789"
SECRETS = f"""
[showcase]
models_dir = "models"

[showcase.endpoints.gpu-chat]
base_url = "http://10.1.2.3:8000/v1/"
model = "Qwen/Qwen2.5-7B-Instruct"
api_key = "{KEY}"
max_concurrency = 8

[showcase.endpoints.vectors]
base_url = "https://embed.internal/v1"
model = "BAAI/bge-m3"
task = "embeddings"
"""


@pytest.fixture
def configured(tmp_path, monkeypatch, settings) -> config.Settings:
    monkeypatch.delenv("LSM_ENDPOINTS", raising=False)
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(SECRETS, encoding="utf-8")
    read = config.load_settings(secrets)
    return dataclasses.replace(settings, endpoints=read.endpoints)


def test_endpoints_are_read_from_the_secrets_file_with_defaults(configured):
    chat, vectors = configured.endpoints
    assert (chat.name, chat.base_url, chat.model, chat.task) == (
        "gpu-chat",
        "http://10.1.2.3:8000/v1",
        "Qwen/Qwen2.5-7B-Instruct",
        "text-generation",
    )
    assert (chat.api_key, chat.max_concurrency, chat.timeout_s, chat.max_retries) == (KEY, 8, 60.0, 2)
    assert (vectors.task, vectors.api_key) == ("embeddings", "")
    assert [e.name for e in endpoints.endpoints_for(catalogue.EMBEDDINGS, configured)] == ["vectors"]


def test_the_api_key_stays_out_of_reprs(configured):
    assert KEY not in repr(configured)
    assert KEY not in repr(configured.endpoints[0])
    remote = endpoints.connect(catalogue.TEXT_GENERATION, "endpoint:gpu-chat", configured)
    assert KEY not in repr(remote)


def test_the_environment_wins_and_carries_endpoints_to_a_worker(configured, monkeypatch, tmp_path):
    monkeypatch.setenv("LSM_ENDPOINTS", config.to_environment(configured)["LSM_ENDPOINTS"])
    # The worker's environment holds the same endpoints, key included, whatever its secrets file says.
    assert config.load_settings(tmp_path / "no-secrets.toml").endpoints == configured.endpoints
    monkeypatch.setenv("LSM_ENDPOINTS", json.dumps({"solo": {"base_url": "http://h:1/v1", "model": "m"}}))
    assert [e.name for e in config.load_settings(tmp_path / "no-secrets.toml").endpoints] == ["solo"]


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ({"base_url": "file:///etc/passwd", "model": "m"}, "base_url"),
        ({"base_url": "http://h/v1"}, "model"),
        ({"base_url": "http://h/v1", "model": "m", "task": "sentiment"}, "task"),
        ({"base_url": "http://h/v1", "model": "m", "max_concurrency": 0}, "max_concurrency"),
        ({"base_url": "http://h/v1", "model": "m", "apikey": "typo"}, "unknown"),
    ],
)
def test_a_wrong_endpoint_setting_stops_with_the_setting_named(monkeypatch, tmp_path, table, says):
    monkeypatch.setenv("LSM_ENDPOINTS", json.dumps({"bad": table}))
    with pytest.raises(ValueError, match=says):
        config.load_settings(tmp_path / "none.toml")


def test_an_endpoint_plans_loads_and_caches_without_memory_or_download(configured):
    plan = plan_load(catalogue.TEXT_GENERATION, "endpoint:gpu-chat", configured)
    assert (plan.is_local, plan.estimated_bytes, plan.device.name) == (False, 0, "served by gpu-chat")
    assert not plan_needs_download(plan, configured)
    cache = ModelCache(2**20, settings=configured)
    remote = cache.get(catalogue.TEXT_GENERATION, "endpoint:gpu-chat")
    assert isinstance(remote, endpoints.RemoteModel)
    assert cache.get(catalogue.TEXT_GENERATION, "endpoint:gpu-chat") is remote
    assert cache.used_bytes() == 0
    assert model_registry.display_name("endpoint:gpu-chat", configured) == "Qwen/Qwen2.5-7B-Instruct (gpu-chat)"
    # One client (one connection pool) per endpoint, whoever asks.
    assert load_model(catalogue.TEXT_GENERATION, "endpoint:gpu-chat", configured).client is remote.client


def test_an_endpoint_of_another_task_or_an_unknown_name_is_refused(configured):
    with pytest.raises(ModelUnavailableError, match="(?i)serves embeddings, not text generation"):
        plan_load(catalogue.TEXT_GENERATION, "endpoint:vectors", configured)
    with pytest.raises(ModelUnavailableError, match="No model server of that name"):
        load_model(catalogue.TEXT_GENERATION, "endpoint:nope", configured)


@pytest.mark.parametrize("template", ["{url}", "{url}/chat/completions", "endpoint:{url}", "{host}/v1"])
def test_an_address_typed_into_a_model_box_is_never_called(configured, template):
    # A real server listens at the address: whatever the box holds, it must get no request.
    server = FixedAnswerServer(200)
    try:
        typed = template.format(url=server.base_url, host=server.base_url.split("//")[1].split("/")[0])
        for task in (catalogue.TEXT_GENERATION, catalogue.EMBEDDINGS, catalogue.SENTIMENT):
            with pytest.raises(ShowcaseError):
                load_model(task, typed, configured)
            with pytest.raises(ShowcaseError):
                resolve_source(typed, configured)
        assert server.requests == 0
    finally:
        server.close()


def test_a_model_named_by_its_server_folder_is_shown_by_name_not_path(settings):
    served = dataclasses.replace(
        settings,
        endpoints=(config.Endpoint("local", "http://127.0.0.1:8000/v1", "/srv/llm/smollm2", "text-generation"),),
    )
    assert model_registry.display_name("endpoint:local", served) == "smollm2 (local)"
    assert endpoints.shown_model(served.endpoints[0], served) == "smollm2"
