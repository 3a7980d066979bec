"""Every registered page runs without an exception."""

import pytest
from streamlit.testing.v1 import AppTest

from pages.components.navigation import PAGES
from tests.support.paths import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")


@pytest.mark.parametrize("page", [p.path for p in PAGES])
def test_page_runs_without_exception(page):
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    app.switch_page(page)
    app.run()
    assert not app.exception, [e.value for e in app.exception]


def test_home_links_every_other_page():
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    markdown = " ".join(str(block.value) for block in app.markdown)
    assert "Large Model Showcase" in " ".join(t.value for t in app.title)
    assert "Demos" in markdown or "Demos" in " ".join(h.value for h in app.subheader) or len(PAGES) <= 2


def test_sidebar_shows_device():
    app = AppTest.from_file(APP, default_timeout=60).run()
    sidebar_text = " ".join(str(m.value) for m in app.sidebar.markdown)
    assert "CPU" in sidebar_text


def test_home_says_where_to_go_next_from_what_can_answer_now():
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    # Nothing is downloaded in the test session: the line says no demo can answer, and the link under it
    # leads to the page that says what each demo needs.
    assert "No demo can answer now." in " ".join(str(info.value) for info in app.info)
    links = [link for link in app.get("page_link") if link.proto.label == "What each demo needs, and how to prepare it"]
    assert len(links) == 1 and links[0].proto.page.endswith("models")
