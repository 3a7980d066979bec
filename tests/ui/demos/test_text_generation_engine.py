"""The chat page on the llama.cpp engine: the engine's process killed mid-reply leaves the page
alive, the reply finished by torch with the reason under it, and the next reply on a restarted
engine. The model is real (a tiny chat model loaded with the llama.cpp setting); the kill is a
real SIGSEGV sent to the engine's process."""

from __future__ import annotations

import dataclasses
import os
import signal

import pytest

from backend.models.engines import engine_process
from backend.models.loader import load_model
from backend.models.resolve import catalogue, engine_choice
from tests.support import tiny_models
from tests.support.demo_pages import texts

pytest.importorskip("llama_cpp", reason="llama-cpp-python is installed by the test command (scripts/test.sh)")

PAGE = "pages/demos/text_generation.py"


@pytest.fixture
def engine_chat(settings, monkeypatch, tmp_path):
    folder = tiny_models.build_chat_model_of(settings.models_dir / "llama-cpp-page" / tmp_path.name, "qwen2")
    chosen = dataclasses.replace(settings, cpu_engine="text-generation=llama.cpp")
    loaded = load_model(catalogue.TEXT_GENERATION, str(folder), chosen)
    assert loaded.engine == engine_choice.LLAMA_CPP
    process = loaded.model.process
    process.restart_backoff_s = 0.0
    monkeypatch.setattr("pages.components.models.get_model", lambda task, ref: loaded)
    yield loaded, process
    engine_process.forget(process)


def test_an_engine_crash_mid_reply_leaves_the_page_alive_and_the_next_reply_working(
    open_page, engine_chat, monkeypatch
):
    loaded, process = engine_chat
    forwards = []
    original_forward = process.forward

    def forward_then_crash(*args, **kwargs):
        # The third token's pass finds the engine's process gone: it segfaulted mid-reply.
        forwards.append(process.pid)
        if len(forwards) == 3:
            os.kill(process.pid, signal.SIGSEGV)
        return original_forward(*args, **kwargs)

    monkeypatch.setattr(process, "forward", forward_then_crash)
    app = open_page(PAGE)
    app.slider(key="text_generation.temperature").set_value(0.0).run()
    app.slider(key="text_generation.max_new_tokens").set_value(12).run()
    app.chat_input(key="text_generation.prompt").set_value("hello there").run()
    assert not app.exception, [e.value for e in app.exception]
    assert [m.name for m in app.chat_message] == ["user", "assistant"]
    captions = texts(app, "caption")
    assert "The llama.cpp engine crashed (SIGSEGV)" in captions and "torch finished this reply" in captions
    assert "tokens/s" in captions
    crashed_pid = forwards[0]

    app.chat_input(key="text_generation.prompt").set_value("and again").run()
    assert not app.exception, [e.value for e in app.exception]
    assert [m.name for m in app.chat_message] == ["user", "assistant", "user", "assistant"]
    assert texts(app, "caption").count("crashed (SIGSEGV)") == 1  # only the first reply's
    assert process.pid is not None and process.pid != crashed_pid
    assert forwards[-1] == process.pid  # the second reply ran on the restarted engine
