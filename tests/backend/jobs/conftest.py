"""Fixtures of the job tests: a job store on each database and a recorder of database writes (the
servers are in tests/backend/conftest.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from backend.jobs.store import JobStore


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
