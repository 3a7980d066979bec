"""Every page in Chinese, in Chromium at a laptop's and a phone's size: no English left in what a
person reads, apart from model names, proper nouns and code. Screenshots land in
test-artifacts/screenshots/zh-*.png, and the English found on each page in
test-artifacts/english-left-in-chinese.json, for a person to look at."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pages.components.navigation import PAGES, PageEntry
from tests.support.chinese_text import english_left, visible_text
from tests.support.live_app import (  # noqa: F401 - fixtures
    IDLE,
    PROJECT_ROOT,
    assert_no_exception,
    browser,
    reused_tab,
    screenshot,
    start_app,
    wait_until_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORTS = {"laptop": (1440, 900), "phone": (390, 844)}
REPORT = PROJECT_ROOT / "test-artifacts" / "english-left-in-chinese.json"


def url_path(entry: PageEntry) -> str:
    if entry.path == "pages/overview/home.py":
        return ""
    return entry.url_path or Path(entry.path).stem


def test_the_check_finds_english_and_keeps_names_and_code():
    text = "情感分析 · Qwen/Qwen2.5-0.5B-Instruct · 使用 GPU · Upload a table · `python -m backend.models`"
    assert english_left(text) == ["Upload", "table"]


@pytest.fixture(scope="module")
def report():
    found: dict[str, list[str]] = {}
    yield found
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(found, ensure_ascii=False, indent=2), encoding="utf-8")


def _entries() -> list:
    return [pytest.param(entry, id=entry.path) for entry in PAGES]


@pytest.fixture(scope="module")
def fresh_app(browser, tmp_path_factory):  # noqa: F811
    """An app of its own, as a new user first sees it: the session's shared app carries the jobs,
    models and model servers other tests left, whose own names and data are not the pages' text."""
    app = start_app(tmp_path_factory.mktemp("chinese-app"))
    try:
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(app.url)
        tab.wait_for_selector(IDLE, timeout=90_000)
        context.close()
        yield app
    finally:
        app.stop()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("entry", _entries())
def test_every_page_in_chinese_leaves_no_english(browser, fresh_app, report, entry, viewport):  # noqa: F811
    width, height = VIEWPORTS[viewport]
    with reused_tab(browser, viewport={"width": width, "height": height}, locale="zh-CN") as page:
        page.set_default_timeout(90_000)
        page.goto(f"{fresh_app.url}/{url_path(entry)}?lang=zh")
        wait_until_idle(page)
        assert_no_exception(page, entry.path)
        screenshot(page, f"zh-{url_path(entry) or 'home'}-{viewport}")
        left = english_left(visible_text(page))
        report[f"{entry.path} ({viewport})"] = left
        assert left == [], f"{entry.path}: English left in the Chinese page: {left}"
