"""The market pages at projector (1920x1080) and phone (390x844) size, in English and Chinese
(``?lang=zh``), in Chromium.

Screenshots go to test-artifacts/market/ for a person to look at. The checks read the drawn SVG:
no two labels of a chart overlap, no label is cut off at the chart's edge, no legend is taller
than its plot (at both sizes: a phone stacks a legend one entry per row), and at projector size
each question the page answers fits one screen. Every tab is opened, and the adoption chart is
drawn for each "What is counted" choice. "Your market data" is checked the same way with an
uploaded table of nine segments over four years, and the Applications page's charts in Chinese
(English is tests/e2e/test_applications_browser.py). The PNG that the chart's camera button
exports is downloaded and checked for its legend and source caption.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest
from PIL import Image

from tests.support.live_app import (  # noqa: F401 - fixtures
    assert_no_exception,
    browser,
    live_app,
    wait_until_charts_settle,
    wait_until_idle,
    warmed_app,
)
from tests.support.paths import PROJECT_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "market"
PROJECTOR = {"width": 1920, "height": 1080}
PHONE = {"width": 390, "height": 844}
QUESTIONS = [
    "Which industries adopt AI most",
    "How fast adoption grows",
    "Where the money goes",
    "How countries compare",
    "Briefing for a review deck",
]

# Every visible label of every drawn chart, with its box, its kind and the chart's own box.
_TEXT_BOXES = """
() => [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.offsetParent !== null).map((plot, n) => {
  const svg = plot.querySelector('svg.main-svg').getBoundingClientRect();
  const kinds = {'ytick': 'g.ytick text', 'xtick': 'g.xtick text', 'legend': '.legendtext',
                 'annotation': '.annotation-text', 'title': '.gtitle, .gtitle-subtitle', 'bar': 'text.bartext'};
  const texts = [];
  for (const [kind, selector] of Object.entries(kinds)) {
    for (const el of plot.querySelectorAll(selector)) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0 && el.textContent.trim())
        texts.push({kind, text: el.textContent.trim().slice(0, 60), l: r.left, r: r.right, t: r.top, b: r.bottom});
    }
  }
  const legend = plot.querySelector('g.legend');
  const legendBox = legend ? legend.getBoundingClientRect() : null;
  const plots = [...plot.querySelectorAll('.nsewdrag')].map(d => d.getBoundingClientRect());
  const plotHeight = plots.reduce((sum, r) => sum + r.height, 0);
  return {n, svg: {l: svg.left, r: svg.right, t: svg.top, b: svg.bottom},
          texts, legendHeight: legendBox ? legendBox.height : 0, plotHeight};
})
"""


def _overlap(a: dict, b: dict, slack: float = 1.5) -> bool:
    return min(a["r"], b["r"]) - max(a["l"], b["l"]) > slack and min(a["b"], b["b"]) - max(a["t"], b["t"]) > slack


def _layout_problems(page) -> list[str]:
    problems = []
    for chart in page.evaluate(_TEXT_BOXES):
        texts, svg = chart["texts"], chart["svg"]
        for text in texts:
            if text["l"] < svg["l"] - 1 or text["r"] > svg["r"] + 1:
                problems.append(f"chart {chart['n']}: '{text['text']}' ({text['kind']}) is cut off at the edge")
            if text["t"] < svg["t"] - 1 or text["b"] > svg["b"] + 1:
                problems.append(
                    f"chart {chart['n']}: '{text['text']}' ({text['kind']}) is cut off at the top or bottom"
                )
        for i, a in enumerate(texts):
            for b in texts[i + 1 :]:
                if _overlap(a, b):
                    problems.append(
                        f"chart {chart['n']}: '{a['text']}' ({a['kind']}) overlaps '{b['text']}' ({b['kind']})"
                    )
        if chart["plotHeight"] and chart["legendHeight"] > chart["plotHeight"]:
            problems.append(
                f"chart {chart['n']}: legend {chart['legendHeight']:.0f}px > plot {chart['plotHeight']:.0f}px"
            )
    return problems


LANGUAGES = ["en", "zh"]


def _address(language: str) -> str:
    return "?lang=zh" if language == "zh" else ""


def _open(browser, live_app, viewport: dict, language: str = "en"):  # noqa: F811
    context = browser.new_context(viewport=viewport, locale="en-US", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.goto(f"{live_app.url}/adoption{_address(language)}")
    wait_until_idle(page)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4")
    wait_until_charts_settle(page)
    return context, page


def _full_page_screenshot(page, viewport: dict, path) -> int:
    """Streamlit scrolls an inner container, so a "full page" shot is one screen: grow the window
    to the content's height for the shot, then put it back. Returns that height."""
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], section.main, body')]"
        ".map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": viewport["width"], "height": min(int(height), 16_000)})
    wait_until_charts_settle(page)
    page.screenshot(path=str(path))
    page.set_viewport_size(viewport)
    wait_until_charts_settle(page)
    return int(height)


