"""Chromium against the running app: hostile text, file names, column names and files on Compare,
the blind arena and preference tuning are shown as text or refused with a message, and the page
keeps what the user typed.

Screenshots land in test-artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_markup_in_browser import _HOST, _HTML, _IMAGE, _LINK, _SCRIPT, _assert_nothing_became_markup
from tests.support.live_app import (  # noqa: F401 - fixtures
    assert_no_exception,
    browser,
    live_app,
    screenshot,
    upload_files,
    wait_until_idle,
    warmed_app,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# A direction override, a zero-width space and a formula, after the Markdown and HTML payloads.
_TYPED = f'{_IMAGE} {_HTML}\n# not a heading\n\u202eevil\u202c zero\u200bwidth =HYPERLINK("http://{_HOST}")'


@pytest.fixture
def page(browser, warmed_app):  # noqa: F811 - fixtures imported above
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.requests = requests
    yield page
    context.close()


def test_compare_shows_payloads_as_text_and_refuses_one_column_picked_twice(page, live_app, tmp_path):  # noqa: F811
    page.goto(f"{live_app.url}/compare")
    wait_until_idle(page)
    page.get_by_role("textbox", name="Text").fill(_TYPED)
    page.get_by_role("button", name="Run every model").click()
    wait_until_idle(page)
    assert_no_exception(page, "compare run")
    one_column = tmp_path / f"{_LINK.replace('/', '')} {_HTML.replace('/', '')}.csv"
    one_column.write_text(f'"{_SCRIPT}"\nfine\nawful\n', encoding="utf-8")
    upload_files(page, "Labelled table (a text and a label per row)", one_column)
    wait_until_idle(page)
    assert_no_exception(page, "compare one-column table")
    page.get_by_text(f"Text column and Label column are both {_SCRIPT}.").wait_for()
    assert page.get_by_role("textbox", name="Text").input_value() == _TYPED  # nothing the user typed is lost
    _assert_nothing_became_markup(page, page.requests, "compare")
    screenshot(page, "hostile-compare")


def test_a_blind_pair_shows_the_typed_input_and_replies_as_text(page, live_app):  # noqa: F811
    page.goto(f"{live_app.url}/arena")
    wait_until_idle(page)
    page.get_by_role("textbox", name="Question").fill(_TYPED)
    page.get_by_role("button", name="Ask two hidden models").click()
    # The run the click starts can begin after an idle check on a busy machine: wait for its output.
    page.get_by_text("not a heading").first.wait_for(timeout=120_000)
    wait_until_idle(page)
    assert_no_exception(page, "arena")
    body = page.inner_text("body")
    assert "not a heading" in body and page.locator("h1", has_text="not a heading").count() == 0
    _assert_nothing_became_markup(page, page.requests, "arena")
    screenshot(page, "hostile-arena")


def test_preference_pairs_with_payloads_are_checked_and_a_non_object_line_is_refused(page, live_app, tmp_path):  # noqa: F811
    page.goto(f"{live_app.url}/new_job")
    wait_until_idle(page)
    page.get_by_text("Chat model by preference").click()
    wait_until_idle(page)
    page.get_by_role("textbox", name="Model title").fill(_HTML)
    broken = tmp_path / "pairs.jsonl"
    broken.write_text('{"prompt": "a", "chosen": "b", "rejected": "c"}\n[1, 2]\n', encoding="utf-8")
    upload_files(page, "Preference pairs", broken)
    wait_until_idle(page)
    assert_no_exception(page, "preference, a list line")
    page.get_by_text("pairs.jsonl: line 2 is [1, 2], not a JSON object.").wait_for()

    rows = [{"prompt": f"{_SCRIPT} {i}", "chosen": f"{_IMAGE} {i}", "rejected": f"{_LINK} {i}"} for i in range(12)]
    pairs = tmp_path / f"{_HTML.replace('/', '')}.jsonl"
    pairs.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    upload_files(page, "Preference pairs", pairs)
    wait_until_idle(page)
    page.get_by_role("button", name="Check data").click()
    wait_until_idle(page)
    page.get_by_text("Data looks usable").wait_for(timeout=120_000)
    assert_no_exception(page, "preference pairs")
    assert page.get_by_role("textbox", name="Model title").input_value() == _HTML
    _assert_nothing_became_markup(page, page.requests, "preference tuning")
    screenshot(page, "hostile-preference")
