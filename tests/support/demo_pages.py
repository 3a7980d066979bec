"""Small assertion helpers shared by the demo pages' AppTests."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def texts(app: AppTest, kind: str) -> str:
    """All values of one element kind (``caption``, ``markdown``, ``info``...) joined for asserting."""
    return " | ".join(str(element.value) for element in getattr(app, kind))
