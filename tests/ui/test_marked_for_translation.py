"""Every string a page shows goes through the translation catalogue, placeholders and help included.

The catalogue test (tests/backend/i18n) reads the code and finds unmarked literals in Streamlit's
own calls; a string handed to a helper that passes it on (a form's example title) escapes it, and
stays English on a Chinese page. Here every page, and every form of the New training job page, runs
in Chinese under a catalogue that wraps each string it translates (tests/support/translation_marks.py).
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from backend import config
from backend.config import PROJECT_ROOT
from backend.training.chat.params import CHAT
from backend.training.classifier.params import IMAGE, TEXT
from backend.training.common import PREFERENCE
from pages.components.navigation import PAGES
from tests.support.translation_marks import untranslated, wrapping_catalogue  # noqa: F401 - a fixture

# Every test here runs under the wrapping catalogue, on a state folder of its own.
pytestmark = pytest.mark.usefixtures("wrapping_catalogue", "fresh_state")
APP = str(PROJECT_ROOT / "app.py")
# The kinds of model the New training job page trains, each with its own form.
TRAINING_KINDS = (TEXT, IMAGE, CHAT, PREFERENCE)


@pytest.fixture
def fresh_state(tmp_path, monkeypatch):
    """The pages as a new user first sees them: other tests' jobs and batch tables (whose columns
    are their uploads' own names, shown as given) are not in this state folder."""
    monkeypatch.setenv("LSM_STATE_DIR", str(tmp_path / "state"))
    config.get_settings.cache_clear()
    yield
    monkeypatch.undo()
    config.get_settings.cache_clear()


def _open(path: str, state: dict[str, object] | None = None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120)
    for key, value in (state or {}).items():
        app.session_state[key] = value
    app.query_params["lang"] = "zh"
    app.run()
    app.switch_page(path)
    app.query_params["lang"] = "zh"
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


@pytest.mark.parametrize("entry", [pytest.param(entry, id=entry.path) for entry in PAGES])
def test_every_page_shows_only_translated_strings(entry):
    app = _open(entry.path)
    assert untranslated(app) == []


@pytest.mark.parametrize("kind", TRAINING_KINDS)
def test_every_training_form_shows_only_translated_strings(kind):
    # Chosen before the page opens: the test client cannot click an option whose label is not its value.
    app = _open("pages/finetune/new_job.py", {"finetune.task": kind})
    assert untranslated(app) == []
