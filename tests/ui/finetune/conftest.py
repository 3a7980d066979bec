"""Fine-tuning page tests: a private state folder per test and a recorded (not spawned) worker start."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest

from backend import config
from backend.config import PROJECT_ROOT
from backend.jobs import supervisor

APP = str(PROJECT_ROOT / "app.py")


@pytest.fixture
def state(tmp_path, monkeypatch, settings):
    """Settings whose jobs, queue and runs live in this test's folder; worker starts are recorded."""
    monkeypatch.setenv("LSM_STATE_DIR", str(tmp_path / "state"))
    config.get_settings.cache_clear()
    starts: list[str] = []
    monkeypatch.setattr(supervisor, "ensure_worker_running", lambda *a, **k: starts.append("start") or True)
    yield SimpleNamespace(settings=config.get_settings(), worker_starts=starts)
    monkeypatch.undo()
    config.get_settings.cache_clear()


@pytest.fixture
def open_page():
    """Open a page through app.py, as a user would."""

    def _open(path: str, query: dict[str, str] | None = None) -> AppTest:
        app = AppTest.from_file(APP, default_timeout=90)
        app.run()
        app.switch_page(path)
        for key, value in (query or {}).items():
            app.query_params[key] = value
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    return _open


@pytest.fixture
def downloaded_bases(settings, tiny_models_dir):
    """The catalogue's base models "downloaded": a copy of the tiny model of their task in each one's
    mirror folder, as ``python -m backend.models download`` leaves them (the test session is offline)."""
    import shutil

    from backend.models.resolve import catalogue
    from backend.models.resolve.plan import mirror_folder

    base_tasks = (catalogue.EMBEDDINGS, catalogue.TEXT_CLASSIFIER_BASE, catalogue.IMAGE_CLASSIFIER_BASE)
    made = []
    for spec in catalogue.CATALOGUE:
        folder = mirror_folder(spec.hub_id, settings)
        if spec.task in base_tasks and spec.task in tiny_models_dir and not folder.exists():
            shutil.copytree(tiny_models_dir[spec.task], folder)
            made.append(folder)
    yield made
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)
