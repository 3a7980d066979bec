"""Chromium against the live app: a job's status line and the jobs table never disagree.

The jobs table is drawn with the page, the status line by a fragment that polls the job every few
seconds; the table once said "queued" while the line said "Running". Now the page redraws as soon as
the job moves on, so whenever the page is idle both say the same.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.live_app import (  # noqa: F401 - fixtures
    assert_no_exception,
    browser,
    live_app,
    queue_text_training,
    wait_until_idle,
    warmed_app,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_STATUS_WORDS = ("Queued", "Running", "Succeeded", "Failed", "Cancelled")
_STATUS_LINE = re.compile(rf"^({'|'.join(_STATUS_WORDS)})$")


@pytest.fixture
def page(browser, warmed_app):  # noqa: F811 - fixtures imported above
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    yield tab
    context.close()


def _status_line(page) -> str:
    # The status line's word is the bold part of "**Running** · Training".
    return page.locator('[data-testid="stMarkdown"] strong').filter(has_text=_STATUS_LINE).first.inner_text()


def test_the_status_line_and_the_jobs_table_agree_until_the_job_ends(page, live_app, tmp_path):  # noqa: F811
    queue_text_training(page, live_app.url, tmp_path, "Status check")

    page.goto(f"{live_app.url}/jobs")
    seen = []
    while not seen or seen[-1] not in ("Succeeded", "Failed", "Cancelled"):
        wait_until_idle(page)
        word = _status_line(page)
        if not seen or seen[-1] != word:
            seen.append(word)
        # The table's cell says the same word, lower case (its grid keeps its cells in the page, hidden).
        table = page.locator('[data-testid="stDataFrame"]').get_by_text(word.lower(), exact=True)
        expect(table.first).to_be_attached(timeout=10_000)
        page.wait_for_timeout(1_000)
    assert_no_exception(page, "jobs")
    assert seen[-1] == "Succeeded", seen
