"""Votes and feedback as files: the prompt/chosen/rejected rows preference trainers read (DPO in
trl, the ``preference`` job kind), and every vote or feedback record as JSON lines."""

from __future__ import annotations

import json
from collections.abc import Iterable

from backend.arena.store import A_BETTER, B_BETTER, ArenaStore, Feedback, Vote
from backend.config import Settings


def preference_pairs(votes: Iterable[Vote]) -> list[dict[str, str]]:
    """A {"prompt", "chosen", "rejected"} row per decisive vote (A or B better); ties and "both
    are bad" say nothing about which reply to prefer, and a pair of identical replies teaches nothing."""
    rows = []
    for vote in votes:
        if vote.verdict not in (A_BETTER, B_BETTER) or vote.reply_a == vote.reply_b:
            continue
        chosen, rejected = (vote.reply_a, vote.reply_b) if vote.verdict == A_BETTER else (vote.reply_b, vote.reply_a)
        rows.append({"prompt": vote.prompt, "chosen": chosen, "rejected": rejected})
    return rows


def preference_rows(owner: str, task: str = "chat", settings: Settings | None = None) -> list[dict[str, str]]:
    """The workspace's decisive votes on ``task`` as preference rows (see ``preference_pairs``).

    ``task`` is the arena's task name; "chat" is the text-generation demo's arena.
    """
    return preference_pairs(ArenaStore(settings=settings).votes(owner, task))


def to_jsonl(rows: Iterable[dict[str, object]]) -> bytes:
    """One JSON object per line, UTF-8, non-ASCII kept as is (Chinese stays readable)."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


def votes_jsonl(votes: Iterable[Vote]) -> bytes:
    """Every vote in full (models, settings, verdict, time) as JSON lines."""
    return to_jsonl(vote.to_dict() for vote in votes)


def feedback_jsonl(feedback: Iterable[Feedback]) -> bytes:
    """Every feedback record as JSON lines."""
    return to_jsonl(item.to_dict() for item in feedback)
