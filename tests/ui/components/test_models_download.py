"""A demo's first click downloads its model from a (local, real) hub, then answers; a dead hub fails fast."""

from __future__ import annotations

import shutil

import huggingface_hub.constants
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from backend import config
from backend.models import cache as cache_module
from backend.models.answers import shared_answers
from backend.models.fetch import download, hub
from backend.models.resolve import catalogue
from backend.models.resolve.plan import mirror_folder
from tests.support.local_hub import LocalHub, closed_port_endpoint
from tests.support.paths import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")
DEFAULT = catalogue.default_model(catalogue.SENTIMENT).hub_id


@pytest.fixture
def online_env(monkeypatch):
    """The app's settings online, with huggingface_hub's own offline flag off; undone afterwards."""

    def point_at(endpoint: str) -> None:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.setenv("LSM_OFFLINE", "0")
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        config.get_settings.cache_clear()
        hub.forget()
        # The process-wide model cache keeps the settings it was built with: build one for these.
        monkeypatch.setattr(cache_module, "_shared", None)
        st.cache_resource.clear()
        shared_answers().clear()

    yield point_at
    shutil.rmtree(mirror_folder(DEFAULT, config.get_settings()), ignore_errors=True)
    monkeypatch.undo()
    config.get_settings.cache_clear()
    st.cache_resource.clear()
    shared_answers().clear()
    hub.forget()


def _click_first_example() -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.switch_page("pages/demos/sentiment.py")
    app.run()
    app.button(key="sentiment.example.0").click().run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_first_click_downloads_the_default_then_answers(online_env, tiny_models_dir):
    with LocalHub({DEFAULT: tiny_models_dir["sentiment"]}) as server:
        online_env(server.endpoint)
        started = download.downloads_started()
        app = _click_first_example()
        assert download.downloads_started() == started + 1
        assert download.is_downloaded(DEFAULT, config.get_settings())
        assert not app.error, [e.value for e in app.error]
        assert server.count("GET", "/resolve/") == len(server.files(DEFAULT))
        answered = app.session_state["sentiment.result"]
        # The same example again answers from the example answers: the same result object.
        app.button(key="sentiment.example.0").click().run()
        assert app.session_state["sentiment.result"] is answered


def test_a_dead_hub_fails_the_click_fast_and_once(online_env):
    online_env(closed_port_endpoint())
    probes = hub.probes_made()
    for _ in range(2):
        app = _click_first_example()
        assert "cannot be reached" in " ".join(e.value for e in app.error)
    assert hub.probes_made() == probes + 1
