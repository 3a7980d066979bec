"""Chromium against an app with a shared password: protected pages ask for it, public ones do not."""

from __future__ import annotations

import pytest

from backend import auth
from tests.support.live_app import (  # noqa: F401 - fixtures
    assert_no_exception,
    browser,
    live_app,
    screenshot,
    start_app,
    wait_until_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "browser-test-password"


@pytest.fixture(scope="module")
def guarded_app(live_app, tmp_path_factory):  # noqa: F811
    stored = auth.hash_password(PASSWORD, iterations=1000)
    app = start_app(
        tmp_path_factory.mktemp("guarded-app"), {"LSM_ACCESS_PASSWORD_HASH": stored}, models_dir=live_app.models_dir
    )
    yield app
    app.stop()


@pytest.fixture
def page(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    yield tab
    context.close()


def _heading(page) -> str:
    return page.locator("h1").first.inner_text().strip()


def test_first_request_to_a_deep_link_still_runs_app_py(page, guarded_app):
    # The very first run of a fresh server must go through app.py (sidebar, sign-in gate), not
    # Streamlit's legacy pages/ folder discovery, and show the page without a "Page not found"
    # dialog (test_first_use_browser checks the same on a fresh server without a password).
    page.goto(f"{guarded_app.url}/models")
    wait_until_idle(page)
    assert "CPU" in page.locator('[data-testid="stSidebar"]').inner_text()
    assert _heading(page) == "Models"
    assert page.get_by_text("Page not found").count() == 0
    assert page.locator('[role="dialog"]').count() == 0


def test_protected_upload_page_asks_for_the_password(page, guarded_app):
    page.goto(f"{guarded_app.url}/your_data")
    wait_until_idle(page)
    assert _heading(page) == "Sign in"
    assert page.locator('[data-testid="stFileUploader"]').count() == 0
    screenshot(page, "sign-in")

    page.get_by_label("Shared password").fill("wrong guess")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("That password is not right.").wait_for()
    assert _heading(page) == "Sign in"

    page.get_by_label("Shared password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Your market data").wait_for()
    page.locator('[data-testid="stFileUploader"]').wait_for()
    wait_until_idle(page)
    assert_no_exception(page, "your_data after sign-in")
    assert "shared password" in page.locator('[data-testid="stSidebar"]').inner_text()


def test_public_pages_stay_open_with_a_password_set(page, guarded_app):
    page.goto(f"{guarded_app.url}/sentiment")
    wait_until_idle(page)
    assert _heading(page) == "Sentiment"
    assert_no_exception(page, "sentiment with a password set")


def test_server_log_holds_no_secret(guarded_app):
    # Runs after the sign-in tests above, which typed the password into the live app.
    log = guarded_app.log_path.read_text(encoding="utf-8", errors="replace")
    stored = guarded_app.env["LSM_ACCESS_PASSWORD_HASH"]
    for secret in (PASSWORD, stored.rsplit("$", 1)[1], stored.split("$")[2]):
        assert secret not in log
