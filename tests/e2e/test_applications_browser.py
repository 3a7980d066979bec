"""The Applications page's prioritiser and calculator in Chromium, at projector (1920x1080) and
phone (390x844) size: the state in the address is restored, no chart label overlaps or is cut off,
and a "measure this use case" job runs in the live app's worker and feeds the calculator.

Screenshots go to test-artifacts/applications/ for a person to look at.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_market_layout_browser import PHONE, PROJECTOR, _layout_problems
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

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "applications"
# Each tab, and what it says only because the address said so.
TABS = {
    "Ranking": ("Adoption level 5", "Feasibility here 1"),
    "Sensitivity": (),
    "Cost and capacity": (),
}


def _open(browser, app, viewport: dict, query: str = ""):  # noqa: F811
    context = browser.new_context(viewport=viewport, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.goto(f"{app.url}/applications{query}")
    wait_until_idle(page)
    page.get_by_role("tab", name="Ranking").wait_for()
    return context, page


def _show_tab(page, name: str) -> None:
    tab = page.get_by_role("tab", name=name)
    tab.click()
    wait_until_idle(page)
    tab.evaluate("e => e.scrollIntoView({block: 'start'})")
    wait_until_charts_settle(page)


@pytest.mark.parametrize("viewport", [PROJECTOR, PHONE], ids=["1920x1080", "390x844"])
def test_the_prioritiser_restores_its_address_and_its_charts_fit(browser, warmed_app, viewport):  # noqa: F811
    context, page = _open(browser, warmed_app, viewport, "?wa=5&wf=1&price=1.25&sens=growth")
    try:
        assert_no_exception(page, "applications")
        size = f"{viewport['width']}x{viewport['height']}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for name, restored in TABS.items():
            _show_tab(page, name)
            # Plotly draws a title over several lines (tspans); join them to read it.
            shown = " ".join(page.inner_text("body").split())
            assert all(text in shown for text in restored), (name, restored)
            if name == "Sensitivity":
                # The chart's title, its wrapped lines joined: the weight it moves came from the address.
                titles = page.evaluate(
                    "() => [...document.querySelectorAll('.js-plotly-plot .gtitle')]"
                    ".map(t => [...t.querySelectorAll('tspan.line')].map(l => l.textContent).join(' ') || t.textContent)"
                )
                assert any("weight of Adoption growth" in title for title in titles), titles
            assert_no_exception(page, f"applications, {name}")
            page.screenshot(path=str(ARTIFACTS / f"prioritiser-{size}-{name.split()[0].lower()}.png"))
            # Only the prioritiser's charts (in the tabs): the heatmap and maturity chart above are not this test's.
            page.evaluate(
                "() => document.querySelectorAll('.js-plotly-plot').forEach(p => {"
                " if (!p.closest('[role=tabpanel]')) p.style.display = 'none'; })"
            )
            problems = _layout_problems(page)
            assert not problems, f"{name}: " + "\n".join(problems[:40])
        assert page.get_by_label("Price per machine-hour").input_value() == "1.25"
        widest = page.evaluate(
            "() => Math.max(...[...document.querySelectorAll('.js-plotly-plot')]"
            ".filter(p => p.offsetParent !== null).map(p => p.getBoundingClientRect().right))"
        )
        assert widest <= viewport["width"] + 1, "a chart is wider than the screen"
    finally:
        context.close()


def test_a_measurement_runs_as_a_job_and_the_calculator_uses_it(browser, warmed_app):  # noqa: F811
    app = warmed_app
    context, page = _open(browser, app, PROJECTOR)
    try:
        _show_tab(page, "Measure")
        page.get_by_role("button", name="Measure this use case").click()
        expect(page.get_by_text("Last measurement")).to_be_visible(timeout=240_000)
        assert_no_exception(page, "applications, measure")
        page.reload()
        wait_until_idle(page)
        _show_tab(page, "Cost and capacity")
        # The top-ranked use case that runs here needs the image classifier: the cost chart's bar for
        # it now rests on this server's figure, not the benchmark's.
        # (The label wraps over two lines: "Image classification", "(measured)".)
        expect(
            page.locator("g.ytick text", has_text=re.compile("image.classification", re.IGNORECASE)).filter(
                has_text="(measured)"
            )
        ).to_be_visible()
        recorded = list((app.state_dir / "measurements").glob("image-classification-*.json"))
        assert len(recorded) == 1, recorded
        page.screenshot(path=str(ARTIFACTS / "prioritiser-1920x1080-measured.png"))
    finally:
        context.close()
