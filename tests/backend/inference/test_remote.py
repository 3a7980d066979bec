"""Text generation and embeddings served by real OpenAI-compatible servers on loopback.

Chat: ``transformers serve`` pinned to the tiny chat model (and the real SmolLM2-135M where its
package is installed). Embeddings: ``transformers serve`` has no ``/v1/embeddings``, so a small
FastAPI server over a real sentence-transformers model stands in (tests/support/openai_servers.py).
Failures: a real ``http.server`` answering 401 or 429, a port nobody listens on, a server that
never answers. Nothing is mocked.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

import numpy as np
import pandas as pd
import pytest

from backend import config, worker
from backend.errors import EndpointError, InvalidInputError, ModelUnavailableError
from backend.inference import batch as batch_jobs
from backend.inference import text_generation
from backend.inference.batch import BatchRequest
from backend.inference.text_generation import ChatMessage, GenerationOptions
from backend.jobs.store import CANCELLED, FAILED, SUCCEEDED, JobStore
from backend.jobs.supervisor import ensure_worker_running
from backend.models.fetch import packaged
from backend.models.loader import load_model
from backend.models.resolve import catalogue, endpoints
from backend.use_cases import search
from backend.use_cases.catalogue import load_catalogue
from backend.use_cases.embeddings import EmbeddingCache, encode_texts
from tests.support import openai_servers, tiny_models
from tests.support.packaged import require_packaged
from tests.support.polling import wait_for

KEY = "sk-test-key-4f9a1c"
GREEDY = GenerationOptions(temperature=0, max_new_tokens=6)


def _with(settings: config.Settings, **tables: dict) -> config.Settings:
    """``settings`` with these endpoints, parsed exactly as the app parses LSM_ENDPOINTS."""
    found = tuple(config._endpoint(name, table) for name, table in tables.items())
    return dataclasses.replace(settings, endpoints=found)


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory) -> tuple[str, str]:
    root = tmp_path_factory.mktemp("served-chat")
    folder = tiny_models.build_chat_model(root / "tiny-chat")
    with openai_servers.serve_chat(folder, root / "serve.log") as base_url:
        yield base_url, str(folder)


@pytest.fixture
def chat(settings, chat_server) -> config.Settings:
    base_url, model = chat_server
    return _with(settings, lab={"base_url": base_url, "model": model, "max_concurrency": 2})


def test_a_reply_streams_with_the_servers_token_counts_and_footer(chat):
    remote = load_model(catalogue.TEXT_GENERATION, "endpoint:lab", chat)
    stream = text_generation.stream_reply(
        remote, [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")], GREEDY
    )
    text = "".join(stream)
    result = stream.result
    assert result is not None and result.text == text
    # The server's counts (usage of the last chunk): six new tokens, a prompt of the chat template.
    assert result.new_tokens == 6 and result.prompt_tokens > 2
    assert not result.stopped
    # The tiny model never ends its turn within six tokens: the server cut it at max_tokens.
    assert result.token_limit == 6 and result.limit_note == "Stopped at the 6-token limit."
    assert (result.footer.device, result.footer.unit, result.footer.tokens) == ("served by lab", "reply", 6)


def test_a_stop_closes_the_stream_and_keeps_the_reply_so_far(chat):
    remote = load_model(catalogue.TEXT_GENERATION, "endpoint:lab", chat)
    stop = threading.Event()
    stop.set()  # as if Stop was clicked before the first piece arrived
    stream = text_generation.stream_reply(remote, [ChatMessage("user", "Hi")], GREEDY, stop)
    pieces = list(stream)
    assert stream.result is not None and stream.result.stopped
    assert len(pieces) <= 1


def test_bad_conversations_are_refused_before_any_request(chat):
    remote = load_model(catalogue.TEXT_GENERATION, "endpoint:lab", chat)
    with pytest.raises(InvalidInputError, match="last message must be the user's"):
        text_generation.stream_reply(remote, [ChatMessage("assistant", "Hi")], GREEDY)
    # A stopped reply cannot be continued there: the API has no open assistant turn.
    with pytest.raises(InvalidInputError, match="cannot be continued") as refused:
        text_generation.stream_reply(remote, [ChatMessage("user", "Hi"), ChatMessage("assistant", "Hel")], GREEDY)
    assert "Regenerate" in refused.value.user_text()


def test_a_table_is_answered_with_bounded_concurrency_in_row_order(chat):
    remote = load_model(catalogue.TEXT_GENERATION, "endpoint:lab", chat)
    frame = pd.DataFrame({"prompt": ["one", "", "two", "three", "four"]})
    seen: list[tuple[int, int]] = []
    run = text_generation.generate_table(remote, frame, "prompt", GREEDY, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [run.table["new_tokens"][row] for row in (0, 2, 3, 4)] == [6, 6, 6, 6] and run.skipped == 1
    assert run.footer.device == "served by lab" and run.footer.tokens == 24


def test_a_batch_sends_at_most_max_concurrency_requests_at_once(settings):
    answer = openai_servers.chat_completion("fine", 9, 1)
    server = openai_servers.FixedAnswerServer(200, body=answer, delay=0.3)
    try:
        served = _with(settings, busy={"base_url": server.base_url, "model": "m", "max_concurrency": 3})
        remote = load_model(catalogue.TEXT_GENERATION, "endpoint:busy", served)
        replies = text_generation.generate(remote, [f"question {i}" for i in range(10)], GREEDY)
    finally:
        server.close()
    assert (server.requests, server.max_in_flight) == (10, 3)
    assert [(r.prompt, r.reply, r.prompt_tokens, r.new_tokens) for r in replies[:2]] == [
        ("question 0", "fine", 9, 1),
        ("question 1", "fine", 9, 1),
    ]


def test_a_cancelled_batch_sends_no_further_requests(settings):
    server = openai_servers.FixedAnswerServer(200, body=openai_servers.chat_completion("ok", 3, 1))
    try:
        served = _with(settings, busy={"base_url": server.base_url, "model": "m", "max_concurrency": 2})
        remote = load_model(catalogue.TEXT_GENERATION, "endpoint:busy", served)

        def cancel_after_three(done: int, total: int) -> None:
            if done == 3:
                raise RuntimeError("cancelled")

        with pytest.raises(RuntimeError, match="cancelled"):
            text_generation.generate(remote, [f"q{i}" for i in range(40)], GREEDY, progress=cancel_after_three)
    finally:
        server.close()
    assert server.requests <= 3 + 2  # the three answered and at most max_concurrency in flight


def test_a_batch_job_runs_in_a_real_worker_process_against_the_server(chat, local, tmp_path):
    served = dataclasses.replace(chat, state_dir=local.state_dir)
    frame = pd.DataFrame({"question": ["What is AI?", "什么是大模型？", "Name a colour."]})
    request = BatchRequest(
        catalogue.TEXT_GENERATION, "endpoint:lab", "question", "q.csv", temperature=0, max_new_tokens=4
    )
    job = batch_jobs.submit_batch_job(request, frame, owner="ann", settings=served)
    # The app's own way of starting a worker: a detached process given every setting as environment
    # variables (endpoints, key included, as LSM_ENDPOINTS). It exits after 5 idle seconds.
    assert ensure_worker_running(served, idle_exit_seconds=5)
    wait_for(lambda: JobStore(settings=served).require(job.id).status in (SUCCEEDED, FAILED, CANCELLED), "batch done")
    done = JobStore(settings=served).require(job.id)
    assert done.status == SUCCEEDED, done.error
    result = batch_jobs.read_result(done)
    assert result is not None and result.table["new_tokens"].tolist() == [4, 4, 4]
    assert result.footer.device == "served by lab"


def test_a_job_for_an_unconfigured_endpoint_is_refused_before_queuing(settings, local):
    request = BatchRequest(catalogue.TEXT_GENERATION, "endpoint:gone", "q", "q.csv")
    with pytest.raises(ModelUnavailableError, match="No model server"):
        batch_jobs.submit_batch_job(request, pd.DataFrame({"q": ["hi"]}), settings=local)


# --- failures, in words ---------------------------------------------------------------------------


def _fail(settings, table: dict) -> EndpointError:
    remote = load_model(catalogue.TEXT_GENERATION, "endpoint:down", _with(settings, down=table))
    with pytest.raises(EndpointError) as caught:
        list(text_generation.stream_reply(remote, [ChatMessage("user", "Hi")], GREEDY))
    return caught.value


def _shown(error: EndpointError) -> str:
    return f"{error.message} {error.hint} {error.detail}"


def test_a_wrong_key_is_explained_and_the_key_is_never_shown_or_logged(settings, caplog):
    server = openai_servers.FixedAnswerServer(401, "Invalid API key")
    try:
        with caplog.at_level(logging.DEBUG):
            error = _fail(settings, {"base_url": server.base_url, "model": "m", "api_key": KEY, "max_retries": 3})
    finally:
        server.close()
    assert error.message == "The model server down refused this app's credentials."
    assert "api_key" in error.detail and "401" in error.detail
    assert server.authorizations == [f"Bearer {KEY}"]  # sent once: a 401 is not retried
    assert KEY not in _shown(error) and KEY not in caplog.text
    assert server.base_url not in _shown(error)  # the address is for the log, not the page
    assert "127.0.0.1" in caplog.text


def test_too_many_requests_is_retried_then_explained(settings):
    server = openai_servers.FixedAnswerServer(429, "slow down", {"Retry-After": "0"})
    try:
        error = _fail(settings, {"base_url": server.base_url, "model": "m", "max_retries": 2})
    finally:
        server.close()
    assert server.requests == 3  # the client's own retries, honouring Retry-After
    assert error.message == "The model server down is busy: too many requests right now."
    assert "max_concurrency" in error.detail


def test_an_unreachable_server_is_explained(settings):
    error = _fail(settings, {"base_url": openai_servers.closed_port_url(), "model": "m", "max_retries": 0})
    assert error.message == "The model server down cannot be reached."
    assert "base_url" in error.detail and "running" in error.detail


def test_a_server_that_never_answers_times_out_in_words(settings):
    server = openai_servers.SilentServer()
    try:
        error = _fail(settings, {"base_url": server.base_url, "model": "m", "timeout_s": 1, "max_retries": 0})
    finally:
        server.close()
    assert error.message == "The model server down did not answer within 1 seconds."
    assert "timeout_s" in error.detail


def test_a_failing_server_fails_a_batch_job_with_the_same_words(settings, local):
    server = openai_servers.FixedAnswerServer(401)
    try:
        served = dataclasses.replace(
            _with(settings, down={"base_url": server.base_url, "model": "m", "api_key": KEY}), state_dir=local.state_dir
        )
        request = BatchRequest(catalogue.TEXT_GENERATION, "endpoint:down", "q", "q.csv")
        job = batch_jobs.submit_batch_job(request, pd.DataFrame({"q": ["a", "b", "c"]}), settings=served)
        assert worker.run_job(job.id, served) == FAILED
    finally:
        server.close()
    failed = JobStore(settings=served).require(job.id)
    assert "refused this app's credentials" in failed.error and KEY not in failed.error


# --- embeddings -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embeddings_server(tiny_models_dir, tmp_path_factory) -> str:
    log = tmp_path_factory.mktemp("served-embedder") / "embed.log"
    with openai_servers.serve_embeddings(tiny_models_dir[catalogue.EMBEDDINGS], log, api_key=KEY) as base_url:
        yield base_url


def _vectors(settings, base_url: str, key: str = KEY, model: str = "tiny") -> config.Settings:
    return _with(settings, v={"base_url": base_url, "model": model, "task": "embeddings", "api_key": key})


def test_served_embeddings_equal_the_same_model_in_process(settings, embeddings_server, tiny_model_paths):
    remote = load_model(catalogue.EMBEDDINGS, "endpoint:v", _vectors(settings, embeddings_server))
    texts = ["Fraud detection in card payments", "大模型正在改变各行各业。", "x"] * 30  # two requests of 64
    there = encode_texts(remote, texts)
    here = encode_texts(load_model(catalogue.EMBEDDINGS, tiny_model_paths[catalogue.EMBEDDINGS], settings), texts)
    assert there.shape == here.shape
    np.testing.assert_allclose(there, here, atol=1e-5)


def test_the_search_uses_an_embeddings_endpoint_and_falls_back_in_words(settings, embeddings_server, tmp_path):
    use_cases = load_catalogue()  # not ``catalogue``: that is the model catalogue module used here
    remote = endpoints.connect(catalogue.EMBEDDINGS, "endpoint:v", _vectors(settings, embeddings_server))
    found = search.search_catalogue("fraud", use_cases, lambda: remote, EmbeddingCache(tmp_path))
    assert found.mode == search.SEMANTIC and found.model_ref == "endpoint:v" and found.hits
    # The same name pointed at another model later: its catalogue vectors are not reused from disk.
    moved = endpoints.connect(catalogue.EMBEDDINGS, "endpoint:v", _vectors(settings, embeddings_server, model="tiny-2"))
    fresh = EmbeddingCache(tmp_path)
    assert search.search_catalogue("fraud", use_cases, lambda: moved, fresh).mode == search.SEMANTIC
    assert fresh.computed == 1 and len(list(tmp_path.glob("*.npy"))) == 2
    refused = endpoints.connect(catalogue.EMBEDDINGS, "endpoint:v", _vectors(settings, embeddings_server, "nope"))
    fallback = search.search_catalogue("fraud", use_cases, lambda: refused, EmbeddingCache())
    assert fallback.mode == search.KEYWORD
    assert "refused this app's credentials" in fallback.notice and KEY not in fallback.notice


@pytest.mark.real_weights
def test_the_real_smollm2_answers_sensibly_through_transformers_serve(settings, tmp_path):
    folder = openai_servers.serve_ready(require_packaged(packaged.SMOLLM2_135M), tmp_path / "smollm2")
    with openai_servers.serve_chat(folder, tmp_path / "serve.log") as base_url:
        served = _with(settings, smol={"base_url": base_url, "model": str(folder)})
        remote = load_model(catalogue.TEXT_GENERATION, "endpoint:smol", served)
        question = [ChatMessage("user", "What is the capital of France? Answer in one word.")]
        stream = text_generation.stream_reply(remote, question, GenerationOptions(temperature=0, max_new_tokens=8))
        "".join(stream)
    assert "Paris" in stream.result.text
    assert 0 < stream.result.new_tokens <= 8
