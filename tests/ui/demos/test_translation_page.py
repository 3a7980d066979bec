"""The translation page: direction picker, examples that set the direction, decoding options."""

import pytest
from streamlit.testing.v1 import AppTest

from backend.config import PROJECT_ROOT
from backend.i18n import use_language
from backend.inference import batch, translation
from backend.inference.batch import BatchRequest
from backend.inference.footer import RunFooter
from backend.inference.translation import Translated, TranslationResult
from backend.jobs import supervisor
from backend.models.resolve import catalogue
from tests.support.demo_pages import texts
from tests.support.translation_marks import untranslated, wrapping_catalogue  # noqa: F401 - a fixture

PAGE = "pages/demos/translation.py"
APP = str(PROJECT_ROOT / "app.py")


def _fake_translate(calls):
    def translate_text(loaded, text, source, target, num_beams=1, progress=None):
        calls.append({"text": text, "source": source, "target": target, "beams": num_beams})
        progress(1, 1)
        sentences = [Translated(text, f"<{target}> {text}", 5, 6, False)]
        footer = RunFooter("CPU (test)", "org/stand-in", 80.0, 1, "sentence", 11)
        return TranslationResult(text, f"<{target}> {text}", sentences, source, target, num_beams, footer)

    return translate_text


def test_empty_state_and_directions(open_page):
    app = open_page(PAGE)
    assert "press **Translate**" in texts(app, "info")
    assert set(app.selectbox(key="translation.direction").options) >= {
        "English → Chinese",
        "Chinese → English",
        "English → German",
        "German → English",
        "English → French",
        "French → English",
    }


def test_chinese_example_switches_direction_and_uses_that_directions_model(open_page, fake_model, monkeypatch):
    calls = []
    monkeypatch.setattr(translation, "translate_text", _fake_translate(calls))
    app = open_page(PAGE)
    app.button(key="translation.example.1").click().run()
    assert not app.exception
    assert app.selectbox(key="translation.direction").value == "zh-en"
    assert calls[0]["source"] == "zh" and calls[0]["target"] == "en" and calls[0]["beams"] == 1
    assert calls[0]["text"].startswith("人工智能")
    assert fake_model.requests == [("translation", "Helsinki-NLP/opus-mt-zh-en")]
    shown = texts(app, "text")
    assert calls[0]["text"] in shown and f"<en> {calls[0]['text']}" in shown
    assert "80 ms" in texts(app, "caption") and "1 sentence ·" in texts(app, "caption")


def test_beam_search_option_is_passed_with_the_chosen_beams(open_page, fake_model, monkeypatch):
    calls = []
    monkeypatch.setattr(translation, "translate_text", _fake_translate(calls))
    app = open_page(PAGE)
    app.radio(key="translation.decoding").set_value("Beam search (more fluent)").run()
    app.slider(key="translation.beams").set_value(5).run()
    app.text_area(key="translation.text").input("Good morning.").run()
    app.button(key="translation.run").click().run()
    assert calls == [{"text": "Good morning.", "source": "en", "target": "zh", "beams": 5}]


def test_swap_reverses_the_direction(open_page):
    app = open_page(PAGE)
    app.selectbox(key="translation.direction").select("en-de").run()
    app.button(key="translation.swap").click().run()
    assert app.selectbox(key="translation.direction").value == "de-en"


def test_real_tiny_translator_through_the_folder_box(open_page, tiny_model_paths):
    app = open_page(PAGE)
    app.selectbox(key="translation.en-zh.model").select("__local_folder__").run()
    app.text_input(key="translation.en-zh.model_folder").input(tiny_model_paths["translation"]).run()
    app.text_area(key="translation.text").input("Hello world. This is fine!").run()
    app.button(key="translation.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "2 sentences" in texts(app, "caption")
    assert len(app.text) == 2 and app.text[0].value == "Hello world. This is fine!"


def test_a_failed_run_does_not_leave_the_last_translation_under_its_error(open_page, tiny_model_paths):
    app = open_page(PAGE)
    app.selectbox(key="translation.en-zh.model").select("__local_folder__").run()
    app.text_input(key="translation.en-zh.model_folder").input(tiny_model_paths["translation"]).run()
    app.text_area(key="translation.text").input("Hello world.").run()
    app.button(key="translation.run").click().run()
    assert len(app.text) == 2
    app.text_input(key="translation.en-zh.model_folder").input("no-such-translator").run()
    app.button(key="translation.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "No model folder" in texts(app, "error")
    assert not app.text and "2 sentences" not in texts(app, "caption")


def test_offline_default_model_shows_the_runtimes_message(open_page):
    app = open_page(PAGE)
    app.button(key="translation.example.0").click().run()
    assert not app.exception
    assert "Helsinki-NLP/opus-mt-en-zh is not downloaded" in texts(app, "error")


def test_batch_table_is_queued_with_the_chosen_direction_and_decoding(open_page, monkeypatch):
    monkeypatch.setattr(supervisor, "ensure_worker_running", lambda *args, **kwargs: False)
    app = open_page(PAGE)
    app.selectbox(key="translation.direction").set_value("zh-en").run()
    app.radio(key="translation.decoding").set_value("Beam search (more fluent)").run()
    csv = "text\n你好\n谢谢\n".encode()
    app.file_uploader(key="translation.batch_file").set_value(("phrases.csv", csv, "text/csv")).run()
    app.button(key="translation.batch_run").click().run()
    assert not app.exception
    job = batch.list_batch_jobs("", catalogue.TRANSLATION)[0]
    request = BatchRequest.from_params(job.params)
    assert (request.target_language, request.num_beams, request.column) == ("en", 4, "text")
    assert request.model_ref == catalogue.translation_model("zh", "en").hub_id
    assert "Waiting for the worker" in texts(app, "info")


def test_empty_text_gets_a_message_before_any_model_is_asked_for(open_page, no_model):
    app = open_page(PAGE)
    app.text_area(key="translation.text").input("   ").run()
    app.button(key="translation.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "Type some text first." in texts(app, "warning")


def test_a_text_not_in_the_source_language_gets_a_notice_beside_the_translation(open_page, fake_model, monkeypatch):
    monkeypatch.setattr(translation, "translate_text", _fake_translate([]))
    app = open_page(PAGE)
    app.text_area(key="translation.text").input("质量太差了，用了两天就坏了").run()  # en→zh is the default
    app.button(key="translation.run").click().run()
    assert "handles English only" in texts(app, "warning") and "looks Chinese" in texts(app, "warning")
    app.text_area(key="translation.text").input("Good morning.").run()
    app.button(key="translation.run").click().run()
    assert "handles English only" not in texts(app, "warning")


@pytest.mark.usefixtures("wrapping_catalogue")
def test_an_answer_in_chinese_shows_only_translated_strings_and_no_finished_progress_bar(fake_model, monkeypatch):
    monkeypatch.setattr(translation, "translate_text", _fake_translate([]))
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params["lang"] = "zh"
    app.run()
    app.switch_page(PAGE)
    app.query_params["lang"] = "zh"
    app.run()
    # The test client formats the pickers' values on this thread, which must speak the page's language.
    with use_language("zh"):
        app.text_area(key="translation.text").input("Good morning.").run()
        app.button(key="translation.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "<zh> Good morning." in texts(app, "text")
    # The sentence-by-sentence table's headers included, and the decoding named in its expander.
    assert untranslated(app) == []
    assert "‹greedy›" in app.expander[-1].label
    # Its work done, the progress bar is gone rather than a full bar above the answer.
    assert len(app.get("progress")) == 0
