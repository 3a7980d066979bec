"""Markdown and HTML typed or uploaded by a user stay text in the browser: no link, image or script.

The same payloads go through the fine-tuning upload (file name, column names, labels), the market
upload (file name, column names) and a demo's text box; the page must show them literally and the
browser must never ask the payloads' host for anything.
"""

from __future__ import annotations

import pandas as pd
import pytest

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

_HOST = "evil.example"
_LINK = f"[click me](http://{_HOST}/link)"
_IMAGE = f"![pixel](http://{_HOST}/pixel.png)"
_HTML = f"<img src=http:{_HOST}/html.png onerror=alert(1)>"
_SCRIPT = "<script>window.__owned = 1</script>"
_DIRECTIVE = ":red[alarm] :material/warning:"


def _assert_nothing_became_markup(page, requests: list[str], where: str) -> None:
    assert page.locator(f"a[href*='{_HOST}']").count() == 0, f"{where}: a link to the payload host"
    assert page.locator(f"img[src*='{_HOST}']").count() == 0, f"{where}: an image from the payload host"
    assert page.evaluate("() => window.__owned === undefined"), f"{where}: a payload script ran"
    assert not [url for url in requests if _HOST in url], f"{where}: the browser fetched {requests}"


@pytest.fixture
def page(browser, warmed_app):  # noqa: F811 - fixtures imported above
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.requests = requests
    yield page
    context.close()


def test_payloads_in_uploads_and_text_boxes_are_shown_as_text(page, live_app, tmp_path):  # noqa: F811
    labels = [_LINK, _HTML]
    frame = pd.DataFrame(
        {
            _IMAGE: [f"example text number {i} about {'cats' if i % 2 else 'dogs'}" for i in range(24)],
            _SCRIPT: [labels[i % 2] for i in range(24)],
        }
    )
    # File names cannot hold "/": the same payloads without it.
    upload = tmp_path / f"[click me](https:{_HOST}) ![x](https:{_HOST}) {_DIRECTIVE.split(' ')[0]}.csv"
    frame.to_csv(upload, index=False)

    page.goto(f"{live_app.url}/new_job")
    wait_until_idle(page)
    upload_files(page, "Training table", upload)
    page.get_by_text("24 rows").first.wait_for()
    wait_until_idle(page)
    page.get_by_role("button", name="Check data").click()
    wait_until_idle(page)
    assert_no_exception(page, "new job")
    body = page.inner_text("body")
    # The uploader shortens the file name ("[click ...alarm].csv"): its brackets are still literal.
    assert "[click" in body and "alarm].csv" in body
    _assert_nothing_became_markup(page, page.requests, "new job")
    screenshot(page, "markup-new_job")

    page.goto(f"{live_app.url}/your_data")
    wait_until_idle(page)
    upload_files(page, "Your market table", upload)
    wait_until_idle(page)
    assert_no_exception(page, "your data")
    _assert_nothing_became_markup(page, page.requests, "your data")

    page.goto(f"{live_app.url}/sentiment")
    wait_until_idle(page)
    page.get_by_role("textbox", name="Text").fill(f"{_IMAGE} {_HTML} {_SCRIPT}")
    page.get_by_role("button", name="Analyse").click()
    wait_until_idle(page)
    assert_no_exception(page, "sentiment")
    _assert_nothing_became_markup(page, page.requests, "sentiment")
    screenshot(page, "markup-sentiment")
