"""Entry point: page config, navigation over the screens in pages/, and the shared sidebar."""

import streamlit as st

from backend.i18n import _
from pages.components.auth import can_open, count_work_against_this_visitor, show_account_sidebar, show_sign_in
from pages.components.language import choose_language, show_language_switch
from pages.components.navigation import SECTIONS, pages_in
from pages.components.server_hooks import install_server_hooks
from pages.components.sidebar import show_sidebar
from pages.components.upload_budget import track_uploads_of_this_session

# First of all: every string of this run, navigation included, is in the language chosen here.
language = choose_language()
st.set_page_config(page_title=_("Large Model Showcase"), page_icon=":material/neurology:", layout="wide")
# Before any page is drawn: bounded uploads, no public metrics (pages/components/server_hooks.py).
install_server_hooks()

# Keyed by the section's English name (access rules name it); shown under its translated name.
navigation = {
    section: [
        st.Page(page.path, title=_(page.title), icon=page.icon, default=page.path == "pages/overview/home.py")
        for page in pages_in(section)
    ]
    for section in SECTIONS
    if pages_in(section)
}
# Every page listed: a collapsed list ends in Streamlit's own "View more", which it cannot translate.
current = st.navigation({_(section): pages for section, pages in navigation.items()}, expanded=True)
show_language_switch(language)
section, index = next((name, pages.index(current)) for name, pages in navigation.items() if current in pages)
entry = pages_in(section)[index]
# Drawn before the page runs (a page that calls st.stop() ends the run, and nothing is drawn after
# it), then redrawn in place afterwards, so it lists the models the page loaded on this run.
sidebar_slot = st.sidebar.empty()
show_sidebar(sidebar_slot.container(), list_models=not entry.hides_models)
show_account_sidebar()
# Protected pages (settings decide which) show the sign-in screen until the user signs in.
track_uploads_of_this_session()
count_work_against_this_visitor()
if can_open(section, entry.path):
    current.run()
else:
    show_sign_in(_(entry.title))
show_sidebar(sidebar_slot.container(), list_models=not entry.hides_models)
