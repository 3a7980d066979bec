"""Models: is every model ready for a demo, the hub as it really is, what is loaded, and offline use."""

import streamlit as st

from backend.config import get_settings
from backend.i18n import _, translated_headers
from backend.inference import readiness
from backend.models.fetch import hub
from backend.models.resolve import catalogue
from backend.models.status import catalogue_rows, checked_rows, engine_rows
from backend.text_safety import plain_markdown
from pages.components.auth import OPERATOR_ACTIONS_SIGN_IN, may_run_operator_actions
from pages.components.models import (
    current_device,
    hidden_by_open_votes,
    hidden_line,
    loaded_row,
    model_cache,
    readiness_line,
    show_prepare_defaults,
    shown_loaded,
)

settings = get_settings()
device = current_device()
operator = may_run_operator_actions()

st.title(_("Models"))
st.caption(_("Every demo runs a model from this catalogue, or a local model folder you point it at."))

state = hub.hub_state(settings)
left, middle, right = st.columns(3)
left.metric(_("Device"), device.kind.upper(), help=device.name)
middle.metric(_("Model memory budget"), _("{memory_mb:,} MB").format(memory_mb=settings.model_memory_mb))
# The metric's value is one word so it is never cut off; the time goes in the caption under it.
hub_word = {hub.OFFLINE: _("offline mode"), hub.UNREACHABLE: _("unreachable")}.get(state.kind, _("reachable"))
right.metric(_("Hugging Face Hub"), hub_word, help=f"{state.endpoint} {state.reason}".strip())
if state.kind == hub.UNREACHABLE:
    right.caption(state.label().capitalize())
if state.kind == hub.UNREACHABLE and st.button(
    _("Check the hub again"), key="models.hub_refresh", icon=":material/refresh:"
):
    hub.hub_state(settings, refresh=True)
    st.rerun()

st.subheader(_("Ready for a demo?"))
st.caption(_("Downloaded: on this server's disk. Can load now: downloaded, or the hub answers. Loaded: in memory."))
# The models an open blind vote holds are left out of every list here until the vote.
loaded, hidden_count = shown_loaded()
loaded_keys = {(item.task, item.model_ref) for item in loaded}
st.markdown(plain_markdown(readiness_line()))
st.dataframe(
    translated_headers(row.to_row() for row in readiness.readiness(loaded_keys, settings)),
    hide_index=True,
    width="stretch",
)
if operator:
    show_prepare_defaults()

st.subheader(_("Loaded now"))
if hidden_count:
    st.caption(":material/visibility_off: " + hidden_line(hidden_count))
if loaded:
    st.dataframe(translated_headers(loaded_row(item) for item in loaded), hide_index=True, width="stretch")
    if operator and st.button(_("Unload all models"), key="models.unload_all", icon=":material/delete_sweep:"):
        model_cache().clear()
        st.rerun()
elif not hidden_count:
    st.info(
        _(
            "No model is loaded. Models load on first use and the least recently used is dropped when the budget is full."
        )
    )

if not operator:
    st.caption(OPERATOR_ACTIONS_SIGN_IN)

# Native engines (issue 23): each runs in its own process; a crash or hang there is shown here.
hidden_models = hidden_by_open_votes()
# A native engine's row names its model: with the open pairs unreadable, none is shown.
shown_engines = [] if hidden_models is None else engine_rows()
if engines := [row for row in shown_engines if not any(ref in str(row["model"]) for ref in hidden_models or ())]:
    st.subheader(_("Native engines"))
    st.caption(_("llama.cpp runs in its own process: a crash ends only that process, and torch finishes the reply."))
    st.dataframe(translated_headers(engines), hide_index=True, width="stretch")

# The ``auto`` engine setting (issue 30): what each model's check chose on this machine, and why not the rest.
if checked := checked_rows(settings):
    st.subheader(_("Checked engines"))
    st.caption(
        _(
            "Each model's faster paths were checked against torch float32 on this machine; it runs on the "
            "fastest that agreed. Set LSM_CPU_ENGINE=torch to turn this off."
        )
    )
    st.dataframe(checked, hide_index=True, width="stretch")

st.subheader(_("Catalogue"))
task = st.segmented_control(
    _("Task"),
    catalogue.TASKS,
    format_func=catalogue.task_title,
    default=catalogue.SENTIMENT,
    key="models.task",
)
if task:
    st.dataframe(translated_headers(catalogue_rows(task, settings, device)), hide_index=True, width="stretch")

with st.expander(_("Running without the Hugging Face Hub (for whoever runs this server)")):
    offline_step = (
        _("Offline mode is already on here.")
        if settings.offline
        else _("Then set `LSM_OFFLINE=1` (or `HF_HUB_OFFLINE=1`) and `LSM_MODELS_DIR` to that folder.")
    )
    st.markdown(
        _(
            """On a connected machine, fetch the default models into the models folder, then copy that folder
to the offline server:

```bash
python -m backend.models download            # every default model
python -m backend.models download sentiment  # or only some tasks; --all adds the alternatives
python -m backend.models check               # download, load and run one example of each default
```

{offline_step} Any model folder inside it (with
`config.json` and safetensors weights) can be typed into a demo's model box by its folder name."""
        ).format(offline_step=offline_step)
    )
