"""The private Streamlit flag behind scripts/serve.py: fails loudly when an upgrade moves it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pages.components import legacy_pages

ROOT = Path(__file__).resolve().parents[3]


def test_streamlit_still_decides_legacy_mode_from_the_flag(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.undo()  # the AppTest fixture's patched __init__: test Streamlit's own
    pages_manager = legacy_pages.pages_manager_class()
    monkeypatch.setattr(pages_manager, "uses_pages_directory", None)
    # What a fresh server does for app.py: a pages/ folder beside it means legacy mode ...
    pages_manager(str(ROOT / "app.py"))
    assert pages_manager.uses_pages_directory is True
    # ... unless the launcher declared navigation first, which a later session must not undo.
    legacy_pages.declare_navigation_only()
    pages_manager(str(ROOT / "app.py"))
    assert pages_manager.uses_pages_directory is False


def test_a_streamlit_without_the_flag_is_reported(monkeypatch: pytest.MonkeyPatch):
    from streamlit.runtime.pages_manager import PagesManager

    monkeypatch.delattr(PagesManager, "uses_pages_directory")
    with pytest.raises(RuntimeError, match="uses_pages_directory"):
        legacy_pages.declare_navigation_only()
