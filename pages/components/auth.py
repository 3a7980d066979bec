"""Who is using the app, for scoping uploads, jobs and fine-tuned models.

Without sign-in configured, everyone shares one workspace (owner ""), so a browser refresh or a
second tab still finds every job. With sign-in, each user's owner id is their identity.
"""

from __future__ import annotations

import streamlit as st


def current_owner() -> str:
    """The signed-in user's stable id, or "" for the shared anonymous workspace."""
    user = getattr(st, "user", None)
    if user is not None and getattr(user, "is_logged_in", False):
        return str(user.get("email") or user.get("sub") or "")
    return ""
