"""Chromium against the running app: a table offers no download of its own, so every CSV a user
takes away went through the app's formula escaping (backend/uploads.py, to_safe_csv)."""

from __future__ import annotations

import pytest

from tests.support.live_app import (  # noqa: F401 - fixtures
    assert_no_exception,
    browser,
    live_app,
    wait_until_idle,
    warmed_app,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_tables_toolbar_has_search_but_no_unescaped_csv_download(browser, warmed_app, live_app):  # noqa: F811
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    try:
        page.goto(f"{live_app.url}/models")
        wait_until_idle(page)
        assert_no_exception(page, "models")
        page.locator('[data-testid="stDataFrame"]').first.hover()
        toolbar = page.locator('[data-testid="stElementToolbar"]').first
        toolbar.locator("button").first.wait_for()
        labels = toolbar.locator("button").evaluate_all("bs => bs.map(b => b.ariaLabel)")
        assert "Search" in labels, labels  # the toolbar is there, and read
        assert not [label for label in labels if "download" in (label or "").lower()], labels
    finally:
        context.close()