def _header_tops(page) -> list[tuple[str, float]]:
    """Each question's heading, in page order, and where it starts."""
    return page.evaluate(
        "() => [...document.querySelectorAll('h2')]"
        ".map(h => [h.textContent.trim(), h.getBoundingClientRect().top + window.scrollY])"
    )


def _tabs_problems(page) -> list[str]:
    """Charts behind the other tabs are drawn only when their tab is open: open each in turn."""
    problems = []
    tabs = page.get_by_role("tab")
    for number in range(tabs.count()):
        tab = tabs.nth(number)
        tab.scroll_into_view_if_needed()
        tab.click()
        wait_until_charts_settle(page)
        problems += [f"tab '{tab.inner_text()}': {p}" for p in _layout_problems(page)]
    return problems


def _measure_choices_problems(page) -> list[str]:
    """The adoption chart of every "What is counted" choice (the second question's own picker):
    the measures draw from three to six lines, so each legend is measured against its plot."""
    problems = []
    pick = """(i) => { const heading = document.querySelectorAll('h2')[1];
        const group = [...document.querySelectorAll('[data-testid=stButtonGroup]')]
            .find(g => heading.compareDocumentPosition(g) & Node.DOCUMENT_POSITION_FOLLOWING);
        const buttons = group.querySelectorAll('button');
        if (i >= buttons.length) return null;
        buttons[i].click();
        return buttons[i].textContent; }"""
    for number in range(20):
        choice = page.evaluate(pick, number)
        if choice is None:
            assert number >= 4, "the adoption chart offers its measures"
            return problems
        wait_until_idle(page)
        wait_until_charts_settle(page)
        problems += [f"measure '{choice}': {p}" for p in _layout_problems(page)]
    return problems


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("viewport", [PROJECTOR, PHONE], ids=["1920x1080", "390x844"])
def test_market_page_fits_and_no_label_overlaps_or_is_cut(browser, warmed_app, viewport, language):  # noqa: F811
    context, page = _open(browser, warmed_app, viewport, language)
    try:
        assert_no_exception(page, "adoption")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        size = f"{viewport['width']}x{viewport['height']}-{language}"
        _full_page_screenshot(page, viewport, ARTIFACTS / f"adoption-{size}.png")
        tops = _header_tops(page)
        assert len(tops) == len(QUESTIONS), tops
        if language == "en":
            assert all(text.startswith(name) for (text, _top), name in zip(tops, QUESTIONS, strict=True)), tops
            # Every seed industry is named with its best comparable figure or "no comparable figure".
            best = page.locator("li", has_text="Smart city: no comparable figure")
            assert best.count() == 1 and best.first.is_visible()
        if viewport is PROJECTOR:
            for (first, top), (_second, next_top) in zip(tops, tops[1:], strict=False):
                assert next_top - top <= viewport["height"], (
                    f"'{first}' is {next_top - top:.0f}px tall, more than one screen"
                )
        problems = _layout_problems(page) + _tabs_problems(page) + _measure_choices_problems(page)
        assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:80])
        # Back to each question's opening tab for the screenshots.
        for tablist in page.get_by_role("tablist").all():
            tablist.get_by_role("tab").first.click()
        wait_until_charts_settle(page)
        for number in range(4):
            page.evaluate("(n) => document.querySelectorAll('h2')[n].scrollIntoView()", number)
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / f"adoption-{size}-{number + 1}.png"))
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [PROJECTOR, PHONE], ids=["1920x1080", "390x844"])
def test_applications_charts_fit_in_chinese(browser, warmed_app, viewport):  # noqa: F811
    context = browser.new_context(viewport=viewport, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(90_000)
    try:
        page.goto(f"{warmed_app.url}/applications?lang=zh")
        wait_until_idle(page)
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2")
        wait_until_charts_settle(page)
        assert_no_exception(page, "applications")
        problems = _layout_problems(page) + _tabs_problems(page)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        _full_page_screenshot(
            page, viewport, ARTIFACTS / f"applications-{viewport['width']}x{viewport['height']}-zh.png"
        )
        assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:80])
    finally:
        context.close()


