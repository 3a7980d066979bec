"""Serve the app: ``streamlit run app.py``, minus Streamlit's legacy first run of the pages folder.

Streamlit decides once per server, when the first session opens, whether the app is a legacy
multipage app: it is when a ``pages/`` folder sits beside the main script. Ours has one (the
client fixed that name for our page modules) but navigates with ``st.navigation``, which turns
the legacy mode off only once ``app.py`` has run. Until then the very first visitor who arrives by
a deep link (``/sentiment``) gets a "Page not found" dialog over the right page. Deciding it before
the server starts removes the dialog. Hosts that run ``streamlit run app.py`` themselves
(Community Cloud) still show it once per server start.

Usage: python scripts/serve.py [streamlit run options]
"""

from __future__ import annotations

import sys
from pathlib import Path

from streamlit.web import cli

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from pages.components.legacy_pages import declare_navigation_only

    declare_navigation_only()
    sys.argv = ["streamlit", "run", str(ROOT / "app.py"), *sys.argv[1:]]
    sys.exit(cli.main())
