"""A demo's answer fits the first screen of a projector (1920x1080), in English and in Chinese.

A presenter clicks an example and the audience must see the answer and its footer (device,
latency) without anyone scrolling. Translation is left out: a tiny model's random weights write
a long string of nonsense, not a translation of a length a real model would write.
"""

from __future__ import annotations

import re

import pytest

from backend.i18n import translated
from tests.support.live_app import (  # noqa: F401 - fixtures
    assert_no_exception,
    browser,
    live_app,
    screenshot,
    wait_until_idle,
    warmed_app,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROJECTOR = {"width": 1920, "height": 1080}
_TIMEOUT_MS = 90_000
# The run footer: "... · 123 ms · 1 text" (毫秒 in Chinese).
_FOOTER = re.compile(r"\d[\d,]* (ms|毫秒)")
# Per demo: the example button a presenter clicks first (English, as marked in the code).
EXAMPLES = {
    "sentiment": "😀 Delighted customer",
    "image_classification": "Cat",
    "text_generation": "Explain fine-tuning",
}


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("demo", list(EXAMPLES))
def test_an_examples_answer_and_footer_fit_the_first_screen(browser, warmed_app, demo, language):  # noqa: F811
    context = browser.new_context(viewport=PROJECTOR, locale="zh-CN" if language == "zh" else "en-US")
    page = context.new_page()
    page.set_default_timeout(_TIMEOUT_MS)
    try:
        page.goto(f"{warmed_app.url}/{demo}?lang={language}")
        wait_until_idle(page)
        page.get_by_role("button", name=translated(EXAMPLES[demo], language)).first.click()
        footer = page.get_by_text(_FOOTER).filter(visible=True).first
        footer.wait_for()
        wait_until_idle(page)
        assert_no_exception(page, demo)
        screenshot(page, f"fit-{demo}-{language}-1920")
        # Nobody scrolled: the page is at its top, and the footer's bottom is on the screen.
        assert page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTop") == 0
        box = footer.bounding_box()
        assert box is not None and box["y"] + box["height"] <= PROJECTOR["height"], (demo, language, box)
    finally:
        context.close()
