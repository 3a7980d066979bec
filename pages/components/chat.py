"""A chat kept in the session: the conversation so far, a streamed reply with a Stop button, Clear.

The history lives in ``st.session_state[f"{key}.history"]`` as dicts (role, content, and for
replies the ``GenerationResult`` or a ``stopped`` mark). A Stop click reruns the page while the
reply streams; the text so far survives in ``f"{key}.partial"`` and is added to the history,
marked as stopped, on that rerun.

The reply is drawn a few times a second, not once per token (``ScreenUpdates``): each drawing
re-sends and re-renders the whole reply, and per-token drawing made the page show fewer tokens a
second than the model produced (``benchmarks/page_speed.py`` measures both).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from backend.inference.screen_updates import ScreenUpdates
from backend.inference.text_generation import ChatMessage, ReplyStream
from pages.components.errors import user_errors

# Given the conversation and a stop event, start a reply; None when it cannot (a message was shown).
StartReply = Callable[[list[ChatMessage], threading.Event], ReplyStream | None]


def _draw_stream(chunks: Iterable[str], key: str) -> None:
    """Draw the reply as it grows; the text so far stays in st.session_state[key] if a Stop click
    interrupts the run (the interruption surfaces as an exception at a drawing call)."""
    shown = st.empty()
    updates = ScreenUpdates(chunks)
    try:
        for text in updates:
            shown.markdown(text)
    finally:
        st.session_state[key] = updates.text


def load_history(key: str) -> list[dict[str, Any]]:
    """The conversation so far, with a reply cut short by the Stop button kept and marked as stopped."""
    history: list[dict[str, Any]] = st.session_state.setdefault(f"{key}.history", [])
    partial = st.session_state.pop(f"{key}.partial", None)
    if partial is not None:
        history.append({"role": "assistant", "content": partial, "stopped": True})
    return history


def _clear(key: str) -> None:
    st.session_state[f"{key}.history"] = []
    st.session_state.pop(f"{key}.partial", None)


def show_clear_button(key: str) -> None:
    """A button that empties the conversation (shown only when there is one)."""
    if st.session_state.get(f"{key}.history"):
        st.button("Clear conversation", key=f"{key}.clear", icon=":material/delete:", on_click=_clear, args=(key,))


def show_conversation(
    conversation: DeltaGenerator, history: list[dict[str, Any]], show_stats: Callable[[dict[str, Any]], None]
) -> None:
    """Every turn as a chat message; ``show_stats`` adds a reply's footer under it."""
    for entry in history:
        with conversation.chat_message(entry["role"]):
            st.markdown(entry["content"] or "_(empty reply)_")
            show_stats(entry)


def answer(conversation: DeltaGenerator, key: str, prompt: str, start_reply: StartReply) -> None:
    """Show the user's message, stream the reply under it with a Stop button, keep both, rerun.

    When no reply comes (the model could not load, the message was refused), the message is
    dropped again, so a refused message does not poison the conversation.
    """
    history: list[dict[str, Any]] = st.session_state.setdefault(f"{key}.history", [])
    with conversation.chat_message("user"):
        st.markdown(prompt)
    asked = {"role": "user", "content": prompt}
    history.append(asked)
    with conversation.chat_message("assistant"), user_errors():
        stop = threading.Event()
        turns = [ChatMessage(entry["role"], entry["content"]) for entry in history if entry["content"].strip()]
        stream = start_reply(turns, stop)
        if stream is not None:
            st.button("Stop", key=f"{key}.stop", icon=":material/stop_circle:", on_click=stop.set)
            _draw_stream(stream, f"{key}.partial")
            st.session_state.pop(f"{key}.partial", None)
            result = stream.result
            history.append({"role": "assistant", "content": result.text if result else "", "result": result})
            st.rerun()
    # Reached only when there was no reply: st.rerun and a Stop click leave the block by exception.
    history.remove(asked)
