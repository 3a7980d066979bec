"""The upload component: size refused before parsing, a content parsed once, refusals shown as messages."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from backend import uploads
from pages.components import upload

TABLE = b"text,label\nhello there,a\ngood bye,b\n"


def _page() -> None:
    import streamlit as st

    from pages.components.upload import show_table_upload

    for key in ("first", "second"):
        table = show_table_upload(f"upload.{key}", "A table", empty_message="Upload a table first.")
        if table is not None:
            st.text(f"{key}: {table.name} {len(table.frame)} rows {list(table.frame.columns)}")


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """Every call of the backend table parser, by file name; the component's cache starts empty."""
    calls: list[str] = []
    real = uploads.read_table

    def counting(name: str, data: bytes):
        calls.append(name)
        return real(name, data)

    monkeypatch.setattr(uploads, "read_table", counting)
    upload._read_table.clear()
    yield calls
    upload._read_table.clear()


def _texts(app: AppTest) -> list[str]:
    return [element.value for element in app.get("text")]


def test_nothing_uploaded_shows_the_empty_message(parses):
    app = AppTest.from_function(_page).run()
    assert not app.exception
    assert [info.value for info in app.info] == ["Upload a table first."] * 2
    assert parses == []


def test_same_bytes_are_parsed_once_across_reruns_and_uploaders(parses):
    app = AppTest.from_function(_page).run()
    app.file_uploader(key="upload.first").set_value(("mine.csv", TABLE, "text/csv")).run()
    app.run()
    app.file_uploader(key="upload.second").set_value(("mine.csv", TABLE, "text/csv")).run()
    assert not app.exception
    assert _texts(app) == ["first: mine.csv 2 rows ['text', 'label']", "second: mine.csv 2 rows ['text', 'label']"]
    assert parses == ["mine.csv"]


def test_other_bytes_are_parsed_again(parses):
    app = AppTest.from_function(_page).run()
    app.file_uploader(key="upload.first").set_value(("mine.csv", TABLE, "text/csv")).run()
    app.file_uploader(key="upload.first").set_value(("mine.csv", TABLE + b"third,c\n", "text/csv")).run()
    assert _texts(app) == ["first: mine.csv 3 rows ['text', 'label']"]
    assert parses == ["mine.csv", "mine.csv"]


def test_oversized_declared_size_is_refused_with_a_message_before_parsing(parses, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_TABLE_BYTES", len(TABLE) - 1)
    app = AppTest.from_function(_page).run()
    app.file_uploader(key="upload.first").set_value(("big.csv", TABLE, "text/csv")).run()
    assert not app.exception
    assert any("big.csv is 0.0 MB; the limit is 0 MB" in warning.value for warning in app.warning)
    assert parses == []
    assert _texts(app) == []


def test_a_broken_table_gets_its_message_not_a_traceback(parses):
    app = AppTest.from_function(_page).run()
    app.file_uploader(key="upload.first").set_value(("bad.csv", b"text,label\na,b,c,d\n", "text/csv")).run()
    assert not app.exception
    assert any("line 2 has 4 fields but the header has 2" in warning.value for warning in app.warning)
    assert _texts(app) == []


def test_the_uploader_accepts_exactly_the_backend_table_suffixes():
    app = AppTest.from_function(_page).run()
    assert tuple(app.file_uploader(key="upload.first").proto.type) == uploads.TABLE_SUFFIXES
