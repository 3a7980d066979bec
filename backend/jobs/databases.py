"""The two databases a job store can live in, and where they differ: connecting, the schema's
types, JSON access and the column that keeps insertion order.

SQLite (a file in the state folder, WAL mode) is the embedded default; PostgreSQL (psycopg 3,
``LSM_JOB_STORE=postgresql://...``) lets workers on several machines share the rows. Every
statement of ``store.JobStore`` is written once, with ``?`` placeholders, for both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backend import optional
from backend.errors import ShowcaseError
from backend.i18n import _

POSTGRES_SCHEMES = ("postgresql://", "postgres://")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL DEFAULT 'train',
    owner TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    task TEXT NOT NULL,
    method TEXT NOT NULL,
    base_model TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    progress REAL NOT NULL DEFAULT 0,
    step INTEGER NOT NULL DEFAULT 0,
    total_steps INTEGER NOT NULL DEFAULT 0,
    epoch REAL NOT NULL DEFAULT 0,
    eta_seconds REAL,
    message TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    params TEXT NOT NULL DEFAULT '{}',
    dataset TEXT NOT NULL DEFAULT '{}',
    metrics TEXT NOT NULL DEFAULT '{}',
    artefacts TEXT NOT NULL DEFAULT '{}',
    run_dir TEXT NOT NULL,
    worker_pid INTEGER,
    worker_host TEXT NOT NULL DEFAULT '',
    heartbeat REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created);
CREATE TABLE IF NOT EXISTS job_metrics (
    job_id TEXT NOT NULL, step INTEGER NOT NULL, epoch REAL NOT NULL, name TEXT NOT NULL,
    value REAL NOT NULL, time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS job_metrics_job ON job_metrics (job_id, step);
CREATE TABLE IF NOT EXISTS job_logs (
    job_id TEXT NOT NULL, time REAL NOT NULL, level TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS job_logs_job ON job_logs (job_id, time);
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, started REAL NOT NULL, seen REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_owner_kind ON jobs (owner, kind, created);
"""
# PostgreSQL's REAL is 4 bytes (a timestamp would lose its seconds), and it has no rowid: metric
# points and log lines keep their insertion order in a ``seq`` column instead.
_POSTGRES_SCHEMA = (
    SCHEMA.replace(" REAL", " DOUBLE PRECISION")
    .replace("job_metrics (\n", "job_metrics (\n    seq BIGSERIAL PRIMARY KEY,\n")
    .replace("job_logs (\n", "job_logs (\n    seq BIGSERIAL PRIMARY KEY,\n")
)
# Databases written before jobs had a kind: batch jobs were the ones with method "batch", and a
# training job's model was found by its manifest, so its artefacts did not name the demo task.
_MIGRATIONS = (
    "ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'train'",
    "UPDATE jobs SET kind = 'batch', method = '' WHERE method = 'batch'",
    "UPDATE jobs SET artefacts = json_set(artefacts, '$.model_task', "
    "CASE task WHEN 'image' THEN 'image_classification' ELSE 'sentiment' END) "
    "WHERE kind = 'train' AND status = 'succeeded' AND json_extract(artefacts, '$.model_dir') IS NOT NULL",
)


def migrate(connection: sqlite3.Connection) -> None:
    """Bring a database from before job kinds up to date (once; another process may race us)."""
    try:
        connection.execute(_MIGRATIONS[0])
    except sqlite3.OperationalError as error:
        if "duplicate column" in str(error):
            return  # another process added the column and migrates the rows
        raise
    for statement in _MIGRATIONS[1:]:
        connection.execute(statement)


class SQLiteDatabase:
    """The embedded store: one file, one machine, so a worker's pid can be checked directly."""

    shared = False
    order = "rowid"

    def __init__(self, path: Path) -> None:
        self.path = path

    def __str__(self) -> str:
        return "SQLite"

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=30)
        connection.row_factory = sqlite3.Row
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            with connection:
                yield connection
        finally:
            connection.close()

    @staticmethod
    def json_text(column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"


# PostgreSQL locations whose tables this process has created or found.
_POSTGRES_READY: set[str] = set()


class _PostgresConnection:
    """A psycopg connection that takes the store's ``?`` placeholders, as sqlite3 does."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def execute(self, sql: str, values: Any = None) -> Any:
        return self._connection.execute(sql.replace("?", "%s"), values or None)


class PostgresDatabase:
    """A PostgreSQL server shared by workers on several machines (psycopg 3)."""

    shared = True
    order = "seq"
    # Any constant: the key of the advisory lock that serialises creating the tables.
    _SCHEMA_LOCK = 7_150_015

    def __init__(self, url: str) -> None:
        self.url = url

    def __str__(self) -> str:
        return "PostgreSQL"

    @contextmanager
    def connect(self) -> Iterator[_PostgresConnection]:
        psycopg = optional.require("psycopg", "psycopg", "The PostgreSQL job store (LSM_JOB_STORE=postgresql://...)")
        from psycopg.rows import dict_row

        try:
            connection = psycopg.connect(self.url, row_factory=dict_row, connect_timeout=10)
        except psycopg.OperationalError as error:
            # Neither the URL (it may hold a password) nor the server's words (they name the host) are shown.
            raise ShowcaseError(
                _("The job store (PostgreSQL, LSM_JOB_STORE) cannot be reached."),
                _("Check that the database server is running and that LSM_JOB_STORE names it, then try again."),
            ) from error
        with connection:  # commits on success, rolls back on an error, and closes
            yield _PostgresConnection(connection)

    def create_schema(self) -> None:
        """Create the tables once per process and server (a store is opened for every call)."""
        if self.url in _POSTGRES_READY:
            return
        with self.connect() as connection:
            # CREATE TABLE IF NOT EXISTS is not safe against a second process doing the same at once.
            connection.execute(f"SELECT pg_advisory_xact_lock({self._SCHEMA_LOCK})")
            connection.execute(_POSTGRES_SCHEMA)
        _POSTGRES_READY.add(self.url)

    @staticmethod
    def json_text(column: str, key: str) -> str:
        return f"({column}::jsonb ->> '{key}')"


def is_postgres_url(location: str | Path) -> bool:
    """Whether a job store location names a PostgreSQL server rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)
