"""The Applications page's links to the live demos in Chromium at a projector's and a phone's size:
every link's words are all shown (wrapped, never cut off) inside the window, in English and in
Chinese. Screenshots land in test-artifacts/screenshots/demo-links-*.png."""

from __future__ import annotations

import pytest

from tests.support.live_app import (  # noqa: F401 - fixtures
    assert_no_exception,
    browser,
    live_app,
    screenshot,
    wait_until_idle,
    warmed_app,
)

pytestmark = pytest.mark.browser

SIZES = {"projector": (1920, 1080), "phone": (390, 844)}
LINKS = ".st-key-applications-demo-links"


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("size", SIZES)
def test_every_demo_link_is_shown_whole_inside_the_window(browser, warmed_app, size, language):  # noqa: F811
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        page.goto(f"{warmed_app.url}/applications?lang={language}")
        wait_until_idle(page)
        page.wait_for_selector(f"{LINKS} a", timeout=60_000)
        assert_no_exception(page, f"applications at {size}")
        page.locator(LINKS).scroll_into_view_if_needed()
        screenshot(page, f"demo-links-{size}-{language}")
        # Every piece of text in the links: its right edge inside the window, and nothing it holds
        # hidden behind an ellipsis or an overflow (its content no wider than its box).
        texts = page.eval_on_selector_all(
            f"{LINKS} a, {LINKS} a *",
            "nodes => nodes.filter(n => n.textContent.trim()).map(n => { const b = n.getBoundingClientRect();"
            " return {text: n.textContent, right: b.right, scroll: n.scrollWidth, client: n.clientWidth}; })",
        )
        assert len(page.query_selector_all(f"{LINKS} a")) >= 2
        cut = [t["text"] for t in texts if t["right"] > width + 0.5 or (t["client"] and t["scroll"] > t["client"] + 1)]
        assert cut == []
    finally:
        context.close()
