"""Home: what the app shows, and a link to every screen."""

import streamlit as st

from backend.i18n import _
from backend.text_safety import plain_markdown
from pages.components.models import readiness_line
from pages.components.navigation import SECTIONS, pages_in

st.title(_("Large Model Showcase"))
st.markdown(
    _(
        "See large models at work and judge where they pay off. **Demos** run real Hugging Face "
        "models live — on a GPU where there is one, on the CPU otherwise — and report the device, "
        "latency and tokens of every answer. **Fine-tuning** trains a model on your own labelled data "
        "in a background job. **Market** charts cited public figures on AI adoption, investment and "
        "model scale, and maps industry use cases to the demos that show them."
    )
)

# What answers on this server now, before anyone clicks (the Models page prepares the rest).
st.info(plain_markdown(readiness_line()), icon=":material/fact_check:")
# The next step from that line, whatever it says: where each demo's model is checked and prepared.
st.page_link(
    "pages/overview/models.py", label=_("What each demo needs, and how to prepare it"), icon=":material/arrow_forward:"
)

for section in SECTIONS:
    entries = [page for page in pages_in(section) if page.path != "pages/overview/home.py"]
    if not entries:
        continue
    st.subheader(_(section))
    columns = st.columns(min(len(entries), 3))
    for index, page in enumerate(entries):
        with columns[index % len(columns)]:
            st.page_link(page.path, label=_(page.title), icon=page.icon)
            st.caption(_(page.blurb))
