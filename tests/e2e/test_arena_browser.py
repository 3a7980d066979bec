"""Chromium against the running app: Compare runs two models side by side, and a blind vote names
its models only after the vote and survives a reload, at desktop and phone sizes.

Screenshots land in test-artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import pytest

from backend.models.resolve import catalogue
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

_TIMEOUT_MS = 120_000
SIZES = {"desktop": (1920, 1080), "phone": (390, 844)}
# Every way a chat model could be named: the hub ids and titles of the catalogue's chat models
# (the live app serves each from a downloaded folder), and their families.
_CHAT_NAMES = [
    name
    for spec in catalogue.models_for(catalogue.TEXT_GENERATION)
    for name in (spec.hub_id, spec.title, spec.hub_id.split("/")[0])
] + ["Qwen", "SmolLM"]


@pytest.fixture(params=list(SIZES))
def page(request, browser, warmed_app):  # noqa: F811 - fixtures imported above
    width, height = SIZES[request.param]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    tab = context.new_page()
    tab.set_default_timeout(_TIMEOUT_MS)
    tab.size_name = request.param
    yield tab
    context.close()


def _visible_text(page) -> str:
    """What a person sees of the page now: the open tab's panel, the rest of the main area outside
    the tabs, and the sidebar (hidden tabs' panels are left out: the leaderboard names past models)."""
    main = page.locator('[data-testid="stMain"]')
    panel = main.get_by_role("tabpanel").filter(visible=True)
    texts = [panel.first.inner_text() if panel.count() else ""]
    texts.append(main.locator("h1").first.inner_text())
    sidebar = page.locator('[data-testid="stSidebar"]')
    if sidebar.is_visible():
        texts.append(sidebar.inner_text())
    return " | ".join(texts)


def test_compare_shows_two_sentiment_models_side_by_side_with_costs_and_scores(page, live_app, tmp_path):  # noqa: F811
    page.goto(f"{live_app.url}/compare")
    wait_until_idle(page)
    text = page.get_by_role("textbox", name="Text")
    text.fill("The battery lasts two days and the camera is superb.")
    text.press("Control+Enter")
    wait_until_idle(page)
    page.get_by_role("button", name="Run every model").click()
    page.get_by_text("texts/s").nth(1).wait_for()
    wait_until_idle(page)
    assert_no_exception(page, "compare")
    body = page.inner_text("body")
    assert body.count("texts/s") == 2 and body.count(" MB") >= 2
    screenshot(page, f"compare-{page.size_name}")

    rows = "text,label\n" + "".join(
        f"{text},{label}\n" for text, label in [("great phone", "positive"), ("awful service", "negative")] * 10
    )
    table = tmp_path / "labelled.csv"
    table.write_text(rows, encoding="utf-8")
    upload_files(page, "Labelled table (a text and a label per row)", table)
    page.get_by_text("20 labelled rows").wait_for()
    page.get_by_role("button", name="Score every model").click()
    page.get_by_text("McNemar's exact test").wait_for()
    wait_until_idle(page)
    assert_no_exception(page, "compare scores")
    assert "intervals from 1,000 bootstrap resamples" in page.inner_text("body")
    screenshot(page, f"compare-scores-{page.size_name}")


def test_a_blind_vote_hides_the_models_until_the_vote_and_keeps_it_across_a_reload(page, live_app):  # noqa: F811
    page.goto(f"{live_app.url}/arena")
    wait_until_idle(page)
    question = page.get_by_role("textbox", name="Question")
    question.fill("Say hello in one sentence.")
    question.press("Control+Enter")  # a text area sends its value on this (or on leaving it)
    wait_until_idle(page)
    page.get_by_role("button", name="Ask two hidden models").click()
    try:
        page.get_by_role("button", name="A is better").wait_for()
    except Exception:
        screenshot(page, f"arena-no-vote-{page.size_name}")  # what the page showed instead
        raise
    wait_until_idle(page)
    assert_no_exception(page, "arena before the vote")
    assert "pair=" in page.url
    before = _visible_text(page)
    assert "Model A" in before and "Model B" in before
    assert [name for name in _CHAT_NAMES if name in before] == []
    screenshot(page, f"arena-pair-{page.size_name}")

    page.reload()  # the pair is in the address: the same replies and buttons come back
    wait_until_idle(page)
    page.get_by_role("button", name="A is better").wait_for()
    assert [name for name in _CHAT_NAMES if name in _visible_text(page)] == []

    page.get_by_role("button", name="A is better").click()
    page.get_by_text("Model A was").wait_for()
    wait_until_idle(page)
    assert_no_exception(page, "arena after the vote")
    revealed = _visible_text(page)
    assert any(name in revealed for name in _CHAT_NAMES)
    screenshot(page, f"arena-revealed-{page.size_name}")
    page.get_by_role("tab", name="Leaderboard").click()
    page.get_by_text("Bradley-Terry scores").wait_for()
    screenshot(page, f"arena-leaderboard-{page.size_name}")
