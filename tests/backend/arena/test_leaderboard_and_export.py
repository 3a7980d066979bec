"""The leaderboard from stored votes, and the files votes and feedback leave as."""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from backend.arena import export, leaderboard
from backend.arena.leaderboard import MIN_VOTES_TO_RANK, build_leaderboard
from backend.arena.store import A_BETTER, B_BETTER, BOTH_BAD, TIE, ArenaStore, Vote


def _vote(model_a: str, model_b: str, verdict: str, prompt: str = "p", replies: tuple[str, str] = ("ra", "rb")) -> Vote:
    return Vote("v", "pair", "", "chat", prompt, model_a, model_b, {}, replies[0], replies[1], verdict, 0.0)


def test_the_board_ranks_by_score_and_counts_every_vote():
    rng = np.random.default_rng(7)
    strength = {"big": 1.2, "mid": 0.0, "small": -1.2}
    votes = []
    for _ in range(600):
        first, second = rng.choice(list(strength), size=2, replace=False)
        won = rng.random() < 1 / (1 + np.exp(strength[second] - strength[first]))
        votes.append(_vote(str(first), str(second), A_BETTER if won else B_BETTER))
    votes += [_vote("big", "small", TIE), _vote("mid", "small", BOTH_BAD)]
    board = build_leaderboard(votes, samples=100)
    assert [row.model for row in board] == ["big", "mid", "small"]
    assert [row.rank for row in board] == [1, 2, 3]
    assert sum(row.votes for row in board) == 2 * len(votes)
    small = board[2]
    assert small.ties == 2 and small.wins + small.losses + small.ties == small.votes
    assert all(row.low < row.score < row.high for row in board)


def test_models_with_too_few_votes_are_listed_but_not_ranked():
    votes = [_vote("a", "b", A_BETTER)] * MIN_VOTES_TO_RANK + [_vote("a", "newcomer", B_BETTER)]
    board = {row.model: row for row in build_leaderboard(votes, samples=50)}
    assert board["a"].ranked and board["b"].ranked
    assert not board["newcomer"].ranked and board["newcomer"].votes == 1
    assert [row.model for row in build_leaderboard(votes, samples=50)][-1] == "newcomer"


def test_models_whose_intervals_overlap_share_a_rank():
    votes = [_vote("a", "b", A_BETTER), _vote("a", "b", B_BETTER)] * MIN_VOTES_TO_RANK
    board = build_leaderboard(votes, samples=100)
    assert [row.rank for row in board] == [1, 1]


def test_ties_count_half_a_win_each_way():
    [comparison] = leaderboard.comparisons([_vote("a", "b", BOTH_BAD)])
    assert comparison.outcome == 0.5


def test_preference_rows_keep_decisive_votes_in_the_trainers_shape():
    votes = [
        _vote("a", "b", A_BETTER, "Q1", ("good one", "bad one")),
        _vote("a", "b", B_BETTER, "Q2", ("worse", "better")),
        _vote("a", "b", TIE, "Q3"),
        _vote("a", "b", BOTH_BAD, "Q4"),
        _vote("a", "b", A_BETTER, "Q5", ("same", "same")),
    ]
    assert export.preference_pairs(votes) == [
        {"prompt": "Q1", "chosen": "good one", "rejected": "bad one"},
        {"prompt": "Q2", "chosen": "better", "rejected": "worse"},
    ]


def test_preference_rows_read_the_workspace_votes(local):
    store = ArenaStore(settings=local)
    for owner, verdict in (("alice", A_BETTER), ("bob", B_BETTER)):
        pair = store.open_pair(owner, "chat", "你好吗？", "m1", "m2", {"temperature": 0.7})
        store.save_replies(pair, owner, "我很好。", "Fine.")
        store.vote(pair, owner, verdict)
    assert export.preference_rows("alice", settings=local) == [
        {"prompt": "你好吗？", "chosen": "我很好。", "rejected": "Fine."}
    ]
    assert export.preference_rows("alice", "translation", settings=local) == []


def test_jsonl_keeps_chinese_readable_and_every_field():
    vote = dataclasses.replace(_vote("a", "b", A_BETTER, "问题"), settings={"top_p": 0.9})
    [line] = export.votes_jsonl([vote]).decode("utf-8").splitlines()
    assert "问题" in line
    assert json.loads(line) == vote.to_dict()
    rows = export.to_jsonl(export.preference_pairs([vote])).decode("utf-8").splitlines()
    assert [json.loads(row) for row in rows] == [{"prompt": "问题", "chosen": "ra", "rejected": "rb"}]
