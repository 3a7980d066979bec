"""The language switch: the address decides (?lang=), the sidebar control changes it, and every
screen's navigation, titles and sidebar follow, keeping what the person entered."""

from streamlit.testing.v1 import AppTest

from tests.support.paths import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")


def _sidebar_text(app: AppTest) -> str:
    return " ".join(str(block.value) for block in [*app.sidebar.markdown, *app.sidebar.caption])


def test_the_address_opens_the_app_in_chinese():
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params["lang"] = "zh"
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert [t.value for t in app.title] == ["大模型展示平台"]
    assert "计算资源" in _sidebar_text(app)
    assert {"概览", "市场", "演示", "微调"} <= {h.value for h in app.subheader}


def test_without_a_choice_english_is_shown_and_written_to_the_address():
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert [t.value for t in app.title] == ["Large Model Showcase"]
    assert app.query_params["lang"] == "en"


def test_an_unknown_language_in_the_address_falls_back_to_english():
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params["lang"] = "<b>fr</b>"
    app.run()
    assert [t.value for t in app.title] == ["Large Model Showcase"]


def test_the_sidebar_switch_changes_the_language_and_the_address():
    app = AppTest.from_file(APP, default_timeout=60).run()
    switch = app.sidebar.get("button_group")[0]
    switch.set_value("zh").run()
    assert not app.exception, [e.value for e in app.exception]
    assert [t.value for t in app.title] == ["大模型展示平台"]
    assert app.query_params["lang"] == "zh"
    app.sidebar.get("button_group")[0].set_value("en").run()
    assert [t.value for t in app.title] == ["Large Model Showcase"]


def _switch(app: AppTest, language: str) -> AppTest:
    app.sidebar.get("button_group")[0].set_value(language).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_switching_keeps_what_was_typed_and_picked_on_a_page():
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.switch_page("pages/demos/translation.py").run()
    app.text_area(key="translation.text").input("The train leaves at eight.")
    app.selectbox(key="translation.direction").set_value("en-de")
    app.radio(key="translation.decoding").set_value(4).run()
    _switch(app, "zh")
    assert [t.value for t in app.title] == ["翻译"]
    assert app.text_area(key="translation.text").value == "The train leaves at eight."
    assert app.selectbox(key="translation.direction").value == "en-de"
    assert "英语 → 德语" in app.selectbox(key="translation.direction").options
    assert app.radio(key="translation.decoding").value == 4
    assert app.slider(key="translation.beams").label == "束宽"


def test_the_untouched_system_prompt_follows_the_language_and_a_written_one_stays():
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.switch_page("pages/demos/text_generation.py").run()
    assert app.text_input(key="text_generation.system").value.startswith("You are a helpful assistant")
    _switch(app, "zh")
    assert app.text_input(key="text_generation.system").value == "你是一个乐于助人的助手。请用提问所用的语言回答。"
    app.text_input(key="text_generation.system").input("Answer like a pirate.").run()
    _switch(app, "en")
    assert app.text_input(key="text_generation.system").value == "Answer like a pirate."


def test_a_pick_is_sent_again_under_its_new_label_when_the_language_changes():
    # The browser holds a picker's choice by its label: unless the app sends the pick again, it
    # keeps showing the old language's label (seen on the demos' model picker).
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.switch_page("pages/demos/translation.py").run()
    app.selectbox(key="translation.direction").set_value("en-de").run()
    _switch(app, "zh")
    picker = app.selectbox(key="translation.direction")
    assert picker.value == "en-de"
    assert picker.proto.set_value and picker.proto.raw_value == "英语 → 德语"
