"""The sidebar every page shares: compute device and loaded models."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from backend.config import Settings, get_settings
from backend.models.device import DeviceInfo, cpu_computes_bfloat16, wants_cpu_bfloat16
from backend.server_paths import shown_path
from backend.text_safety import plain_markdown
from pages.components.models import current_device, model_cache


def _precision(device: DeviceInfo, settings: Settings) -> str:
    if device.half_dtype:
        return f"{device.half_dtype} on GPU"
    if device.kind == "cpu" and wants_cpu_bfloat16(settings.cpu_bfloat16):
        return "bfloat16 demos (this CPU computes it natively)" if cpu_computes_bfloat16() else "bfloat16 demos (set)"
    return "float32"


def show_sidebar(slot: DeltaGenerator | None = None) -> None:
    """Device in use, offline status, and the models currently held in memory.

    Args:
        slot: a sidebar container reserved before the page ran, so the list of loaded models
            includes the one the page just loaded (default: append to the sidebar).
    """
    settings = get_settings()
    device = current_device()
    with slot if slot is not None else st.sidebar:
        st.caption("Compute")
        icon = ":material/memory:" if device.kind != "cpu" else ":material/developer_board:"
        st.markdown(f"{icon} **{device.name}**  \n{_precision(device, settings)}")
        if device.note:
            st.caption(device.note)
        if settings.offline:
            st.caption(":material/cloud_off: Offline mode: models from the models folder (LSM_MODELS_DIR)")
        cache = model_cache()
        loaded = cache.loaded()
        used = cache.used_bytes() / 2**20
        st.caption(f"Loaded models ({used:,.0f} of {settings.model_memory_mb:,} MB)")
        if not loaded:
            st.caption("None yet: a model loads on first use.")
        for item in reversed(loaded):
            st.markdown(f"- {plain_markdown(shown_path(item.model_ref))} · {item.task} · {item.memory_mb:,.0f} MB")
