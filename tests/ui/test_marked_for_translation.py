"""Every string a page shows goes through the translation catalogue, placeholders and help included.

The catalogue test (tests/backend/i18n) reads the code and finds unmarked literals in Streamlit's
own calls; a string handed to a helper that passes it on (a form's example title) escapes it, and
stays English on a Chinese page. Here every page runs in Chinese under a catalogue that wraps each
string it translates in ‹…›: any label, placeholder, help or message that arrives without the
wrap was never translated, whatever the code path it took.
"""

from __future__ import annotations

import gettext

import pytest
from streamlit.testing.v1 import AppTest

import backend.i18n as i18n
from backend.config import PROJECT_ROOT
from backend.training.chat.params import CHAT
from backend.training.classifier.params import IMAGE, TEXT
from backend.training.common import PREFERENCE
from pages.components.navigation import PAGES

APP = str(PROJECT_ROOT / "app.py")
WIDGETS = ("text_input", "text_area", "selectbox", "multiselect", "radio", "button", "checkbox", "toggle")
MESSAGES = ("title", "subheader", "info", "warning", "error", "success", "caption")
# The kinds of model the New training job page trains, each with its own form.
TRAINING_KINDS = (TEXT, IMAGE, CHAT, PREFERENCE)


class _Wrapping(gettext.NullTranslations):
    """A catalogue that marks every string it was asked for, so a string shown without the mark
    was never asked for."""

    def gettext(self, message: str) -> str:
        return f"‹{message}›"

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return f"‹{singular if count == 1 else plural}›"


@pytest.fixture
def wrapping_catalogue(monkeypatch):
    real = i18n._catalogue
    monkeypatch.setattr(i18n, "_catalogue", lambda language: _Wrapping() if language == "zh" else real(language))


def _untranslated(app: AppTest) -> list[tuple[str, str, str]]:
    found = []
    for kind in WIDGETS:
        for widget in getattr(app, kind):
            # An example button's hover shows the demo input it fills in, in that input's own language.
            is_example = ".example." in (widget.key or "")
            for attribute in ("label", "placeholder", "help"):
                if attribute == "help" and is_example:
                    continue
                text = getattr(widget, attribute, None) or getattr(widget.proto, attribute, "")
                if text and "‹" not in text:
                    found.append((kind, attribute, text))
    for kind in MESSAGES:
        found += [
            (kind, "value", str(element.value)) for element in getattr(app, kind) if "‹" not in str(element.value)
        ]
    return found


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
def test_every_page_shows_only_translated_strings(wrapping_catalogue, entry):
    app = _open(entry.path)
    assert _untranslated(app) == []


@pytest.mark.parametrize("kind", TRAINING_KINDS)
def test_every_training_form_shows_only_translated_strings(wrapping_catalogue, kind):
    # Chosen before the page opens: the test client cannot click an option whose label is not its value.
    app = _open("pages/finetune/new_job.py", {"finetune.task": kind})
    assert _untranslated(app) == []
