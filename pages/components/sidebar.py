"""The sidebar every page shares: compute device and loaded models (the language switch is app.py's)."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from backend import model_registry
from backend.config import Settings, get_settings
from backend.i18n import _
from backend.models.resolve import catalogue, endpoints
from backend.models.resolve.device import DeviceInfo
from backend.models.resolve.plan import demo_dtype
from backend.text_safety import plain_markdown
from pages.components.models import (
    current_device,
    device_name,
    hidden_line,
    model_cache,
    readiness_line,
    shown_loaded,
)


def _precision(device: DeviceInfo, settings: Settings) -> str:
    dtype = demo_dtype(device, settings)
    if device.half_dtype:
        return _("{dtype} on GPU").format(dtype=dtype)
    if dtype == "bfloat16":
        # The "auto" setting picks bfloat16 only where the CPU computes it natively.
        if settings.cpu_bfloat16 == "auto":
            return _("bfloat16 demos (this CPU computes it natively)")
        return _("bfloat16 demos (set)")
    return dtype


def show_sidebar(slot: DeltaGenerator | None = None, list_models: bool = True) -> None:
    """Device in use, offline status, and the models currently held in memory.

    Args:
        slot: a sidebar container reserved before the page ran, so the list of loaded models
            includes the one the page just loaded (default: append to the sidebar).
        list_models: False on a page whose models must stay hidden (the blind arena): neither the
            loaded models nor the models the demos would answer on are named.
    """
    settings = get_settings()
    device = current_device()
    with slot if slot is not None else st.sidebar:
        st.caption(_("Compute"))
        icon = ":material/memory:" if device.kind != "cpu" else ":material/developer_board:"
        st.markdown(f"{icon} **{device_name(device.name)}**  \n{_precision(device, settings)}")
        if device.note:
            st.caption(device.note)
        for endpoint in settings.endpoints:
            st.caption(
                ":material/dns: "
                + _("Model server {name}: {shown_model} ({task})").format(
                    name=plain_markdown(endpoint.name),
                    shown_model=plain_markdown(endpoints.shown_model(endpoint, settings)),
                    task=catalogue.task_title(endpoint.task),
                )
            )
        if settings.offline:
            st.caption(":material/cloud_off: " + _("Offline mode: models from the models folder (LSM_MODELS_DIR)"))
        st.caption(f":material/fact_check: {plain_markdown(readiness_line())}")
        if not list_models:
            st.caption(
                ":material/visibility_off: "
                + _("Loaded models are not listed here: they would name the hidden models.")
            )
            return
        loaded, hidden = shown_loaded()
        used = model_cache().used_bytes() / 2**20
        st.caption(
            _("Loaded models ({used:,.0f} of {model_memory_mb:,} MB)").format(
                used=used, model_memory_mb=settings.model_memory_mb
            )
        )
        if not loaded and not hidden:
            st.caption(_("None yet: a model loads on first use."))
        if hidden:
            st.caption(":material/visibility_off: " + hidden_line(hidden))
        for item in reversed(loaded):
            st.markdown(
                _("- {display_name} · {task} · {memory_mb:,.0f} MB").format(
                    display_name=plain_markdown(model_registry.display_name(item.model_ref)),
                    task=catalogue.task_title(item.task),
                    memory_mb=item.memory_mb,
                )
            )
