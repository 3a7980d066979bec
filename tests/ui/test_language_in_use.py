"""The language on an app that has been used: a finished training job, a recorded fine-tuned model
and a model server, in Chromium.

- Every page in Chinese, at a laptop's and a phone's size, leaves no English in what a person reads (the checker of
  ``tests/ui/test_chinese_pages.py``, in ``tests/support/chinese_text.py``), apart from what people
  named: the model's title, the server's name and model, the labels of the training data.
- Switching language keeps the page's state and costs no model reload (issue 27, criterion 6): on a
  demo, the text typed, the model picked and the answer's model stay, and the app's model cache
  counts no second load; on the Jobs page, the job followed stays selected and is not restarted.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from backend.i18n import translated
from backend.jobs.tables import STATUS_WORDS
from pages.components.navigation import PAGES
from tests.support.chinese_text import english_left, visible_text
from tests.support.live_app import (  # noqa: F401 - fixtures
    IDLE,
    assert_no_exception,
    browser,
    queue_text_training,
    reused_tab,
    screenshot,
    start_app,
    wait_until_idle,
)
from tests.support.openai_servers import FixedAnswerServer, chat_completion
from tests.ui.test_chinese_pages import VIEWPORTS, url_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MODEL_TITLE = "评论模型"
SERVER = "gpu-chat"
SERVED_MODEL = "served-model"
# What people named or typed, shown as given: the training table's labels are learnable_texts'.
NAMES = (MODEL_TITLE, SERVER, SERVED_MODEL, "positive", "negative")
_TRAINING_SECONDS = 300
# A run's footer: its latency in either language ("12 ms", "12 毫秒").
_FOOTER = re.compile(r"\d (ms|毫秒)")


@pytest.fixture(scope="module")
def used_app(browser, tmp_path_factory):  # noqa: F811
    """An app with a model server configured and one fine-tuning job, started from a Chinese page,
    finished (its model recorded for the demos)."""
    server = FixedAnswerServer(200, body=chat_completion("你好。", 3, 2))
    endpoints = {SERVER: {"base_url": server.base_url, "model": SERVED_MODEL, "max_retries": 0}}
    root = tmp_path_factory.mktemp("used-app")
    app = start_app(root, extra_env={"LSM_ENDPOINTS": json.dumps(endpoints)})
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        page.set_default_timeout(90_000)
        page.goto(app.url)
        page.wait_for_selector(IDLE, timeout=90_000)
        queue_text_training(page, app.url, root, MODEL_TITLE, language="zh")
        page.goto(f"{app.url}/jobs?lang=zh")
        succeeded = translated(STATUS_WORDS["succeeded"], "zh")
        page.get_by_text(succeeded, exact=True).filter(visible=True).first.wait_for(timeout=_TRAINING_SECONDS * 1000)
        context.close()
        yield app
    finally:
        app.stop()
        server.close()


# The market pages show the shipped data and no job, model or server: the fresh app's test has them.
_USED_PAGES = [entry for entry in PAGES if not entry.path.startswith("pages/market/")]


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("entry", _USED_PAGES, ids=[entry.path for entry in _USED_PAGES])
def test_a_used_app_in_chinese_leaves_no_english(browser, used_app, entry, viewport):  # noqa: F811
    # At a phone's width too: tables and charts there show other labels (columns, wrapped legends).
    width, height = VIEWPORTS[viewport]
    with reused_tab(browser, viewport={"width": width, "height": height}, locale="zh-CN") as page:
        page.set_default_timeout(90_000)
        page.goto(f"{used_app.url}/{url_path(entry)}?lang=zh")
        wait_until_idle(page)
        assert_no_exception(page, entry.path)
        screenshot(page, f"zh-used-{url_path(entry) or 'home'}-{viewport}")
        left = english_left(visible_text(page), NAMES)
        assert left == [], f"{entry.path}: English left in the Chinese page: {left}"


def _loads(browser, app_url: str, model_title: str) -> int:  # noqa: F811
    """How many times the app loaded ``model_title``, from the Models page's *Loaded now* table
    (the process-wide cache's own count), read in a tab of its own."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(90_000)
        page.goto(f"{app_url}/models?lang=en")
        wait_until_idle(page)
        # The grid writes its cells' accessible copy once it has drawn them.
        page.locator('[data-testid="stDataFrame"] [role="columnheader"]', has_text="Loads").first.wait_for(
            state="attached"
        )
        rows = page.evaluate(
            """() => [...document.querySelectorAll('[data-testid="stDataFrame"] [role="row"]')].map(
                (row) => [...row.querySelectorAll('[role="columnheader"], [role="gridcell"]')].map((c) => c.textContent)
            )"""
        )
        for index, row in enumerate(rows):
            if "Loads" in row:
                column = row.index("Loads")
                for cells in rows[index + 1 :]:
                    # Named with its job's id: "评论模型 · 20261207-…".
                    if any(cell.startswith(model_title) for cell in cells):
                        return int(cells[column])
        raise AssertionError(f"{model_title} is not in the Loaded now table: {rows}")
    finally:
        context.close()


def _switch_language(page, name: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_role("radio", name=name, exact=True).click()
    page.wait_for_url(re.compile(r"lang=" + ("zh" if name == "中文" else "en")))
    wait_until_idle(page)


def test_switching_language_on_a_demo_keeps_the_text_the_pick_and_the_answer_without_a_reload(
    browser,  # noqa: F811
    used_app,
):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(90_000)
    text = "The battery lasts two days."
    try:
        page.goto(f"{used_app.url}/sentiment?lang=en")
        wait_until_idle(page)
        # The fine-tuned model, not the default: the pick must survive the switch.
        page.get_by_role("combobox", name="Model").click()
        page.get_by_role("option", name=re.compile(MODEL_TITLE)).click()
        wait_until_idle(page)
        page.get_by_role("textbox", name="Text", exact=True).fill(text)
        page.get_by_role("button", name="Analyse").click()
        footer = page.locator('[data-testid="stCaptionContainer"]').filter(has_text=_FOOTER).first
        footer.wait_for()
        wait_until_idle(page)
        assert MODEL_TITLE in footer.inner_text()
        loads_before = _loads(browser, used_app.url, MODEL_TITLE)
        assert loads_before == 1

        _switch_language(page, "中文")
        assert_no_exception(page, "sentiment after the switch")
        screenshot(page, "language-switch-sentiment-zh")
        assert page.locator("h1").first.inner_text().strip() == translated("Sentiment", "zh")
        expect(page.get_by_role("textbox", name=translated("Text", "zh"), exact=True)).to_have_value(text)
        picker = page.get_by_role("combobox", name=translated("Model", "zh"), exact=True)
        expect(picker).to_have_value(re.compile(MODEL_TITLE))
        # The pick is shown in the new language's words too (the browser kept the old label once).
        assert english_left(picker.input_value(), NAMES) == [], picker.input_value()
        answer = page.locator('[data-testid="stCaptionContainer"]').filter(has_text=_FOOTER).first
        assert MODEL_TITLE in answer.inner_text()
        assert _loads(browser, used_app.url, MODEL_TITLE) == loads_before

        _switch_language(page, "English")
        expect(page.get_by_role("textbox", name="Text", exact=True)).to_have_value(text)
        assert _loads(browser, used_app.url, MODEL_TITLE) == loads_before

        # Back in Chinese, the answer and all around it read in Chinese (its labels are the data's).
        _switch_language(page, "中文")
        assert english_left(visible_text(page), (*NAMES, text)) == []
        assert _loads(browser, used_app.url, MODEL_TITLE) == loads_before
    finally:
        context.close()


def test_switching_language_on_the_jobs_page_keeps_the_job_followed(browser, used_app, tmp_path):  # noqa: F811
    # The app's worker (started for the first job) is paused, so the new job is still waiting when
    # the language changes, whatever the machine's speed; resumed, it takes the job and runs it.
    workers = used_app.spawned_workers()
    assert workers, "the first job's worker is still alive (it exits after 30 idle minutes)"
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(90_000)
    for worker in workers:
        worker.suspend()
    try:
        queue_text_training(page, used_app.url, tmp_path, "Second reviews model")
        page.goto(f"{used_app.url}/jobs?lang=en")
        wait_until_idle(page)
        picker = page.get_by_role("combobox", name="Job", exact=True)
        expect(picker).to_have_value(re.compile("Second reviews model"))
        job_id = re.search(r"job=([\w-]+)", page.url).group(1)
        page.get_by_text("Queued", exact=True).filter(visible=True).first.wait_for()

        _switch_language(page, "中文")
        assert_no_exception(page, "jobs after the switch")
        screenshot(page, "language-switch-jobs-zh")
        expect(page.get_by_role("combobox", name=translated("Job", "zh"), exact=True)).to_have_value(
            re.compile("Second reviews model")
        )
        assert f"job={job_id}" in page.url
        queued = translated(STATUS_WORDS["queued"], "zh")
        page.get_by_text(queued, exact=True).filter(visible=True).first.wait_for()

        for worker in workers:
            worker.resume()
        # The job goes on where it was and the page follows it: run once, to the end.
        finished = translated(STATUS_WORDS["succeeded"], "zh")
        page.get_by_text(finished, exact=True).filter(visible=True).first.wait_for(timeout=_TRAINING_SECONDS * 1000)
        assert f"job={job_id}" in page.url
        wait_until_idle(page)
        screenshot(page, "language-switch-jobs-zh-finished")
        # Started from an English page, followed in Chinese: nothing of it reads in English (its
        # log is code, and its model card, in the download, is in its starter's language).
        left = english_left(visible_text(page), (*NAMES, "Second reviews model"))
        assert left == [], left
    finally:
        for worker in workers:
            if worker.is_running():
                worker.resume()
        context.close()
