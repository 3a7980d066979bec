"""Models: the catalogue per task, the device, what is loaded, and how to run offline."""

import streamlit as st

from backend.config import get_settings
from backend.models import catalog
from backend.models.status import catalogue_rows
from pages.components.models import current_device, model_cache

settings = get_settings()
device = current_device()

st.title("Models")
st.caption("Every demo runs a model from this catalogue, or a local model folder you point it at.")

left, middle, right = st.columns(3)
left.metric("Device", device.kind.upper(), help=device.name)
middle.metric("Model memory budget", f"{settings.model_memory_mb:,} MB")
right.metric("Hub access", "offline" if settings.offline else "online")

st.subheader("Loaded now")
loaded = model_cache().loaded()
if loaded:
    st.dataframe([item.__dict__ for item in loaded], hide_index=True, width="stretch")
    if st.button("Unload all models", key="models.unload_all", icon=":material/delete_sweep:"):
        model_cache().clear()
        st.rerun()
else:
    st.info(
        "No model is loaded. Models load on first use and the least recently used is dropped when the budget is full."
    )

st.subheader("Catalogue")
task = st.segmented_control("Task", catalog.TASKS, default=catalog.SENTIMENT, key="models.task")
if task:
    st.dataframe(catalogue_rows(task, settings, device), hide_index=True, width="stretch")

st.subheader("Running without the Hugging Face Hub")
st.markdown(
    """
On a connected machine, fetch the default models into the models folder, then copy that folder
to the offline server:

```bash
python -m backend.models download            # every default model
python -m backend.models download sentiment  # or only some tasks; --all adds the alternatives
```

Then set `LSM_OFFLINE=1` (or `HF_HUB_OFFLINE=1`) and `LSM_MODELS_DIR` to that folder (the
server's own path is not shown here). Any model folder inside it (with `config.json` and
safetensors weights) can be typed into a demo's model box by its folder name.
"""
)
