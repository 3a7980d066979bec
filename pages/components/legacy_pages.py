"""The one place that touches Streamlit's private "legacy pages/ folder" flag.

Our page modules live in ``pages/`` (a client-fixed name), which makes Streamlit treat the app
as a legacy multipage app until ``app.py``'s ``st.navigation`` has run once. The server launcher
(``scripts/serve.py``) and the AppTest fixture settle that earlier through this module. The flag
is private API: when a Streamlit upgrade moves or drops it, this module raises at once (and
``tests/ui/components/test_legacy_pages.py`` fails) instead of the dialog silently coming back.
"""

from __future__ import annotations

from typing import Any

_UPGRADE_HINT = (
    "Streamlit no longer has PagesManager.uses_pages_directory: check how this Streamlit version "
    "decides legacy pages/ folder mode and update pages/components/legacy_pages.py."
)


def pages_manager_class() -> Any:
    """Streamlit's ``PagesManager``, after checking it still has the flag we set.

    Raises:
        RuntimeError: the private class or its flag moved in this Streamlit version.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError as error:
        raise RuntimeError(_UPGRADE_HINT) from error
    if "uses_pages_directory" not in vars(PagesManager):
        raise RuntimeError(_UPGRADE_HINT)
    return PagesManager


def declare_navigation_only() -> None:
    """Tell Streamlit that the app navigates with ``st.navigation``, not the ``pages/`` folder."""
    pages_manager_class().uses_pages_directory = False
