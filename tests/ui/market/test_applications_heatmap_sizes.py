"""The Applications page's industry x task heatmap in Chromium at a projector's and a phone's size:
no axis label overlaps another (industries' labels lie flat or stand upright, so their boxes are
their glyphs'), each count fits inside its column, and every industry and
task of the catalogue has its label. In English and in Chinese; screenshots land in test-artifacts/screenshots/heatmap-*.png."""

from __future__ import annotations

import pytest

from backend.use_cases import matrix, vocabulary
from backend.use_cases.catalogue import load_catalogue
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
HEATMAP = ".st-key-applications-heatmap"


def _boxes(page, selector: str) -> list[dict[str, float]]:
    return page.eval_on_selector_all(
        selector,
        "nodes => nodes.map(n => { const b = n.getBoundingClientRect();"
        " return {text: n.textContent, x: b.x, y: b.y, w: b.width, h: b.height}; })",
    )


def _overlapping(boxes: list[dict[str, float]]) -> list[tuple[str, str]]:
    # Half a pixel of antialiasing is not an overlap.
    slack = 0.5
    found = []
    for index, first in enumerate(boxes):
        for second in boxes[index + 1 :]:
            apart = (
                first["x"] + first["w"] <= second["x"] + slack
                or second["x"] + second["w"] <= first["x"] + slack
                or first["y"] + first["h"] <= second["y"] + slack
                or second["y"] + second["h"] <= first["y"] + slack
            )
            if not apart:
                found.append((first["text"], second["text"]))
    return found


def _used_labels(language: str) -> tuple[set[str], set[str]]:
    """The labels of the industries and tasks the page's heatmap draws (every use case, every task)."""
    drawn = matrix.build_task_matrix(load_catalogue().use_cases)
    industries = {vocabulary.find_term(vocabulary.INDUSTRIES, key).label(language) for key in drawn.industries}
    return industries, {vocabulary.find_term(vocabulary.AI_TASKS, key).label(language) for key in drawn.tasks}


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("size", SIZES)
def test_heatmap_labels_do_not_overlap_and_columns_fit_their_counts(browser, warmed_app, size, language):  # noqa: F811
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        page.goto(f"{warmed_app.url}/applications?lang={language}")
        wait_until_idle(page)
        page.wait_for_selector(f"{HEATMAP} .xtick text", timeout=60_000)
        assert_no_exception(page, f"applications at {size}")
        page.locator(HEATMAP).scroll_into_view_if_needed()
        screenshot(page, f"heatmap-{size}-{language}")
        industry_ticks = _boxes(page, f"{HEATMAP} .xtick text")
        task_ticks = _boxes(page, f"{HEATMAP} .ytick text")
        industries, tasks = _used_labels(language)
        assert {tick["text"] for tick in industry_ticks} == industries
        assert {tick["text"] for tick in task_ticks} == tasks
        assert _overlapping(industry_ticks) == []
        assert _overlapping(task_ticks) == []
        # Industries' labels and tasks' labels stay apart too (the corner where the axes meet).
        assert _overlapping(industry_ticks + task_ticks) == []
        # Each count fits inside its cell: columns are at least as far apart as the widest count is wide.
        centres = sorted({round(tick["x"] + tick["w"] / 2, 1) for tick in industry_ticks})
        narrowest = min(b - a for a, b in zip(centres, centres[1:], strict=False))
        widest_count = max(box["w"] for box in _boxes(page, f"{HEATMAP} .heatmap-label text"))
        assert narrowest >= widest_count + 2, f"columns {narrowest:.1f} px apart, counts {widest_count:.1f} px wide"
        # The figure stays inside the page: nothing to scroll sideways to.
        figure = page.locator(HEATMAP).bounding_box()
        assert figure is not None and figure["x"] >= 0 and figure["x"] + figure["width"] <= width + 0.5
    finally:
        context.close()
