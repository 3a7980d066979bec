"""What the running Streamlit server must do differently on a public host, installed by ``app.py``.

Streamlit offers no setting for these, and a host such as Community Cloud runs ``streamlit run
app.py`` itself, so they are installed on the running server's runtime at the first script run
(before any visitor sees a page), once per server:

- uploads are bounded before they are kept (``upload_budget``);
- ``/_stcore/metrics`` tells visitors nothing: its statistics (sessions, caches, uploads, per-user
  labels) come from the runtime's stats manager, which is emptied. The route itself stays (it is
  made before the script runs) and answers an empty list.
"""

from __future__ import annotations

import threading

from streamlit.runtime import Runtime

from pages.components.upload_budget import install_upload_budget

_installed = threading.Event()


def _hide_metrics(runtime: Runtime) -> None:
    # StatsManager has no public way to unregister; its one table of providers is emptied instead.
    runtime.stats_mgr._providers_by_family.clear()


def install_server_hooks() -> None:
    """Install every hook on the running server (nothing without one: AppTest)."""
    if _installed.is_set() or not Runtime.exists():
        return
    install_upload_budget()
    _hide_metrics(Runtime.instance())
    _installed.set()
