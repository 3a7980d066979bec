"""Blind pairs, votes and demo feedback, in the workspace database (the job store's, SQLite or PostgreSQL).

A blind pair is written before either model answers, so a refresh mid-vote finds it again (by
its id, which the page keeps in the address, and its owner); its models are read back only by
``reveal`` and by a vote, never by what the page shows before the vote. A vote and the end of its
pair are one transaction, and a pair takes one vote (its id is unique among the votes): two tabs
voting on the same pair keep the first vote and tell the second it was already counted.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from backend.config import Settings, get_settings
from backend.errors import InvalidInputError
from backend.i18n import N_, _
from backend.jobs import databases
from backend.records import JsonRecord

# A vote copies these columns from its pair (``vote``), so both tables declare them once, here.
_PAIR_COLUMNS = """
    owner TEXT NOT NULL,
    task TEXT NOT NULL,
    prompt TEXT NOT NULL,
    model_a TEXT NOT NULL,
    model_b TEXT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',"""
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS arena_pairs (
    id TEXT PRIMARY KEY,{_PAIR_COLUMNS}
    reply_a TEXT NOT NULL DEFAULT '',
    reply_b TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS arena_pairs_owner ON arena_pairs (owner, state, created);
CREATE TABLE IF NOT EXISTS arena_votes (
    id TEXT PRIMARY KEY,
    pair_id TEXT NOT NULL UNIQUE,{_PAIR_COLUMNS}
    reply_a TEXT NOT NULL,
    reply_b TEXT NOT NULL,
    verdict TEXT NOT NULL,
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS arena_votes_owner ON arena_votes (owner, task, time);
CREATE TABLE IF NOT EXISTS demo_feedback (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt TEXT NOT NULL,
    answer TEXT NOT NULL,
    rating INTEGER NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    settings TEXT NOT NULL DEFAULT '{{}}',
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS demo_feedback_owner ON demo_feedback (owner, task, time);
"""

# A pair's life: both models answering, both answered (it can be judged), one failed, judged, or
# left unjudged by the voter's *Skip*.
ANSWERING = "answering"
READY = "ready"
FAILED = "failed"
VOTED = "voted"
SKIPPED = "skipped"
# Open pairs (answering or ready) hide their models from every page of their workspace; a pair left
# open without a vote or a skip (a closed tab) stops hiding them after this long, so an abandoned
# question does not hide two models from the Models page for good.
OPEN_PAIR_HIDES_SECONDS = 6 * 3600

A_BETTER = "a"
B_BETTER = "b"
TIE = "tie"
BOTH_BAD = "both_bad"
VERDICTS = (A_BETTER, B_BETTER, TIE, BOTH_BAD)
VERDICT_LABELS = {
    A_BETTER: N_("A is better"),
    B_BETTER: N_("B is better"),
    TIE: N_("Tie"),
    BOTH_BAD: N_("Both are bad"),
}
MAX_COMMENT_CHARS = 2000
# Every table's one JSON column: the answering options.
_JSON_COLUMNS = ("settings",)
THUMBS_UP = 1
THUMBS_DOWN = -1


@dataclass(frozen=True)
class BlindPair(JsonRecord):
    """What the page may show of a pair before the vote: the prompt and both replies, no models."""

    id: str
    task: str
    prompt: str
    reply_a: str
    reply_b: str
    state: str
    error: str = ""
    settings: dict[str, Any] = field(default_factory=dict)


_BLIND_FIELDS = tuple(item.name for item in fields(BlindPair))


@dataclass(frozen=True)
class Vote(JsonRecord):
    """A stored vote, models named: everything a leaderboard or a preference trainer reads."""

    id: str
    pair_id: str
    owner: str
    task: str
    prompt: str
    model_a: str
    model_b: str
    settings: dict[str, Any]
    reply_a: str
    reply_b: str
    verdict: str
    time: float


@dataclass(frozen=True)
class Feedback(JsonRecord):
    """A thumbs up (1) or down (-1) on one demo answer, with an optional comment; the store gives it
    its ``id`` and ``time`` when it keeps it (``ArenaStore.add_feedback``)."""

    id: str = field(default="", kw_only=True)
    owner: str
    task: str
    model: str
    prompt: str
    answer: str
    rating: int
    comment: str
    settings: dict[str, Any]
    time: float = field(default=0.0, kw_only=True)


class ArenaStore:
    """Pairs, votes and feedback of every workspace, each read back only by its owner.

    Args:
        location: a SQLite file or a ``postgresql://`` URL; by default the job store's database.
        settings: whose job store to use when ``location`` is not given.
    """

    def __init__(self, location: Path | str | None = None, settings: Settings | None = None) -> None:
        self._database: databases.SQLiteDatabase | databases.PostgresDatabase = databases.open_database(
            location or databases.database_location(settings or get_settings())
        )
        self._database.create_tables(SCHEMA)

    def __repr__(self) -> str:
        return f"ArenaStore({self._database})"  # never the URL: it may carry a password

    # --- blind pairs ----------------------------------------------------------------------------

    def open_pair(
        self, owner: str, task: str, prompt: str, model_a: str, model_b: str, settings: dict[str, Any]
    ) -> str:
        """Record a new pair before its models answer; returns its id."""
        pair_id = uuid.uuid4().hex
        with self._database.connect() as connection:
            connection.execute(
                "INSERT INTO arena_pairs (id, owner, task, prompt, model_a, model_b, settings, state, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (pair_id, owner, task, prompt, model_a, model_b, json.dumps(settings), ANSWERING, time.time()),
            )
        return pair_id

    def save_replies(self, pair_id: str, owner: str, reply_a: str, reply_b: str, error: str = "") -> None:
        """Both replies: the pair can be judged, or (with ``error``) it failed and cannot be."""
        with self._database.connect() as connection:
            connection.execute(
                "UPDATE arena_pairs SET reply_a = ?, reply_b = ?, state = ?, error = ? "
                "WHERE id = ? AND owner = ? AND state NOT IN (?, ?)",
                (reply_a, reply_b, FAILED if error else READY, error, pair_id, owner, VOTED, SKIPPED),
            )

    def restart_pair(self, pair_id: str, owner: str) -> None:
        """Mark a pair as answering again (its replies were lost to a refresh mid-reply)."""
        with self._database.connect() as connection:
            connection.execute(
                "UPDATE arena_pairs SET state = ?, error = '' WHERE id = ? AND owner = ? AND state NOT IN (?, ?)",
                (ANSWERING, pair_id, owner, VOTED, SKIPPED),
            )

    def pair(self, pair_id: str, owner: str) -> BlindPair | None:
        """The pair as the page may show it before the vote, or None (not this owner's, or unknown)."""
        row = self._pair_row(pair_id, owner)
        if row is None:
            return None
        # Only the fields the page may see: the row's models stay out of the pair.
        data = databases.decode_json_columns(row, _JSON_COLUMNS)
        return BlindPair(**{name: data[name] for name in _BLIND_FIELDS})

    def models_to_answer(self, pair_id: str, owner: str) -> tuple[str, str]:
        """The two hidden models, for the code that makes them answer (never for the page to show)."""
        row = self._pair_row(pair_id, owner)
        if row is None:
            raise InvalidInputError(_("This comparison is no longer here."), _("Start a new one."))
        return row["model_a"], row["model_b"]

    def latest_open_pair(self, owner: str, task: str) -> str | None:
        """The id of this owner's newest pair of ``task`` that is not judged yet, if any."""
        with self._database.connect() as connection:
            row = connection.execute(
                "SELECT id FROM arena_pairs WHERE owner = ? AND task = ? AND state IN (?, ?) "
                "ORDER BY created DESC LIMIT 1",
                (owner, task, ANSWERING, READY),
            ).fetchone()
        return None if row is None else row["id"]

    def skip_pair(self, pair_id: str, owner: str) -> None:
        """Leave an unjudged pair without a vote: it is not counted, and its models are no longer hidden."""
        with self._database.connect() as connection:
            connection.execute(
                "UPDATE arena_pairs SET state = ? WHERE id = ? AND owner = ? AND state IN (?, ?)",
                (SKIPPED, pair_id, owner, ANSWERING, READY),
            )

    def hidden_models(self, owner: str, now: float | None = None) -> set[str]:
        """The models this owner's open pairs hold (answering or ready to judge, opened within
        ``OPEN_PAIR_HIDES_SECONDS``): no page of the workspace may name them until the vote."""
        since = (time.time() if now is None else now) - OPEN_PAIR_HIDES_SECONDS
        with self._database.connect() as connection:
            rows = connection.execute(
                "SELECT model_a, model_b FROM arena_pairs WHERE owner = ? AND state IN (?, ?) AND created >= ?",
                (owner, ANSWERING, READY, since),
            ).fetchall()
        return {row[column] for row in rows for column in ("model_a", "model_b")}

    def _pair_row(self, pair_id: str, owner: str) -> Any:
        with self._database.connect() as connection:
            return connection.execute(
                "SELECT * FROM arena_pairs WHERE id = ? AND owner = ?", (pair_id, owner)
            ).fetchone()

    def vote(self, pair_id: str, owner: str, verdict: str) -> Vote:
        """Record the verdict on a judged-ready pair and return it with the models revealed.

        Raises:
            InvalidInputError: an unknown verdict, a pair that is not this owner's, not answered
                yet, failed, or already judged (the first vote stands).
        """
        if verdict not in VERDICTS:
            raise InvalidInputError(_("Pick one of: A is better, B is better, tie, both are bad."))
        vote_id = uuid.uuid4().hex
        now = time.time()
        with self._database.connect() as connection:
            # The pair leaves READY in the same transaction that stores the vote: of two sessions
            # voting on one pair, only the one whose update matched a row inserts a vote.
            changed = connection.execute(
                "UPDATE arena_pairs SET state = ? WHERE id = ? AND owner = ? AND state = ?",
                (VOTED, pair_id, owner, READY),
            )
            if changed.rowcount != 1:
                raise self._refusal(connection, pair_id, owner)
            connection.execute(
                "INSERT INTO arena_votes (id, pair_id, owner, task, prompt, model_a, model_b, settings, "
                "reply_a, reply_b, verdict, time) SELECT ?, id, owner, task, prompt, model_a, model_b, "
                "settings, reply_a, reply_b, ?, ? FROM arena_pairs WHERE id = ?",
                (vote_id, verdict, now, pair_id),
            )
            row = connection.execute("SELECT * FROM arena_votes WHERE id = ?", (vote_id,)).fetchone()
        return _to_vote(row)

    @staticmethod
    def _refusal(connection: Any, pair_id: str, owner: str) -> InvalidInputError:
        row = connection.execute(
            "SELECT state FROM arena_pairs WHERE id = ? AND owner = ?", (pair_id, owner)
        ).fetchone()
        if row is None:
            return InvalidInputError(_("This comparison is no longer here."), _("Start a new one."))
        if row["state"] == VOTED:
            return InvalidInputError(_("This comparison was already judged; your first vote counts."))
        if row["state"] == SKIPPED:
            return InvalidInputError(_("This comparison was skipped, so it is not counted."), _("Start a new one."))
        if row["state"] == FAILED:
            return InvalidInputError(
                _("One of the replies failed, so this comparison cannot be judged."), _("Start a new one.")
            )
        return InvalidInputError(_("Both replies must be finished before you vote."))

    def reveal(self, pair_id: str, owner: str) -> tuple[str, str] | None:
        """The two models of a judged pair; None while it is not judged (they stay hidden)."""
        row = self._pair_row(pair_id, owner)
        if row is None or row["state"] != VOTED:
            return None
        return row["model_a"], row["model_b"]

    def vote_on(self, pair_id: str, owner: str) -> Vote | None:
        """The vote given on a pair, or None while it has none."""
        with self._database.connect() as connection:
            row = connection.execute(
                "SELECT * FROM arena_votes WHERE pair_id = ? AND owner = ?", (pair_id, owner)
            ).fetchone()
        return None if row is None else _to_vote(row)

    def votes(self, owner: str, task: str | None = None) -> list[Vote]:
        """This owner's votes (of ``task`` when given), oldest first."""
        return [Vote(**row) for row in self._owner_rows("arena_votes", owner, task)]

    # --- feedback -------------------------------------------------------------------------------

    def add_feedback(self, feedback: Feedback) -> Feedback:
        """Keep a thumbs up or down on one answer; returns it as kept (with its id, time and cleaned comment).

        Raises:
            InvalidInputError: a rating other than up or down, or a comment over ``MAX_COMMENT_CHARS``.
        """
        if feedback.rating not in (THUMBS_UP, THUMBS_DOWN):
            raise InvalidInputError(_("Feedback is a thumbs up or a thumbs down."))
        comment = (feedback.comment or "").replace("\x00", "").strip()
        if len(comment) > MAX_COMMENT_CHARS:
            raise InvalidInputError(
                _("The comment is {count:,} characters long; the limit is {limit:,}.").format(
                    count=len(comment), limit=MAX_COMMENT_CHARS
                ),
                _("Shorten it and send it again; your text is still in the box."),
            )
        kept = replace(
            feedback, id=uuid.uuid4().hex, comment=comment, settings=dict(feedback.settings), time=time.time()
        )
        row = databases.encode_json_columns(kept.to_dict(), _JSON_COLUMNS)
        with self._database.connect() as connection:
            connection.execute(databases.insert_statement("demo_feedback", row), list(row.values()))
        return kept

    def feedback(self, owner: str, task: str | None = None) -> list[Feedback]:
        """This owner's feedback (on ``task`` when given), oldest first."""
        return [Feedback(**row) for row in self._owner_rows("demo_feedback", owner, task)]

    def _owner_rows(self, table: str, owner: str, task: str | None) -> list[dict[str, Any]]:
        """``table``'s rows of this owner (of ``task`` when given), oldest first, settings decoded."""
        sql = f"SELECT * FROM {table} WHERE owner = ?"
        values: list[Any] = [owner]
        if task is not None:
            sql += " AND task = ?"
            values.append(task)
        with self._database.connect() as connection:
            rows = connection.execute(sql + " ORDER BY time, id", values).fetchall()
        return [databases.decode_json_columns(row, _JSON_COLUMNS) for row in rows]


def _to_vote(row: Any) -> Vote:
    return Vote(**databases.decode_json_columns(row, _JSON_COLUMNS))
