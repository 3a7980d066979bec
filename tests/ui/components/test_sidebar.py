"""The shared sidebar is drawn on every page, including pages that end early with st.stop()."""

from streamlit.testing.v1 import AppTest

from tests.support.paths import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")


def test_sidebar_survives_a_page_that_stops_early():
    # "Your market data" calls st.stop() until a table is uploaded.
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.switch_page("pages/market/your_data.py")
    app.run()
    assert not app.exception
    assert "Upload a table to start" in " ".join(info.value for info in app.info)
    sidebar_text = " ".join(str(m.value) for m in app.sidebar.markdown)
    assert "CPU" in sidebar_text


def test_sidebar_lists_the_model_the_page_loaded_on_this_run(tiny_model_paths):
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.switch_page("pages/demos/sentiment.py")
    app.run()
    app.selectbox(key="sentiment.model").select("__local_folder__").run()
    app.text_input(key="sentiment.model_folder").input(tiny_model_paths["sentiment"]).run()
    app.text_area(key="sentiment.text").input("I love this product").run()
    app.button(key="sentiment.run").click().run()
    assert not app.exception
    sidebar_text = " ".join(str(m.value) for m in app.sidebar.markdown)
    assert "CPU" in sidebar_text
    # Named by its place in the models folder, never by its absolute server path.
    assert "tiny/sentiment" in sidebar_text and tiny_model_paths["sentiment"] not in sidebar_text
