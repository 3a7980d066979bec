"""Helpers for the demo pages' AppTests: open a page through app.py, a stand-in loaded model."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest

from backend.config import PROJECT_ROOT
from backend.models.resolve.device import DeviceInfo

APP = str(PROJECT_ROOT / "app.py")


@pytest.fixture
def open_page():
    """Open a page through app.py (sidebar and navigation included), as a user would."""

    def _open(path: str) -> AppTest:
        app = AppTest.from_file(APP, default_timeout=60)
        app.run()
        app.switch_page(path)
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    return _open


@pytest.fixture
def fake_model(monkeypatch):
    """Patch the page-side model loader to hand out a stand-in model; records (task, ref) asked for."""
    loaded = SimpleNamespace(
        model_ref="org/stand-in",
        device=DeviceInfo("cpu", "cpu", "CPU (test)", None),
        requests=[],
        lock=threading.Lock(),
    )

    def get_model(task: str, model_ref: str):
        loaded.requests.append((task, model_ref))
        return loaded

    monkeypatch.setattr("pages.components.models.get_model", get_model)
    return loaded


@pytest.fixture(autouse=True)
def _fresh_example_answers():
    """Example answers are cached per model for the whole process; each test starts without them."""
    from backend.models.answers import shared_answers

    shared_answers().clear()
    yield
    shared_answers().clear()


@pytest.fixture
def no_model(monkeypatch):
    """Patch the page-side model loader to fail the test if any model is asked for."""

    def get_model(task: str, model_ref: str):
        raise AssertionError(f"a model was asked for: {task} {model_ref}")

    monkeypatch.setattr("pages.components.models.get_model", get_model)
