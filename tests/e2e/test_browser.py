"""Chromium against ``streamlit run app.py``: every page renders, every demo runs on tiny models.

Each page's screenshot is saved in test-artifacts/screenshots/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from pages.components.navigation import PAGES, PageEntry
from tests.support.live_app import (  # noqa: F401 - fixtures
    assert_no_exception,
    browser,
    live_app,
    queue_text_training,
    reused_tab,
    screenshot,
    upload_files,
    wait_until_idle,
    warmed_app,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_TIMEOUT_MS = 90_000
# The run footer every demo shows after a run: "... · 123 ms · 1 text".
_FOOTER = re.compile(r"\d[\d,]* ms")


def url_path(entry: PageEntry) -> str:
    """The URL path st.navigation gives a page: the default page is the root, others their file stem."""
    if entry.path == "pages/overview/home.py":
        return ""
    return entry.url_path or Path(entry.path).stem


@pytest.fixture
def page(browser, warmed_app):  # noqa: F811 - fixtures imported above
    with reused_tab(browser, viewport={"width": 1400, "height": 1000}, locale="en-US") as tab:
        tab.set_default_timeout(_TIMEOUT_MS)
        yield tab


@pytest.mark.parametrize("entry", PAGES, ids=[p.path for p in PAGES])
def test_every_page_renders_without_an_exception(page, live_app, entry):  # noqa: F811
    page.goto(f"{live_app.url}/{url_path(entry)}")
    wait_until_idle(page)
    assert_no_exception(page, entry.path)
    # app.py ran (not the page file alone): its sidebar shows the compute device.
    assert "CPU" in page.locator('[data-testid="stSidebar"]').inner_text()
    assert page.locator("h1").first.inner_text().strip()
    screenshot(page, url_path(entry) or "home")


# Per demo: the button that runs a built-in example, and what its result shows.
DEMOS = {
    "sentiment": "Delighted customer",
    "translation": "English → Chinese",
    "image_classification": "Cat",
    "text_generation": "Explain fine-tuning",
}


@pytest.mark.parametrize("demo", list(DEMOS))
def test_each_demo_runs_an_example_on_its_tiny_default_model(page, live_app, demo):  # noqa: F811
    if not any(url_path(entry) == demo for entry in PAGES):
        pytest.skip(f"the {demo} page is not registered")
    page.goto(f"{live_app.url}/{demo}")
    wait_until_idle(page)
    page.get_by_role("button", name=DEMOS[demo]).first.click()
    page.get_by_text(_FOOTER).filter(visible=True).first.wait_for(timeout=_TIMEOUT_MS)
    wait_until_idle(page)
    assert_no_exception(page, demo)
    footer = page.get_by_text(_FOOTER).filter(visible=True).first.inner_text()
    assert "CPU" in footer or "cpu" in footer, footer
    screenshot(page, f"{demo}-result")


def test_sentiment_typed_text_gives_probabilities(page, live_app):  # noqa: F811
    page.goto(f"{live_app.url}/sentiment")
    wait_until_idle(page)
    page.get_by_role("textbox", name="Text").fill("The weather is fine today and the model is fast.")
    page.get_by_role("button", name="Analyse").click()
    page.get_by_text(_FOOTER).filter(visible=True).first.wait_for()
    wait_until_idle(page)
    heading = page.locator("h3").filter(has_text="%").first.inner_text()
    label, probability = heading.split("·")
    assert label.strip() in {"negative", "neutral", "positive"}
    assert 0 < float(probability.strip().rstrip("%")) <= 100
    assert_no_exception(page, "sentiment typed")


def test_unknown_page_falls_back_to_home_and_paths_cannot_escape(page, live_app):  # noqa: F811
    page.goto(f"{live_app.url}/no-such-page")
    wait_until_idle(page)
    assert_no_exception(page, "unknown page")
    assert page.locator("h1").first.inner_text().strip() == "Large Model Showcase"
    for path in ("/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/static/../../../etc/passwd"):
        try:
            with urllib.request.urlopen(f"{live_app.url}{path}", timeout=10) as response:
                body = response.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as error:
            body = error.read().decode("utf-8", errors="replace")
        assert "root:" not in body, path


def test_fine_tuning_job_trains_in_the_background_and_its_model_runs_in_the_demo(page, live_app, tmp_path):  # noqa: F811
    if not any(entry.path == "pages/finetune/new_job.py" for entry in PAGES):
        pytest.skip("the fine-tuning pages are not registered")
    queue_text_training(page, live_app.url, tmp_path, "E2E reviews")
    assert_no_exception(page, "new job")
    screenshot(page, "new_job-queued")

    page.goto(f"{live_app.url}/jobs")
    # The jobs table says "succeeded" too, in a grid cell that is never visible (the grid draws on a canvas).
    page.get_by_text("Succeeded", exact=True).filter(visible=True).first.wait_for(timeout=240_000)
    page.get_by_text("Confusion matrix").wait_for()
    wait_until_idle(page)
    assert_no_exception(page, "jobs")
    assert live_app.spawned_workers(), "the app started a training worker process"
    screenshot(page, "jobs-succeeded")

    page.goto(f"{live_app.url}/sentiment")
    wait_until_idle(page)
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=re.compile("E2E reviews")).click()
    expect(page.get_by_role("combobox", name="Model")).to_have_value(re.compile("E2E reviews"))
    wait_until_idle(page)
    page.get_by_role("textbox", name="Text").fill("I love this product, it works great.")
    page.get_by_role("button", name="Analyse").click()
    page.get_by_text(_FOOTER).filter(visible=True).first.wait_for()
    wait_until_idle(page)
    assert_no_exception(page, "sentiment with the fine-tuned model")
    heading = page.locator("h3").filter(has_text="%").first.inner_text()
    assert heading.split("·")[0].strip() in {"positive", "negative"}  # the fine-tuned model's own labels
    screenshot(page, "sentiment-fine-tuned")

    # Batch mode: the same model over a table, run by the worker while the page follows it.
    table = tmp_path / "batch.csv"
    table.write_text("review\ngreat product\nterrible and broke in a day\nworks fine\n", encoding="utf-8")
    page.get_by_role("tab", name="Batch (table)").click()
    upload_files(page, "Table with one text per row", table)
    page.get_by_text("3 rows").first.wait_for()
    wait_until_idle(page)
    page.get_by_role("button", name="Classify every row").click()
    try:
        page.get_by_role("button", name="Download results (CSV)").wait_for(timeout=240_000)
    finally:
        screenshot(page, "sentiment-batch-waited")
    wait_until_idle(page)
    assert_no_exception(page, "sentiment batch job")
    assert page.get_by_text("3 texts").count() >= 1
    screenshot(page, "sentiment-batch-finished")
