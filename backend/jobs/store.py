"""Job state outside any browser session, shared by the app and the workers: SQLite or PostgreSQL.

A refresh, a second tab or an app restart reads the same rows. Each call opens its own short
connection, so the Streamlit process and worker processes can use the store at once. SQLite (a
file in the state folder, WAL mode) is the embedded default; ``LSM_JOB_STORE=postgresql://...``
puts the rows on a PostgreSQL server, so workers on several machines share them. The two differ
only in a small dialect (``databases``); every statement is written once. Run folders
(``job.json``, uploads, models) stay on the filesystem: a cluster shares them (NFS), and a damaged
SQLite file is rebuilt from them (``run_records``).
The store knows no task: a job's ``kind`` says which handler runs it (``kinds``).
A job that produces a model records it in its artefacts (``model_dir`` and ``model_task``), and
the demos list models from those records (``list_models``).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import time
import uuid
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from backend.config import Settings, get_settings
from backend.errors import InvalidInputError
from backend.i18n import _
from backend.jobs import recovery
from backend.jobs.databases import (
    SCHEMA,
    PostgresDatabase,
    SQLiteDatabase,
    database_location,
    decode_json_columns,
    encode_json_columns,
    insert_statement,
    is_postgres_url,
    migrate,
)
from backend.jobs.run_records import JOB_RECORD, read_run_folders

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
# The parameter that holds the language of whoever started a job: its messages, report and model
# card are written in it, whoever reads them later.
LANGUAGE_PARAM = "language"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
FINISHED = (SUCCEEDED, FAILED, CANCELLED)
_MAX_LOG_CHARS = 2000
# A new job's message until a worker claims it.
_log = logging.getLogger(__name__)

_JSON_COLUMNS = ("params", "dataset", "metrics", "artefacts")


@dataclass
class Job:
    """One job as stored; ``to_dict`` is what the UI returns.

    Attributes:
        kind: which handler runs it, e.g. ``train`` or ``batch``.
        title: what the user calls it (a training title, a batch's file name).
        task: what it does within its kind (``text``/``image`` for training, the demo's task for a batch).
        method: how a training job trains (``full``/``fast``); empty for other kinds.
        base_model: the model reference the job starts from (trains or runs).
        dataset: a summary of its input (sizes, classes, rows).
        artefacts: what it left behind (paths); ``model_dir`` + ``model_task`` record a model.
    """

    id: str
    kind: str
    task: str
    run_dir: str
    owner: str = ""
    title: str = ""
    method: str = ""
    base_model: str = ""
    status: str = QUEUED
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    progress: float = 0.0
    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0
    eta_seconds: float | None = None
    message: str = ""
    error: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    artefacts: dict[str, Any] = field(default_factory=dict)
    worker_pid: int | None = None
    worker_host: str = ""
    heartbeat: float | None = None
    cancel_requested: bool = False

    @property
    def language(self) -> str:
        """The language of the person who started the job (English for jobs from before it was kept)."""
        return str(self.params.get(LANGUAGE_PARAM, "en"))

    @property
    def is_finished(self) -> bool:
        """True once the job can no longer change."""
        return self.status in FINISHED

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def new_job_id() -> str:
    """A sortable, unique id that is also a safe folder name."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


class JobStore:
    """Jobs, their metric history and logs, in a SQLite file or on a PostgreSQL server.

    Args:
        location: a SQLite file, or a ``postgresql://`` URL; by default the settings' ``job_store``,
            else the SQLite file in the state folder.
        settings: where run folders live and how often workers beat.
    """

    def __init__(self, location: Path | str | None = None, settings: Settings | None = None) -> None:
        settings = settings or get_settings()
        location = location or database_location(settings)
        self.runs_dir = settings.runs_dir
        self.stale_after = settings.stale_heartbeat_seconds
        self.location: Path | str
        if is_postgres_url(location):
            self.location = str(location)
            self._dialect: SQLiteDatabase | PostgresDatabase = PostgresDatabase(self.location)
            self._dialect.create_schema()
            return
        self.path = self.location = Path(location)
        self._dialect = SQLiteDatabase(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._open()
        except sqlite3.DatabaseError as error:
            if not recovery.is_damaged(error):
                raise
            recovery.recover(self.path, error, self._open, self._rebuild_from_run_folders)

    def __repr__(self) -> str:
        # Never the URL: it may carry a password.
        return f"JobStore({self._dialect})"

    @property
    def shared(self) -> bool:
        """Whether workers on other machines may use this store (so a pid proves nothing)."""
        return self._dialect.shared

    def _open(self) -> None:
        if self.path.exists() and not os.access(self.path, os.R_OK | os.W_OK):
            raise sqlite3.DatabaseError(f"the job database {self.path.name} cannot be read or written")
        with self.connect() as connection:
            columns = {row["name"] for row in connection.execute("PRAGMA table_info(jobs)")}
            if columns and "kind" not in columns:
                migrate(connection)
            connection.executescript(SCHEMA)

    def _rebuild_from_run_folders(self) -> int:
        """Insert a row for every run folder ``run_records`` can read; returns how many. Jobs
        whose end was not recorded become failed.
        """
        count = 0
        for data in read_run_folders(self.runs_dir, Job.__dataclass_fields__):
            try:
                job = Job(**data)
            except TypeError as bad:
                _log.warning("Could not recover the job in %s: %s", data["id"], bad)
                continue
            if job.status not in FINISHED:
                status_line, error = recovery.recovered_words(job.language)
                job.status, job.message = FAILED, status_line
                job.error = job.error or error
                job.finished = job.finished or time.time()
            job.worker_pid, job.heartbeat, job.eta_seconds = None, None, None
            self._insert(job)
            count += 1
        return count

    def recovery_notice(self) -> str | None:
        """What to tell users when the database was rebuilt, or None (always None on a server)."""
        return None if self.shared else recovery.read_notice(self.path)

    def take_recovery_notice(self) -> str | None:
        """``recovery_notice`` once: the notice is forgotten after this call."""
        notice = self.recovery_notice()
        if not self.shared:
            recovery.forget_notice(self.path)
        return notice

    def _write_record(self, job_id: str) -> None:
        """Keep ``job.json`` in the job's run folder in step with its row (best effort)."""
        job = self.get(job_id)
        if job is None:
            return
        folder = Path(job.run_dir)
        try:
            if folder.is_dir():
                temporary = folder / f".{JOB_RECORD}.tmp"
                temporary.write_text(json.dumps(job.to_dict(), ensure_ascii=False), encoding="utf-8")
                os.replace(temporary, folder / JOB_RECORD)
        except OSError as error:
            _log.warning("Could not write %s for job %s: %s", JOB_RECORD, job_id, error)

    def _insert(self, job: Job, replace: bool = True) -> None:
        """Write ``job`` as a row; a new job (``replace=False``) must not take an existing id."""
        row = encode_json_columns(job.to_dict(), _JSON_COLUMNS)
        row["cancel_requested"] = int(row["cancel_requested"])
        # The same upsert in SQLite (3.24+) and PostgreSQL.
        update = " ON CONFLICT (id) DO UPDATE SET " + ", ".join(
            f"{name} = excluded.{name}" for name in row if name != "id"
        )
        with self.connect() as connection:
            connection.execute(insert_statement("jobs", row) + (update if replace else ""), list(row.values()))

    def connect(self) -> AbstractContextManager[Any]:
        """A short connection whose ``execute(sql, values)`` takes ``?`` placeholders; commits on
        exit. For this package's modules that keep tables of their own in the store (``liveness``)."""
        return self._dialect.connect()

    @staticmethod
    def _to_job(row: Any) -> Job:
        data = decode_json_columns(row, _JSON_COLUMNS)
        data["cancel_requested"] = bool(data["cancel_requested"])
        return Job(**data)

    def create(self, job: Job) -> Job:
        """Insert ``job`` as a new queued job (its id must not be taken); returns it as stored."""
        # Made in the submitter's run: in their language, like the worker's later messages.
        queued = replace(job, status=QUEUED, message=_("Waiting for a worker"))
        self._insert(queued, replace=False)
        self._write_record(queued.id)
        return queued

    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        """The job, or None when it does not exist or belongs to another owner."""
        with self.connect() as connection:
            row = connection.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        job = self._to_job(row)
        return job if owner is None or job.owner == owner else None

    def require(self, job_id: str, owner: str | None = None) -> Job:
        """The job, or an error a user can read."""
        job = self.get(job_id, owner)
        if job is None:
            raise InvalidInputError(_("No job {job_id!r}.").format(job_id=job_id), _("It may have been deleted."))
        return job

    def list_jobs(
        self,
        owner: str | None = None,
        statuses: tuple[str, ...] = (),
        task: str | None = None,
        kinds: tuple[str, ...] = (),
    ) -> list[Job]:
        """Jobs newest first, filtered by owner, statuses, task and kinds when given (in SQL)."""
        clauses, values = [], []
        if owner is not None:
            clauses.append("owner = ?")
            values.append(owner)
        for column, wanted in (("status", statuses), ("kind", kinds)):
            if wanted:
                clauses.append(f"{column} IN ({', '.join('?' for _ in wanted)})")
                values.extend(wanted)
        if task:
            clauses.append("task = ?")
            values.append(task)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.connect() as connection:
            rows = connection.execute(f"SELECT * FROM jobs {where} ORDER BY created DESC", values).fetchall()
        return [self._to_job(row) for row in rows]

    def list_models(self, model_task: str, owner: str | None = None) -> list[Job]:
        """Succeeded jobs that recorded a model for ``model_task``, newest first (filtered in SQL).

        Args:
            model_task: the demo task the model serves (the artefact ``model_task``).
            owner: when given, only this owner's jobs.
        """
        clauses = ["status = ?", f"{self._dialect.json_text('artefacts', 'model_task')} = ?"]
        values: list[Any] = [SUCCEEDED, model_task]
        if owner is not None:
            clauses.append("owner = ?")
            values.append(owner)
        with self.connect() as connection:
            rows = connection.execute(
                f"SELECT * FROM jobs WHERE {' AND '.join(clauses)} ORDER BY finished DESC", values
            ).fetchall()
        return [self._to_job(row) for row in rows]

    def queue_position(self, job_id: str) -> int | None:
        """1 for the next job to run; None when the job is not waiting."""
        ahead = self.line_ahead(job_id)
        return None if ahead is None else sum(ahead.values()) + 1

    def line_ahead(self, job_id: str) -> dict[str, int] | None:
        """How many queued jobs of each kind wait before ``job_id`` (None when it is not waiting):
        a job's owner sees only their own jobs, so the line's other jobs are named by kind."""
        with self.connect() as connection:
            row = connection.execute("SELECT status, created FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None or row["status"] != QUEUED:
                return None
            counts = connection.execute(
                "SELECT kind, COUNT(*) AS ahead FROM jobs WHERE status = ? AND (created < ? OR (created = ? AND id < ?))"
                " GROUP BY kind ORDER BY kind",
                (QUEUED, row["created"], row["created"], job_id),
            ).fetchall()
        return {str(count["kind"]): int(count["ahead"]) for count in counts}

    def claim(self, job_id: str, pid: int | None = None, host: str | None = None) -> bool:
        """Move a queued job to running for this worker; False when it was cancelled meanwhile or
        another worker has it.

        One conditional UPDATE: the database lets exactly one of several workers that got the same
        job id (a duplicate delivery, a job queued twice) move it out of "queued", so a job runs once.
        """
        now = time.time()
        with self.connect() as connection:
            cursor = connection.execute(
                "UPDATE jobs SET status = ?, started = ?, heartbeat = ?, worker_pid = ?, worker_host = ?, "
                "message = 'Starting' WHERE id = ? AND status = ? AND cancel_requested = 0",
                (RUNNING, now, now, pid or os.getpid(), host or socket.gethostname(), job_id, QUEUED),
            )
        return cursor.rowcount == 1

    def update_progress(
        self,
        job_id: str,
        step: int,
        total_steps: int,
        epoch: float,
        eta_seconds: float | None,
        message: str = "",
    ) -> None:
        """Record where the job is; progress is step / total."""
        progress = min(1.0, step / total_steps) if total_steps else 0.0
        with self.connect() as connection:
            connection.execute(
                "UPDATE jobs SET step = ?, total_steps = ?, epoch = ?, eta_seconds = ?, progress = ?, "
                "heartbeat = ?, message = CASE WHEN ? = '' THEN message ELSE ? END WHERE id = ?",
                (step, total_steps, epoch, eta_seconds, progress, time.time(), message, message, job_id),
            )

    def beat(self, job_id: str) -> None:
        """The worker is alive and on this job."""
        with self.connect() as connection:
            connection.execute(
                "UPDATE jobs SET heartbeat = ? WHERE id = ? AND status = ?", (time.time(), job_id, RUNNING)
            )

    def add_metric(self, job_id: str, step: int, epoch: float, name: str, value: float) -> None:
        """Append one point to a curve (loss, eval accuracy, ...)."""
        with self.connect() as connection:
            connection.execute(
                "INSERT INTO job_metrics (job_id, step, epoch, name, value, time) VALUES (?, ?, ?, ?, ?, ?)",
                (job_id, int(step), float(epoch), name, float(value), time.time()),
            )

    def metric_history(self, job_id: str) -> list[dict[str, Any]]:
        """Every recorded point, in order: ``{"step", "epoch", "name", "value"}``."""
        with self.connect() as connection:
            rows = connection.execute(
                f"SELECT step, epoch, name, value FROM job_metrics WHERE job_id = ? ORDER BY step, {self._dialect.order}",
                (job_id,),
            ).fetchall()
        return [dict(row) for row in rows]

    def log(self, job_id: str, text: str, level: str = "info") -> None:
        """Append a line to the job's log."""
        with self.connect() as connection:
            connection.execute(
                "INSERT INTO job_logs (job_id, time, level, text) VALUES (?, ?, ?, ?)",
                (job_id, time.time(), level, text[:_MAX_LOG_CHARS]),
            )

    def logs(self, job_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """The last ``limit`` log lines, oldest first."""
        with self.connect() as connection:
            rows = connection.execute(
                f"SELECT time, level, text FROM job_logs WHERE job_id = ? ORDER BY {self._dialect.order} DESC LIMIT ?",
                (job_id, limit),
            ).fetchall()
        return [dict(row) for row in reversed(rows)]

    def finish(
        self,
        job_id: str,
        status: str,
        error: str = "",
        metrics: dict[str, Any] | None = None,
        artefacts: dict[str, Any] | None = None,
        message: str = "",
        silent_since: float | None = None,
    ) -> bool:
        """Record the end of a job; a finished job is never overwritten (first ending wins).

        Args:
            silent_since: only when the job is running and has not beaten since then (a reaper's
                condition, checked in the same statement, so a worker that just beat keeps its job).

        Returns:
            True when this call ended the job.
        """
        if status not in FINISHED:
            raise ValueError(f"{status} is not a final status")
        progress_sql = ", progress = 1.0, eta_seconds = 0" if status == SUCCEEDED else ", eta_seconds = NULL"
        condition, extra = "", ()
        if silent_since is not None:
            condition = " AND status = ? AND (heartbeat IS NULL OR heartbeat < ?)"
            extra = (RUNNING, silent_since)
        with self.connect() as connection:
            cursor = connection.execute(
                f"UPDATE jobs SET status = ?, finished = ?, error = ?, message = ?, "
                f"metrics = ?, artefacts = ?{progress_sql} WHERE id = ? AND status NOT IN (?, ?, ?){condition}",
                (
                    status,
                    time.time(),
                    error,
                    message or status.capitalize(),
                    json.dumps(metrics or {}, ensure_ascii=False),
                    json.dumps(artefacts or {}, ensure_ascii=False),
                    job_id,
                    *FINISHED,
                    *extra,
                ),
            )
            ended = cursor.rowcount == 1
        if ended:
            self._write_record(job_id)
        return ended

    def request_cancel(self, job_id: str) -> Job:
        """Cancel a queued job at once; ask a running one to stop at its next step."""
        with self.connect() as connection:
            connection.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
            connection.execute(
                "UPDATE jobs SET status = ?, finished = ?, message = 'Cancelled before it started' "
                "WHERE id = ? AND status = ?",
                (CANCELLED, time.time(), job_id, QUEUED),
            )
            connection.execute("UPDATE jobs SET message = 'Stopping…' WHERE id = ? AND status = ?", (job_id, RUNNING))
        return self.require(job_id)

    def cancel_requested(self, job_id: str) -> bool:
        """Whether someone asked this job to stop."""
        with self.connect() as connection:
            row = connection.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row["cancel_requested"])

    def delete(self, job_id: str) -> None:
        """Forget a job's rows (the caller removes its folder)."""
        with self.connect() as connection:
            for table, column in (("job_metrics", "job_id"), ("job_logs", "job_id"), ("jobs", "id")):
                connection.execute(f"DELETE FROM {table} WHERE {column} = ?", (job_id,))
