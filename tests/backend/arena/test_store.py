"""Votes, pairs and feedback in the workspace database: SQLite, then a real PostgreSQL server."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from backend.arena.store import (
    A_BETTER,
    ANSWERING,
    B_BETTER,
    BOTH_BAD,
    FAILED,
    OPEN_PAIR_HIDES_SECONDS,
    READY,
    SKIPPED,
    TIE,
    ArenaStore,
    Feedback,
)
from backend.errors import InvalidInputError
from backend.jobs.store import JobStore

SETTINGS = {"temperature": 0.7, "top_p": 0.9, "max_new_tokens": 64}


def _ready_pair(store: ArenaStore, owner: str = "", prompt: str = "Hi?") -> str:
    pair_id = store.open_pair(owner, "chat", prompt, "model-x", "model-y", SETTINGS)
    store.save_replies(pair_id, owner, f"x says {prompt}", f"y says {prompt}")
    return pair_id


def test_a_pair_shows_no_model_until_it_is_judged(store_location):
    store = ArenaStore(store_location)
    pair_id = store.open_pair("", "chat", "Name a colour.", "secret-model-1", "secret-model-2", SETTINGS)
    opened = store.pair(pair_id, "")
    assert opened.state == ANSWERING
    assert "secret-model" not in repr(opened.to_dict())
    assert store.reveal(pair_id, "") is None
    store.save_replies(pair_id, "", "Red.", "Blue.")
    ready = store.pair(pair_id, "")
    assert (ready.state, ready.reply_a, ready.reply_b) == (READY, "Red.", "Blue.")
    assert "secret-model" not in repr(ready.to_dict())
    assert store.reveal(pair_id, "") is None

    vote = store.vote(pair_id, "", B_BETTER)
    assert (vote.model_a, vote.model_b, vote.verdict) == ("secret-model-1", "secret-model-2", B_BETTER)
    assert (vote.prompt, vote.reply_a, vote.reply_b, vote.settings) == ("Name a colour.", "Red.", "Blue.", SETTINGS)
    assert vote.time > 0
    assert store.reveal(pair_id, "") == ("secret-model-1", "secret-model-2")
    assert store.votes("", "chat") == [vote]


def test_a_pair_takes_one_vote_and_the_first_stands(store_location):
    store = ArenaStore(store_location)
    pair_id = _ready_pair(store)
    store.vote(pair_id, "", A_BETTER)
    with pytest.raises(InvalidInputError, match="already judged"):
        store.vote(pair_id, "", B_BETTER)
    assert [vote.verdict for vote in store.votes("")] == [A_BETTER]


def test_unfinished_and_failed_pairs_cannot_be_judged(store_location):
    store = ArenaStore(store_location)
    answering = store.open_pair("", "chat", "Hi", "m1", "m2", {})
    with pytest.raises(InvalidInputError, match="must be finished"):
        store.vote(answering, "", TIE)
    failed = store.open_pair("", "chat", "Hi", "m1", "m2", {})
    store.save_replies(failed, "", "partial", "", error="Model B could not finish its reply")
    assert store.pair(failed, "").state == FAILED
    with pytest.raises(InvalidInputError, match="cannot be judged"):
        store.vote(failed, "", A_BETTER)
    with pytest.raises(InvalidInputError, match="Pick one of"):
        store.vote(_ready_pair(store), "", "c")
    assert store.votes("") == []


def test_open_pairs_hide_their_models_until_the_vote_or_a_skip(store_location):
    store = ArenaStore(store_location)
    answering = store.open_pair("", "chat", "Hi?", "model-a", "model-b", SETTINGS)
    ready = _ready_pair(store)  # model-x and model-y
    store.open_pair("someone-else", "chat", "Hi?", "their-model", "model-a", SETTINGS)
    assert store.hidden_models("") == {"model-a", "model-b", "model-x", "model-y"}
    assert store.hidden_models("someone-else") == {"their-model", "model-a"}

    store.vote(ready, "", A_BETTER)
    assert store.hidden_models("") == {"model-a", "model-b"}
    store.skip_pair(answering, "")
    assert store.pair(answering, "").state == SKIPPED
    assert store.hidden_models("") == set()


def test_a_skipped_pair_takes_no_vote_and_no_replies(store_location):
    store = ArenaStore(store_location)
    pair_id = _ready_pair(store)
    store.skip_pair(pair_id, "")
    with pytest.raises(InvalidInputError, match="skipped"):
        store.vote(pair_id, "", A_BETTER)
    store.restart_pair(pair_id, "")
    store.save_replies(pair_id, "", "late", "late")
    assert store.pair(pair_id, "").state == SKIPPED and store.votes("") == []


def test_an_abandoned_open_pair_stops_hiding_its_models(store_location):
    store = ArenaStore(store_location)
    pair_id = _ready_pair(store)
    later = time.time() + OPEN_PAIR_HIDES_SECONDS + 60
    assert store.hidden_models("", now=later) == set()
    assert store.pair(pair_id, "").state == READY  # still there to judge from its address


def test_workspaces_see_only_their_own_pairs_votes_and_feedback(store_location):
    store = ArenaStore(store_location)
    alice_pair = _ready_pair(store, "alice")
    assert store.pair(alice_pair, "bob") is None
    with pytest.raises(InvalidInputError, match="no longer here"):
        store.vote(alice_pair, "bob", A_BETTER)
    store.vote(alice_pair, "alice", TIE)
    store.add_feedback(Feedback("alice", "sentiment", "m", "text", "positive", 1, "", {}))
    assert store.votes("bob") == [] and store.feedback("bob") == []
    assert len(store.votes("alice")) == 1 and len(store.feedback("alice")) == 1


def test_a_refresh_finds_the_open_pair_in_a_new_store(store_location):
    first_session = ArenaStore(store_location)
    pair_id = _ready_pair(first_session, "alice", "Why is the sky blue?")
    reopened = ArenaStore(store_location)  # a new page run after a refresh: nothing in memory
    assert reopened.latest_open_pair("alice", "chat") == pair_id
    assert reopened.pair(pair_id, "alice").reply_a == "x says Why is the sky blue?"
    reopened.vote(pair_id, "alice", BOTH_BAD)
    assert reopened.latest_open_pair("alice", "chat") is None


def test_feedback_is_checked_and_kept(store_location):
    store = ArenaStore(store_location)
    kept = store.add_feedback(
        Feedback("", "translation", "opus", "Hello", "Hallo", -1, "  too literal \x00 ", {"beams": 4})
    )
    assert kept.comment == "too literal"
    with pytest.raises(InvalidInputError, match="thumbs"):
        store.add_feedback(Feedback("", "translation", "opus", "Hello", "Hallo", 0, "", {}))
    with pytest.raises(InvalidInputError, match="limit is 2,000"):
        store.add_feedback(Feedback("", "translation", "opus", "Hello", "Hallo", 1, "x" * 2001, {}))
    [read] = store.feedback("", "translation")
    assert read == kept and read.settings == {"beams": 4}


def test_votes_live_beside_the_jobs_in_the_job_store_database(local):
    JobStore(settings=local)  # the job tables first, as the app opens them
    store = ArenaStore(settings=local)
    store.vote(_ready_pair(store), "", A_BETTER)
    import sqlite3

    with sqlite3.connect(local.jobs_db) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"jobs", "arena_pairs", "arena_votes", "demo_feedback"} <= tables
        assert connection.execute("SELECT COUNT(*) FROM arena_votes").fetchone()[0] == 1


def _vote_many(location: str, owner: str, count: int, ready: multiprocessing.synchronize.Barrier) -> None:
    store = ArenaStore(location)
    pairs = [_ready_pair(store, owner, f"{owner} question {n}") for n in range(count)]
    ready.wait()
    for number, pair_id in enumerate(pairs):
        store.vote(pair_id, owner, A_BETTER if number % 2 else B_BETTER)


def test_two_processes_voting_at_once_lose_no_vote(store_location):
    location = str(store_location)
    ArenaStore(location)
    ready = multiprocessing.get_context("spawn").Barrier(2)
    voters = [
        multiprocessing.get_context("spawn").Process(target=_vote_many, args=(location, owner, 40, ready))
        for owner in ("alice", "bob")
    ]
    for voter in voters:
        voter.start()
    for voter in voters:
        voter.join(120)
        assert voter.exitcode == 0
    store = ArenaStore(location)
    for owner in ("alice", "bob"):
        votes = store.votes(owner, "chat")
        assert len(votes) == 40
        assert sorted(vote.prompt for vote in votes) == sorted(f"{owner} question {n}" for n in range(40))


def test_two_sessions_voting_on_the_same_pair_count_it_once(store_location):
    store = ArenaStore(store_location)
    pair_id = _ready_pair(store)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def vote(verdict: str) -> None:
        start.wait()
        try:
            ArenaStore(store_location).vote(pair_id, "", verdict)
            outcomes.append("counted")
        except InvalidInputError:
            outcomes.append("refused")

    threads = [threading.Thread(target=vote, args=(verdict,)) for verdict in (A_BETTER, B_BETTER)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["counted", "refused"]
    assert len(store.votes("")) == 1


def test_the_store_never_shows_a_server_password(postgres_server_url, tmp_path: Path):
    with_password = postgres_server_url.replace("postgres@", "postgres:hunter2@")
    assert "hunter2" not in repr(ArenaStore(with_password))
