"""Chromium against the app configured with a model server: a chat streamed from a real
``transformers serve`` running the real SmolLM2-135M-Instruct on loopback.

The app gets the endpoint only through LSM_ENDPOINTS (the operator's setting); the page offers it
in the model picker by name and every reply's footer says where it ran.
"""

from __future__ import annotations

import json
import re

import pytest

from backend.models.fetch import packaged
from tests.support import openai_servers
from tests.support.live_app import assert_no_exception, browser, screenshot, start_app, wait_until_idle  # noqa: F401
from tests.support.packaged import require_packaged

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.real_weights]

_TIMEOUT_MS = 120_000
KEY = "sk-browser-key-77e1"


@pytest.fixture(scope="module")
def served_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("endpoint-app")
    folder = openai_servers.serve_ready(require_packaged(packaged.SMOLLM2_135M), root / "smollm2")
    with openai_servers.serve_chat(folder, root / "serve.log") as base_url:
        table = {"lab": {"base_url": base_url, "model": str(folder), "api_key": KEY, "task": "text-generation"}}
        app = start_app(root / "app", extra_env={"LSM_ENDPOINTS": json.dumps(table)})
        try:
            yield app
        finally:
            app.stop()


def test_a_chat_streams_from_the_model_server_through_the_page(browser, served_app):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(_TIMEOUT_MS)
    try:
        page.goto(f"{served_app.url}/text_generation")
        wait_until_idle(page)
        # The operator's endpoint comes first in the picker, by name, and the sidebar lists it.
        assert "Runs on the model server lab" in page.inner_text("body")
        assert "Model server lab" in page.locator('[data-testid="stSidebar"]').inner_text()
        # Greedy decoding (temperature 0) and the fewest new tokens (16): a short, repeatable answer.
        page.get_by_text("Generation settings").click()
        for slider in (0, 2):  # temperature, top-p, max new tokens
            page.get_by_role("slider").nth(slider).press("Home")
            wait_until_idle(page)
        page.get_by_role("textbox").last.fill("What is the capital of France?")
        page.get_by_role("textbox").last.press("Enter")
        footer = page.get_by_text(re.compile(r"served by lab")).filter(visible=True).first
        footer.wait_for()
        wait_until_idle(page)
        assert_no_exception(page, "endpoint chat")
        text = footer.inner_text()
        assert re.search(r"1 reply · \d+ tokens", text), text
        assert "tokens/s" in page.inner_text("body")
        assert KEY not in page.content()
        assert str(served_app.root.parent) not in page.inner_text("body")  # the server's model folder: by name only
        reply = page.locator('[data-testid="stChatMessage"]').last.inner_text()
        assert "Paris" in reply, reply
        screenshot(page, "text_generation-endpoint")
    except BaseException:
        screenshot(page, "text_generation-endpoint-failure")
        raise
    finally:
        context.close()
