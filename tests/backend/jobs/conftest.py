"""Fixtures of the job tests: a job store on each database, a recorder of database writes, and real Redis
and PostgreSQL servers."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager

import pytest

from backend.jobs.store import JobStore
from tests.support import services


def _started(stack: ExitStack, server: Callable[[], AbstractContextManager[str]]) -> str:
    try:
        return stack.enter_context(server())
    except services.ServiceUnavailable as reason:
        pytest.skip(str(reason))


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A real PostgreSQL cluster for the session (skipped, with the reason, where it cannot run)."""
    with ExitStack() as stack:
        yield _started(stack, services.postgres_server)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server for the session (skipped, with the reason, where it cannot run)."""
    with ExitStack() as stack:
        yield _started(stack, services.redis_server)


@pytest.fixture
def postgres_url(postgres_server_url: str) -> str:
    """A ``postgresql://`` job store location with no tables yet (a fresh schema per test)."""
    return services.fresh_schema(postgres_server_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, tmp_path) -> str | object:
    """Where a behaviour test's job store lives: a SQLite file, then a real PostgreSQL server."""
    if request.param == "sqlite":
        return tmp_path / "jobs.sqlite3"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_location) -> JobStore:
    """A job store at ``store_location`` (SQLite, then PostgreSQL)."""
    return JobStore(store_location)


@pytest.fixture
def sqlite_writes(monkeypatch) -> Callable[[], AbstractContextManager[list[tuple[str, str]]]]:
    """``with sqlite_writes() as writes:`` records every row write (INSERT/UPDATE/DELETE on a
    table of ours) made through ``sqlite3`` meanwhile, as ``(action, table)``.
    """
    names = {sqlite3.SQLITE_INSERT: "insert", sqlite3.SQLITE_UPDATE: "update", sqlite3.SQLITE_DELETE: "delete"}
    connect = sqlite3.connect

    @contextmanager
    def record() -> Iterator[list[tuple[str, str]]]:
        writes: list[tuple[str, str]] = []

        def authorizer(action, table, *_):
            if action in names and table and not table.startswith("sqlite_"):
                writes.append((names[action], table))
            return sqlite3.SQLITE_OK

        def recording_connect(*args, **kwargs):
            connection = connect(*args, **kwargs)
            connection.set_authorizer(authorizer)
            return connection

        monkeypatch.setattr(sqlite3, "connect", recording_connect)
        try:
            yield writes
        finally:
            monkeypatch.setattr(sqlite3, "connect", connect)

    return record
