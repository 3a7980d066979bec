"""The two databases a job store can live in, and where they differ: connecting, the schema's
types, JSON access and the column that keeps insertion order.

The job store's database is the workspace's one database: other stores (the arena's votes and
feedback) add their own tables to it through ``create_tables`` and connect through ``open_database``,
so a deployment that moved its jobs to PostgreSQL has its votes there too.

SQLite (a file in the state folder, WAL mode) is the embedded default; PostgreSQL (psycopg 3,
``LSM_JOB_STORE=postgresql://...``) lets workers on several machines share the rows. Every
statement of ``store.JobStore`` is written once, with ``?`` placeholders, for both.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backend import optional
from backend.config import Settings
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


def postgres_schema(schema: str) -> str:
    """A schema written for SQLite in PostgreSQL's types: its REAL is 4 bytes, and a timestamp
    would lose its seconds."""
    return schema.replace(" REAL", " DOUBLE PRECISION")


# PostgreSQL has no rowid: metric points and log lines keep their insertion order in a ``seq`` column instead.
_POSTGRES_SCHEMA = (
    postgres_schema(SCHEMA)
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

    def create_tables(self, schema: str) -> None:
        """Create another store's tables (``CREATE ... IF NOT EXISTS`` statements) in this file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as connection:
            connection.executescript(schema)

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
        """Create the job tables once per process and server (a store is opened for every call)."""
        self._create_once(_POSTGRES_SCHEMA)

    def create_tables(self, schema: str) -> None:
        """Create another store's tables (written for SQLite; see ``postgres_schema``) on this server."""
        self._create_once(postgres_schema(schema))

    def _create_once(self, schema: str) -> None:
        done = f"{self.url}\n{schema}"
        if done in _POSTGRES_READY:
            return
        with self.connect() as connection:
            # CREATE TABLE IF NOT EXISTS is not safe against a second process doing the same at once.
            connection.execute(f"SELECT pg_advisory_xact_lock({self._SCHEMA_LOCK})")
            connection.execute(schema)
        _POSTGRES_READY.add(done)

    @staticmethod
    def json_text(column: str, key: str) -> str:
        return f"({column}::jsonb ->> '{key}')"


def encode_json_columns(record: dict[str, Any], columns: Iterable[str]) -> dict[str, Any]:
    """A record's values as a row to write: its ``columns`` (dicts) as JSON text."""
    encoded = set(columns)
    return {name: json.dumps(value, ensure_ascii=False) if name in encoded else value for name, value in record.items()}


def decode_json_columns(row: Any, columns: Iterable[str]) -> dict[str, Any]:
    """A fetched row as a dict, its ``columns`` read back from JSON text (empty text is ``{}``)."""
    data = dict(row)
    for column in columns:
        data[column] = json.loads(data[column] or "{}")
    return data


def insert_statement(table: str, row: dict[str, Any]) -> str:
    """``INSERT INTO table (its columns) VALUES (?, ...)`` for ``row``, whose values go with it in order."""
    return f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})"


def is_postgres_url(location: str | Path) -> bool:
    """Whether a job store location names a PostgreSQL server rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def database_location(settings: Settings) -> Path | str:
    """Where the workspace database lives: the ``job_store`` server, else the state folder's SQLite file."""
    return settings.job_store or settings.jobs_db


def open_database(location: Path | str) -> SQLiteDatabase | PostgresDatabase:
    """The database at ``location`` (a SQLite file or a ``postgresql://`` URL); nothing is created yet."""
    if is_postgres_url(location):
        return PostgresDatabase(str(location))
    return SQLiteDatabase(Path(location))
