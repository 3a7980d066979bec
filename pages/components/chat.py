"""A chat kept in the session: the conversation so far, a streamed reply with a Stop button, Clear.

The history lives in ``st.session_state[f"{key}.history"]`` as dicts (role, content, and for
replies the ``GenerationResult`` or a ``stopped`` mark). A Stop click reruns the page while the
reply streams; the text so far survives in ``f"{key}.partial"`` and is added to the history,
marked as stopped, on that rerun.

The reply is drawn a few times a second, not once per token (``ScreenUpdates``): each drawing
re-sends and re-renders the whole reply, and per-token drawing made the page show fewer tokens a
second than the model produced (``benchmarks/page_speed.py`` measures both). A local reply wakes
this thread only at those drawing times (``ReplyStream.paced``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from backend.inference.screen_updates import DEFAULT_INTERVAL_SECONDS, ScreenUpdates
from backend.inference.text_generation import ChatMessage, ReplyStream
from pages.components.errors import user_errors

# Given the conversation and a stop event, start a reply; None when it cannot (a message was shown).
StartReply = Callable[[list[ChatMessage], threading.Event], ReplyStream | None]


def _screen_updates(stream: Iterable[str]) -> ScreenUpdates:
    """The reply's drawings. A reply generated here hands its text over at the drawing times
    itself (``ReplyStream.paced``), so this thread sleeps between drawings rather than waking for
    every token; other streams (a remote server's) are batched as they arrive."""
    paced = getattr(stream, "paced", None)
    if paced is not None:
        return ScreenUpdates(paced(DEFAULT_INTERVAL_SECONDS), interval=0)
    return ScreenUpdates(stream)


def _draw_stream(stream: Iterable[str], key: str) -> None:
    """Draw the reply as it grows; the text so far stays in st.session_state[key] if a Stop click
    interrupts the run (the interruption surfaces as an exception at a drawing call)."""
    shown = st.empty()
    updates = _screen_updates(stream)
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
            if entry.get("base_reply") is not None:
                _show_pair(entry)
            else:
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


# "Compare with base": the tuned model's reply and its base model's, streamed side by side. The
# conversation goes on with the tuned model's replies; the base model's are kept beside them.
_TUNED, _BASE = "Tuned model", "Base model"


def _show_pair(entry: dict[str, Any]) -> None:
    tuned, base = st.columns(2)
    tuned.caption(_TUNED)
    tuned.markdown(entry["content"] or "_(empty reply)_")
    base.caption(_BASE)
    base.markdown(entry["base_reply"] or "_(empty reply)_")


def _stream_both(streams: list[ReplyStream], places: list[DeltaGenerator], key: str) -> list[str]:
    """Stream the replies into their places together, a chunk of each in turn (both models generate
    at the same time in their own threads); the tuned reply's text so far survives a Stop click."""
    texts = ["" for _ in streams]
    iterators = [iter(stream) for stream in streams]
    active = list(range(len(iterators)))
    st.session_state[f"{key}.partial"] = ""
    while active:
        for index in list(active):
            try:
                texts[index] += next(iterators[index])
            except StopIteration:
                active.remove(index)
                continue
            places[index].markdown(texts[index])
            if index == 0:
                st.session_state[f"{key}.partial"] = texts[0]
    return texts


def answer_side_by_side(
    conversation: DeltaGenerator, key: str, prompt: str, start_tuned: StartReply, start_base: StartReply
) -> None:
    """Like ``answer``, with the base model's reply streamed beside the tuned model's."""
    history: list[dict[str, Any]] = st.session_state.setdefault(f"{key}.history", [])
    with conversation.chat_message("user"):
        st.markdown(prompt)
    asked = {"role": "user", "content": prompt}
    history.append(asked)
    with conversation.chat_message("assistant"), user_errors():
        stop = threading.Event()
        turns = [ChatMessage(entry["role"], entry["content"]) for entry in history if entry["content"].strip()]
        tuned = start_tuned(turns, stop)
        base = start_base(turns, stop) if tuned is not None else None
        if tuned is not None and base is not None:
            st.button("Stop", key=f"{key}.stop", icon=":material/stop_circle:", on_click=stop.set)
            left, right = st.columns(2)
            left.caption(_TUNED)
            right.caption(_BASE)
            texts = _stream_both([tuned, base], [left.empty(), right.empty()], key)
            st.session_state.pop(f"{key}.partial", None)
            result = tuned.result
            history.append(
                {
                    "role": "assistant",
                    "content": result.text if result else texts[0],
                    "result": result,
                    "base_reply": base.result.text if base.result else texts[1],
                }
            )
            st.rerun()
    history.remove(asked)
