"""Model servers on the pages: offered by name, failures explained in words, addresses never typed.

The pages run unpatched through app.py; the "server" is a real http.server on loopback.
"""

from __future__ import annotations

import json

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from backend import config
from backend.models import cache as model_cache
from tests.support.demo_pages import texts
from tests.support.openai_servers import FixedAnswerServer
from tests.support.paths import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")
PAGE = "pages/demos/text_generation.py"
KEY = "sk-page-secret-Lm42"


@pytest.fixture
def refusing_server(monkeypatch):
    server = FixedAnswerServer(401, "Invalid API key")
    table = {"base_url": server.base_url, "model": "served-model", "api_key": KEY, "max_retries": 0}
    monkeypatch.setenv("LSM_ENDPOINTS", json.dumps({"gpu-chat": table}))
    config.get_settings.cache_clear()
    # The process-wide model cache keeps the settings it was built with (a server's settings do not
    # change while it runs); earlier tests built it without this endpoint.
    monkeypatch.setattr(model_cache, "_shared", None)
    st.cache_resource.clear()
    yield server
    server.close()
    config.get_settings.cache_clear()
    st.cache_resource.clear()


def _open() -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    app.switch_page(PAGE)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_the_server_comes_first_by_name_and_a_refusal_is_explained(refusing_server):
    app = _open()
    picker = app.selectbox(key="text_generation.model")
    assert picker.value == "endpoint:gpu-chat"
    assert picker.options[0] == "served-model · model server gpu-chat"
    assert "Model server gpu-chat" in texts(app, "caption")
    app.chat_input(key="text_generation.prompt").set_value("Hi").run()
    assert not app.exception, [e.value for e in app.exception]
    assert "The model server gpu-chat refused this app's credentials." in texts(app, "error")
    details = app.expander[-1]
    assert details.label == "Details for whoever runs this server"
    assert "api_key" in " ".join(m.value for m in details.markdown)
    assert refusing_server.authorizations == [f"Bearer {KEY}"]
    shown = "\n".join(texts(app, kind) for kind in ("error", "markdown", "caption", "warning"))
    assert KEY not in shown and refusing_server.base_url not in shown


def test_an_address_typed_in_the_folder_box_is_never_called(refusing_server):
    app = _open()
    app.selectbox(key="text_generation.model").select("__local_folder__").run()
    app.text_input(key="text_generation.model_folder").input(refusing_server.base_url).run()
    app.chat_input(key="text_generation.prompt").set_value("Hi").run()
    assert not app.exception, [e.value for e in app.exception]
    assert texts(app, "error")  # refused: no such model folder
    assert refusing_server.requests == 0
