"""The language switch: which language this run is shown in, and the sidebar control that changes it.

The address holds the choice (``?lang=zh``), so a shared link opens in that language; without one,
the browser's language decides. Streamlit clears the address's parameters when a person moves to
another page, so the choice is also kept in the session and written back to the address each run.
"""

from __future__ import annotations

import streamlit as st

from backend.i18n import LANGUAGES, _, normalise, set_language

QUERY_PARAMETER = "lang"
_SESSION_KEY = "app.language"
_SWITCH_KEY = "app.language_switch"


def _from_address() -> str | None:
    tag = st.query_params.get(QUERY_PARAMETER)
    return tag if tag and str(tag).split("-")[0].split("_")[0].lower() in LANGUAGES else None


def choose_language() -> str:
    """Sets this run's language (address, else this session's choice, else the browser's) and returns it."""
    language = normalise(_from_address() or st.session_state.get(_SESSION_KEY) or st.context.locale)
    st.session_state[_SESSION_KEY] = language
    if st.query_params.get(QUERY_PARAMETER) != language:
        st.query_params[QUERY_PARAMETER] = language
    return set_language(language)


def _is_pickable_value(value: object) -> bool:
    """A value a picker, box or slider holds (text, a number, or several): not a button's or a
    toggle's bool, an upload, a table's edits, or a page's own records."""
    if isinstance(value, list | tuple):
        return all(_is_pickable_value(item) for item in value)
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _keep_picks_in_the_new_labels() -> None:
    """Hands every widget value back to Streamlit, so each widget's next draw sends it again.

    A picker's options are shown through translated labels, and the browser holds the pick by its
    label: left alone, it keeps showing the old language's label (the pick itself is kept, by
    value). Written back by the callback, before the run, the value goes out with the new label.
    Buttons, uploads and chat boxes refuse values written this way; they hold none of these kinds.
    """
    for key in list(st.session_state.keys()):
        if key in (_SWITCH_KEY, _SESSION_KEY):
            continue
        value = st.session_state[key]
        if _is_pickable_value(value):
            st.session_state[key] = value


def _switch() -> None:
    language = normalise(st.session_state[_SWITCH_KEY])
    st.session_state[_SESSION_KEY] = language
    st.query_params[QUERY_PARAMETER] = language
    _keep_picks_in_the_new_labels()


def show_language_switch(language: str) -> None:
    """The sidebar's language control; each language is named in its own words."""
    # Kept in step with the address, which may have changed since the widget last ran.
    st.session_state[_SWITCH_KEY] = language
    st.sidebar.segmented_control(
        _("Language"),
        options=list(LANGUAGES),
        format_func=LANGUAGES.__getitem__,
        key=_SWITCH_KEY,
        on_change=_switch,
        selection_mode="single",
        required=True,
    )