def test_png_export_holds_the_legend_and_the_source_caption(browser, warmed_app):  # noqa: F811
    context, page = _open(browser, warmed_app, PROJECTOR)
    try:
        plot = page.locator(".js-plotly-plot >> visible=true").filter(has=page.locator(".legendtext")).first
        plot.scroll_into_view_if_needed()
        plot.hover()
        boxes = plot.evaluate(
            """(p) => {
                const svg = p.querySelector('svg.main-svg').getBoundingClientRect();
                const box = (el) => { const r = el.getBoundingClientRect();
                    return {l: r.left - svg.left, t: r.top - svg.top, r: r.right - svg.left, b: r.bottom - svg.top}; };
                const caption = [...p.querySelectorAll('.gtitle-subtitle tspan, .gtitle-subtitle')]
                    .find(e => e.textContent.includes('Source:'));
                return {width: svg.width, height: svg.height, legend: box(p.querySelector('g.legend')),
                        caption: caption ? box(caption) : null};
            }"""
        )
        assert boxes["caption"] is not None, "the source caption is drawn inside the chart"
        plot.hover()
        page.wait_for_timeout(500)
        titles = plot.evaluate("(p) => [...p.querySelectorAll('.modebar-btn')].map(b => b.getAttribute('data-title'))")
        button = plot.locator(".modebar-btn").nth(next(i for i, t in enumerate(titles) if t and "png" in t.lower()))
        with page.expect_download() as download:
            button.click(force=True)
        image = Image.open(io.BytesIO(download.value.path().read_bytes())).convert("L")
        scale = image.width / boxes["width"]
        assert image.format is None or image.mode == "L"
        assert scale == pytest.approx(2, abs=0.05), "exported at twice the drawn size"
        assert image.height == pytest.approx(boxes["height"] * scale, abs=4)
        (ARTIFACTS / "exported-chart.png").write_bytes(download.value.path().read_bytes())
        for part in ("legend", "caption"):
            box = boxes[part]
            assert box["l"] >= 0 and box["t"] >= 0 and box["r"] <= boxes["width"] and box["b"] <= boxes["height"], part
            crop = image.crop(tuple(int(v * scale) for v in (box["l"], box["t"], box["r"], box["b"])))
            dark = sum(1 for value in crop.getdata() if value < 160)
            assert dark > 50, f"the exported PNG shows the {part}"
    finally:
        context.close()


def _segments_table(path) -> None:
    """Nine segments over four years: nine lines, so the legend is taller than a phone's usual plot."""
    segments = ["Retail banking", "Insurance claims", "Hospital radiology", "Primary schools", "Car assembly"]
    segments += ["Grid operators", "Online retail", "Freight logistics", "Newsrooms"]
    rows = [
        {"segment": name, "year": year, "value": 5 + 3 * i + 4 * (year - 2021)}
        for i, name in enumerate(segments)
        for year in range(2021, 2025)
    ]
    pd.DataFrame(rows).to_csv(path, index=False)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("viewport", [PROJECTOR, PHONE], ids=["1920x1080", "390x844"])
def test_your_data_charts_fit_with_nine_series(browser, warmed_app, viewport, language, tmp_path):  # noqa: F811
    table = tmp_path / "segments.csv"
    _segments_table(table)
    context = browser.new_context(viewport=viewport, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(90_000)
    try:
        page.goto(f"{warmed_app.url}/your_data{_address(language)}")
        wait_until_idle(page)
        page.locator("input[type=file]").first.set_input_files(str(table))
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2")
        wait_until_idle(page)
        wait_until_charts_settle(page)
        assert_no_exception(page, "your_data")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        size = f"{viewport['width']}x{viewport['height']}-{language}"
        _full_page_screenshot(page, viewport, ARTIFACTS / f"your-data-{size}.png")
        charts = page.evaluate(_TEXT_BOXES)
        assert max(chart["legendHeight"] for chart in charts) > 0, "the nine lines have a legend"
        if viewport is PHONE:
            assert max(chart["legendHeight"] for chart in charts) > 250, "a phone stacks the nine entries"
        problems = _layout_problems(page)
        # Beside the built-in figures: the user's lines and ours in their own panels, one legend.
        page.locator("[data-testid=stButtonGroup]").last.locator("button").nth(1).click()
        wait_until_idle(page)
        wait_until_charts_settle(page)
        _full_page_screenshot(page, viewport, ARTIFACTS / f"your-data-beside-{size}.png")
        assert max(len(chart["texts"]) for chart in page.evaluate(_TEXT_BOXES)) > 0
        problems += [f"beside: {p}" for p in _layout_problems(page)]
        assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:80])
    finally:
        context.close()
