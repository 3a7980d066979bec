"""User-chosen names reach the page as literal text: no links, images, HTML or styling from them."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from backend import config
from backend.config import PROJECT_ROOT
from backend.jobs import supervisor
from backend.text_safety import plain_markdown

APP = str(PROJECT_ROOT / "app.py")
PAGE = "pages/finetune/new_job.py"
FILE_PAYLOAD = "![x](http://evil.example/a.png)<img src=x onerror=alert(1)>"
COLUMN_PAYLOADS = ["[click](http://evil.example)", "<script>alert(1)</script>", ":red[big] :material/home:"]


@pytest.fixture
def new_job_page(tmp_path, monkeypatch, settings):
    monkeypatch.delenv("LSM_ACCESS_PASSWORD_HASH", raising=False)
    monkeypatch.setenv("LSM_STATE_DIR", str(tmp_path / "state"))
    config.get_settings.cache_clear()
    monkeypatch.setattr(supervisor, "ensure_worker_running", lambda *a, **k: True)
    app = AppTest.from_file(APP, default_timeout=90)
    app.run()
    app.switch_page(PAGE)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    yield app
    monkeypatch.undo()
    config.get_settings.cache_clear()


def _assert_no_live_markup(source: str) -> None:
    unescaped = re.sub(r"\\.", "", source)
    for needle in ("[", "](", "<", ">", "`", "*"):
        assert needle not in unescaped, (needle, source)
    assert not re.search(r":(red|material)", source), source


def test_payload_file_and_column_names_are_escaped_in_the_error_box(new_job_page):
    # Two columns with the same payload name: the refusal quotes both the file and the column.
    column = COLUMN_PAYLOADS[0]
    data = f'"{column}"," {column}"\na,b\n'.encode()
    new_job_page.file_uploader(key="finetune.table").set_value((f"{FILE_PAYLOAD}.csv", data, "text/csv")).run()
    assert not new_job_page.exception
    warnings = [w.value for w in new_job_page.warning]
    expected = f"{FILE_PAYLOAD}.csv repeats column names: {column}."
    assert plain_markdown(expected) in warnings
    for source in warnings:
        _assert_no_live_markup(source)


def test_payload_column_names_are_shown_literally_in_tables_and_pickers(new_job_page):
    rows = "\n".join(f"text {i},label {i % 2},x" for i in range(12))
    header = ",".join(f'"{name}"' for name in COLUMN_PAYLOADS)
    new_job_page.file_uploader(key="finetune.table").set_value(
        ("table.csv", f"{header}\n{rows}\n".encode(), "text/csv")
    ).run()
    assert not new_job_page.exception
    assert list(new_job_page.dataframe[0].value.columns) == COLUMN_PAYLOADS
    assert new_job_page.selectbox(key="finetune.text_column").options == COLUMN_PAYLOADS
