"""The one place the UI holds models: a process-wide cache shared by every session."""

from __future__ import annotations

import streamlit as st

from backend.models import registry
from backend.models.access import check_model_access
from backend.models.cache import ModelCache, shared_cache
from backend.models.device import DeviceInfo
from backend.models.loader import LoadedModel
from backend.text_safety import plain_markdown
from pages.components.auth import current_owner


@st.cache_resource(show_spinner=False)
def model_cache() -> ModelCache:
    """The shared cache; models are never mutated per request (options go per call)."""
    return shared_cache()


def current_device() -> DeviceInfo:
    """The device every cached model loads onto, chosen once per process by the cache."""
    return model_cache().device


def get_model(task: str, model_ref: str) -> LoadedModel:
    """Load (or reuse) a model with a spinner; raises ShowcaseError subclasses.

    A folder in another signed-in user's workspace is refused before anything is loaded, so typing
    the path of someone else's run folder into a model box does not open their model.
    """
    check_model_access(model_ref, current_owner())
    with st.spinner(f"Loading {plain_markdown(registry.display_name(model_ref))}…"):
        return model_cache().get(task, model_ref)
