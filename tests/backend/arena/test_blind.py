"""A blind pair from prompt to vote on real tiny chat models, a real model server that dies
mid-reply, and a model that cannot load: no vote lost, no model named before the vote."""

from __future__ import annotations

import dataclasses
import random
import threading

import pytest

from backend import config
from backend.arena import blind
from backend.arena.store import A_BETTER, FAILED, READY, ArenaStore
from backend.errors import InvalidInputError
from backend.inference import text_generation
from backend.inference.text_generation import ChatMessage, GenerationOptions
from backend.models import acquire
from backend.models.cache import ModelCache
from backend.models.resolve import catalogue
from tests.support import openai_servers, tiny_models

OPTIONS = GenerationOptions(temperature=0, max_new_tokens=8)


@pytest.fixture(scope="module")
def second_chat_model(settings) -> str:
    return str(tiny_models.build_chat_model(settings.models_dir / "arena-tests" / "second-chat", initializer_range=0.5))


@pytest.fixture
def broken_server():
    server = openai_servers.BrokenStreamServer()
    yield server
    server.close()


def _settings_with_server(settings: config.Settings, base_url: str) -> config.Settings:
    served = config._endpoint("lab-gpu", {"base_url": base_url, "model": "served-chat", "max_retries": 0})
    return dataclasses.replace(settings, endpoints=(served,))


def _starter(settings: config.Settings):
    cache = ModelCache(2**30, settings=settings)

    def start(side: str, model_ref: str):
        loaded = acquire.acquire(
            catalogue.TEXT_GENERATION, model_ref, cache, check_access=lambda plan: None, settings=settings
        )
        return text_generation.stream_reply(loaded, [ChatMessage("user", "Say hello.")], OPTIONS, threading.Event())

    return start


def test_both_hidden_models_answer_at_once_and_are_named_only_by_the_vote(local, tiny_model_paths, second_chat_model):
    store = ArenaStore(settings=local)
    first = tiny_model_paths["text-generation"]
    pair_id = blind.open_pair(store, "", blind.CHAT, "Say hello.", [first, second_chat_model], OPTIONS.to_dict())
    drawn: list[tuple[int, str]] = []
    pair = blind.answer_pair(store, pair_id, "", _starter(local), lambda side, text: drawn.append((side, text)))
    assert pair.state == READY
    assert {side for side, _ in drawn} == {0, 1}
    assert pair.reply_a == [text for side, text in drawn if side == 0][-1]
    assert first not in repr(pair.to_dict()) and second_chat_model not in repr(pair.to_dict())
    vote = store.vote(pair_id, "", A_BETTER)
    assert {vote.model_a, vote.model_b} == {first, second_chat_model}
    assert vote.settings == OPTIONS.to_dict()
    with pytest.raises(InvalidInputError, match="already judged"):  # a judged pair is never answered again
        blind.answer_pair(store, pair_id, "", _starter(local), lambda side, text: None)
    assert store.pair(pair_id, "").reply_a == pair.reply_a


def test_a_server_dying_mid_reply_fails_the_pair_without_naming_a_model(local, tiny_model_paths, broken_server):
    settings = _settings_with_server(local, broken_server.base_url)
    store = ArenaStore(settings=settings)
    earlier = store.open_pair("", blind.CHAT, "earlier", "m1", "m2", {})
    store.save_replies(earlier, "", "one", "two")
    store.vote(earlier, "", A_BETTER)

    served = "endpoint:lab-gpu"
    pair_id = store.open_pair("", blind.CHAT, "Say hello.", tiny_model_paths["text-generation"], served, {})
    pair = blind.answer_pair(store, pair_id, "", _starter(settings), lambda side, text: None)
    assert broken_server.requests >= 1
    assert pair.state == FAILED
    assert pair.error.startswith("Model B could not finish")
    for hidden in ("lab-gpu", "served-chat", tiny_model_paths["text-generation"], "endpoint"):
        assert hidden not in pair.error
    assert pair.reply_b == "Half a " and pair.reply_a
    with pytest.raises(InvalidInputError, match="cannot be judged"):
        store.vote(pair_id, "", A_BETTER)
    assert store.reveal(pair_id, "") is None
    assert [vote.prompt for vote in store.votes("")] == ["earlier"]


def test_a_model_that_cannot_load_fails_its_side_only_by_letter(local, tiny_model_paths):
    store = ArenaStore(settings=local)
    missing = str(local.models_dir / "arena-tests" / "no-such-model")
    pair_id = store.open_pair("", blind.CHAT, "Hi", tiny_model_paths["text-generation"], missing, {})
    pair = blind.answer_pair(store, pair_id, "", _starter(local), lambda side, text: None)
    assert pair.state == FAILED
    assert pair.error.startswith("Model B could not finish")
    assert "no-such-model" not in pair.error


def test_a_refresh_mid_reply_lets_the_same_hidden_pair_answer_again(local, tiny_model_paths, second_chat_model):
    store = ArenaStore(settings=local)
    pair_id = blind.open_pair(
        store, "", blind.CHAT, "Say hello.", [tiny_model_paths["text-generation"], second_chat_model], {}
    )
    models = store.models_to_answer(pair_id, "")
    # The page was left while both replied: nothing was saved but the pair itself.
    reopened = ArenaStore(settings=local)
    assert reopened.latest_open_pair("", blind.CHAT) == pair_id
    pair = blind.answer_pair(reopened, pair_id, "", _starter(local), lambda side, text: None)
    assert pair.state == READY and reopened.models_to_answer(pair_id, "") == models


def test_a_pair_needs_two_different_models():
    with pytest.raises(InvalidInputError, match="two models"):
        blind.draw_models(["only-one", "only-one"])
    drawn = {blind.draw_models(["a", "b", "c"], random.Random(seed)) for seed in range(40)}
    assert all(first != second for first, second in drawn)
    assert {first for first, _ in drawn} == {"a", "b", "c"}
