"""Whether what a page shows went through the translation catalogue, by any path.

``wrap_every_translation`` swaps the Chinese catalogue for one that wraps each string it is asked
for in ‹…›; ``untranslated`` then lists the labels, placeholders, helps, messages and table
headers of an AppTest run that arrived without the wrap, so were never asked for. Where the code
check of tests/backend/i18n sees only literals in Streamlit's own calls, this sees a string handed
through a helper, a dictionary key shown as a column, or a default argument.
"""

from __future__ import annotations

import gettext

import pytest
from streamlit.testing.v1 import AppTest

import backend.i18n as i18n

WIDGETS = ("text_input", "text_area", "selectbox", "multiselect", "radio", "button", "checkbox", "toggle")
MESSAGES = ("title", "subheader", "info", "warning", "error", "success", "caption")


class _Wrapping(gettext.NullTranslations):
    def gettext(self, message: str) -> str:
        return f"‹{message}›"

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return f"‹{singular if count == 1 else plural}›"


def wrap_every_translation(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on in this test, Chinese is the wrapping catalogue (``?lang=zh`` shows it)."""
    real = i18n._catalogue
    monkeypatch.setattr(i18n, "_catalogue", lambda language: _Wrapping() if language == "zh" else real(language))


@pytest.fixture
def wrapping_catalogue(monkeypatch: pytest.MonkeyPatch):
    """``wrap_every_translation`` for page tests: the app's cached text (the readiness line is
    cached per language) is dropped before, so no real Chinese from an earlier test shows, and
    after, so no wrapped text reaches a later one."""
    import streamlit as st

    st.cache_data.clear()
    wrap_every_translation(monkeypatch)
    yield
    st.cache_data.clear()


def untranslated(app: AppTest) -> list[tuple[str, str, str]]:
    """(element kind, attribute, text) of every shown string that was not translated."""
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
    # Without a placeholder of ours, Streamlit's browser code shows its own English one ("Choose options").
    found += [("multiselect", "placeholder", "") for widget in app.multiselect if not widget.proto.placeholder]
    for kind in MESSAGES:
        found += [
            (kind, "value", str(element.value)) for element in getattr(app, kind) if "‹" not in str(element.value)
        ]
    found += [("expander", "label", e.label) for e in app.expander if e.label and "‹" not in e.label]
    for table in app.dataframe:
        found += [("dataframe", "column", str(column)) for column in table.value.columns if "‹" not in str(column)]
    return found
