"""Text generation with a chat model tuned in the studio: "Compare with base" streams both replies."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend import config
from backend.inference import text_generation
from backend.jobs.store import SUCCEEDED, Job, JobStore
from backend.models.resolve import catalogue
from tests.support.demo_pages import texts

PAGE = "pages/demos/text_generation.py"
BASE = "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.fixture
def tuned_model(tmp_path, monkeypatch, settings):
    """A succeeded chat-tuning job recording a model folder and its base, in a private state folder."""
    monkeypatch.setenv("LSM_STATE_DIR", str(tmp_path / "state"))
    config.get_settings.cache_clear()
    local = config.get_settings()
    run_dir = local.runs_dir / "job-chat"
    (run_dir / "model").mkdir(parents=True)
    (run_dir / "model" / "config.json").write_text("{}")
    store = JobStore(settings=local)
    store.create(Job("job-chat", "chat", "chat", str(run_dir), title="Marker bot", method="lora", base_model=BASE))
    artefacts = {"model_dir": str(run_dir / "model"), "model_task": catalogue.TEXT_GENERATION, "base_model": BASE}
    store.finish("job-chat", SUCCEEDED, artefacts=artefacts)
    yield str(run_dir / "model")
    monkeypatch.undo()
    config.get_settings.cache_clear()


def test_compare_with_base_streams_both_replies_side_by_side(open_page, fake_model, tuned_model, monkeypatch):
    from tests.ui.demos.test_text_generation_page import FakeStream

    replies = iter([["Ahoy! ", "Tuned."], ["Plain ", "base."]])
    asked = []

    def stream_reply(loaded, messages, options, stop_event=None):
        asked.append(fake_model.requests[-1][1])
        return FakeStream(next(replies))

    monkeypatch.setattr(text_generation, "stream_reply", stream_reply)
    app = open_page(PAGE)
    # Offline, with no catalogue chat model downloaded, the picker opens on the one that answers.
    assert app.selectbox(key="text_generation.model").value == tuned_model
    default = catalogue.default_model(catalogue.TEXT_GENERATION).hub_id
    app.selectbox(key="text_generation.model").set_value(default).run()
    assert not [t for t in app.toggle if t.key == "text_generation.compare"]  # a catalogue model has no base
    app.selectbox(key="text_generation.model").set_value(tuned_model).run()
    app.toggle(key="text_generation.compare").set_value(True).run()
    app.chat_input(key="text_generation.prompt").set_value("Hi").run()
    assert not app.exception, [e.value for e in app.exception]
    assert asked == [tuned_model, BASE]
    assistant = [m for m in app.chat_message if m.name == "assistant"][0]
    assert [m.value for m in assistant.markdown] == ["Ahoy! Tuned.", "Plain base."]
    assert "Tuned model" in texts(app, "caption") and "Base model" in texts(app, "caption")


def test_compare_with_base_talks_with_the_system_prompt_the_model_was_trained_with(
    open_page, fake_model, tuned_model, monkeypatch
):
    from backend.model_registry import write_manifest
    from tests.ui.demos.test_text_generation_page import FakeStream

    trained = "You are the shop assistant of Acme. Answer briefly."
    write_manifest(Path(tuned_model), catalogue.TEXT_GENERATION, "Marker bot", "now", system_prompt=trained)
    systems = []

    def stream_reply(loaded, messages, options, stop_event=None):
        systems.append([m.content for m in messages if m.role == "system"])
        return FakeStream(["Fine."])

    monkeypatch.setattr(text_generation, "stream_reply", stream_reply)
    app = open_page(PAGE)
    app.selectbox(key="text_generation.model").set_value(tuned_model).run()
    app.toggle(key="text_generation.compare").set_value(True).run()
    [box] = [box for box in app.text_input if box.label == "System prompt"]
    assert box.value == trained
    app.chat_input(key="text_generation.prompt").set_value("Do you ship to Oslo?").run()
    assert not app.exception, [e.value for e in app.exception]
    assert systems == [[trained], [trained]]  # the tuned model and its base alike

    box.input("Be terse.").run()  # the user's own prompt wins
    app.chat_input(key="text_generation.prompt").set_value("And to Bergen?").run()
    assert systems[-2:] == [["Be terse."], ["Be terse."]]


def test_a_stopped_pair_continues_each_half_where_it_stopped(open_page, fake_model, tuned_model, monkeypatch):
    from tests.ui.demos.test_text_generation_page import FakeStream

    replies = iter([(["Ahoy", " there"], True), (["Plain", " base"], False), ([" matey."], False), ([" text."], False)])
    asked = []

    def stream_reply(loaded, messages, options, stop_event=None):
        asked.append((fake_model.requests[-1][1], [(m.role, m.content) for m in messages if m.role != "system"]))
        chunks, interrupt = next(replies)
        return FakeStream(chunks, interrupt)

    monkeypatch.setattr(text_generation, "stream_reply", stream_reply)
    app = open_page(PAGE)
    app.selectbox(key="text_generation.model").set_value(tuned_model).run()
    app.toggle(key="text_generation.compare").set_value(True).run()
    app.chat_input(key="text_generation.prompt").set_value("Hi").run()
    app.button(key="text_generation.stop").click().run()
    # Without the base model on the page, the pair can be regenerated but not continued.
    app.toggle(key="text_generation.compare").set_value(False).run()
    keys = [button.key for button in app.button]
    assert "text_generation.regenerate" in keys and "text_generation.continue" not in keys
    app.toggle(key="text_generation.compare").set_value(True).run()
    app.button(key="text_generation.continue").click().run()
    assert not app.exception, [e.value for e in app.exception]
    # Each model is given its own half as the open turn, after the same question.
    assert asked[2:] == [
        (tuned_model, [("user", "Hi"), ("assistant", "Ahoy there")]),
        (BASE, [("user", "Hi"), ("assistant", "Plain base")]),
    ]
    history = app.session_state["text_generation.history"]
    assert [(entry["role"], entry["content"], entry.get("base_reply")) for entry in history] == [
        ("user", "Hi", None),
        ("assistant", "Ahoy there matey.", "Plain base text."),
    ]
    assistant = [m for m in app.chat_message if m.name == "assistant"][0]
    assert [m.value for m in assistant.markdown] == ["Ahoy there matey.", "Plain base text."]
