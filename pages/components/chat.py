"""A chat kept in the session: the conversation so far, a streamed reply with a Stop button, Clear.

The history lives in ``st.session_state[f"{key}.history"]`` as dicts (role, content, and for
replies the ``GenerationResult`` or a ``stopped`` mark). A question goes in together with its
reply, marked ``pending`` and filled in as it streams, so whatever ends the run mid-reply (a Stop
click, leaving the page, a closed tab) leaves the text so far in the history; the next run marks
it as stopped, and the reply can then be continued (the model goes on writing that same reply,
see ``continue_reply``) or regenerated. The history never holds a question without its answer
state, nor a turn the user did not write.

The reply is drawn a few times a second, not once per token (``ScreenUpdates``): each drawing
re-sends and re-renders the whole reply, and per-token drawing made the page show fewer tokens a
second than the model produced (``benchmarks/page_speed.py`` measures both). A local reply wakes
this thread only at those drawing times (``ReplyStream.paced``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from backend import model_registry
from backend.i18n import N_, _
from backend.inference.screen_updates import DEFAULT_INTERVAL_SECONDS, ScreenUpdates, stream_together
from backend.inference.text_generation import ChatMessage, ReplyStream
from backend.text_safety import plain_markdown_lines, reply_markdown
from pages.components import feedback
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


def _draw_stream(
    stream: Iterable[str], reply: dict[str, Any], written: str = "", shown: DeltaGenerator | None = None
) -> None:
    """Draw the reply as it grows after what was ``written`` of it before (a reply being
    continued, already ``shown``), keeping the text so far in the history's ``reply`` at every
    drawing: a run ended by a Stop click or by leaving the page (an exception at a drawing call,
    or no chance to clean up at all) still leaves it there."""
    shown = shown or st.empty()
    updates = _screen_updates(stream)
    try:
        for text in updates:
            reply["content"] = written + text
            shown.markdown(reply_markdown(written + text))
    finally:
        reply["content"] = written + updates.text


def load_history(key: str) -> list[dict[str, Any]]:
    """The conversation so far; a reply still pending here was cut short (Stop, or the page was
    left mid-reply): it is kept and marked as stopped."""
    history: list[dict[str, Any]] = st.session_state.setdefault(f"{key}.history", [])
    for entry in history:
        if entry.pop("pending", False):
            entry["stopped"] = True
    return history


def _ask(key: str, prompt: str) -> tuple[list[ChatMessage], dict[str, Any], dict[str, Any]]:
    """Put the question and its (pending) reply into the history together; returns the turns to
    send (the conversation up to and including the question), the question and the reply."""
    history: list[dict[str, Any]] = st.session_state.setdefault(f"{key}.history", [])
    asked = {"role": "user", "content": prompt}
    history.append(asked)
    turns = [ChatMessage(entry["role"], entry["content"]) for entry in history if entry["content"].strip()]
    reply: dict[str, Any] = {"role": "assistant", "content": "", "pending": True, "asked": prompt}
    history.append(reply)
    return turns, asked, reply


def _unask(key: str, asked: dict[str, Any], reply: dict[str, Any]) -> None:
    history: list[dict[str, Any]] = st.session_state.setdefault(f"{key}.history", [])
    st.session_state[f"{key}.history"] = [entry for entry in history if entry is not asked and entry is not reply]


def _clear(key: str) -> None:
    st.session_state[f"{key}.history"] = []
    st.session_state.pop(f"{key}.follow_up", None)


def _stopped_reply(key: str) -> dict[str, Any] | None:
    """The conversation's last reply when it was cut short and answers the user's question before
    it (the only reply *Continue* and *Regenerate* act on), else None."""
    history: list[dict[str, Any]] = st.session_state.get(f"{key}.history") or []
    if len(history) >= 2 and history[-1].get("stopped") and history[-2]["role"] == "user":
        return history[-1]
    return None


def _regenerate(key: str) -> None:
    history: list[dict[str, Any]] = st.session_state.get(f"{key}.history", [])
    if _stopped_reply(key) is not None:
        st.session_state[f"{key}.follow_up"] = history[-2]["content"]
        del history[-2:]


def _continue(key: str) -> None:
    st.session_state[f"{key}.continue"] = True


def show_stopped_actions(key: str, side_by_side: bool = False) -> None:
    """*Continue* and *Regenerate* under a last reply that was cut short (shown only then). A
    side-by-side pair is continued only while both models are on the page (``side_by_side``)."""
    reply = _stopped_reply(key)
    if reply is None:
        return
    row = st.container(horizontal=True)
    if reply.get("base_reply") is None or side_by_side:
        row.button(_("Continue"), key=f"{key}.continue", icon=":material/play_arrow:", on_click=_continue, args=(key,))
    row.button(_("Regenerate"), key=f"{key}.regenerate", icon=":material/refresh:", on_click=_regenerate, args=(key,))


def requested_follow_up(key: str) -> str | None:
    """The question a *Regenerate* click asks to send again now, once."""
    return st.session_state.pop(f"{key}.follow_up", None)


def requested_continuation(key: str) -> bool:
    """Whether a *Continue* click asks to go on with the stopped last reply now (once): the page
    then leaves that reply out of ``show_conversation`` and calls ``continue_reply``."""
    return bool(st.session_state.pop(f"{key}.continue", False)) and _stopped_reply(key) is not None


def continue_reply(conversation: DeltaGenerator, key: str, start_reply: StartReply) -> None:
    """Go on writing the stopped last reply in its own message: the model gets the conversation
    with that reply as its open turn and writes on from its last word (``stream_reply``), and the
    new text is added to the same reply, so no turn is added to the history. When no reply comes
    (the model could not load), the reply stays as it was, stopped."""
    reply = _stopped_reply(key)
    if reply is None:
        return
    history: list[dict[str, Any]] = st.session_state[f"{key}.history"]
    written = reply["content"]
    # A reply stopped before any text has nothing to go on from: the question is answered afresh.
    turns = [ChatMessage(entry["role"], entry["content"]) for entry in history if entry["content"].strip()]
    reply.pop("stopped", None)
    reply["pending"] = True
    with conversation.chat_message("assistant"), user_errors():
        shown = st.empty()
        shown.markdown(reply_markdown(written))
        stop = threading.Event()
        stream = start_reply(turns, stop)
        if stream is not None:
            st.button(_("Stop"), key=f"{key}.stop", icon=":material/stop_circle:", on_click=stop.set)
            _draw_stream(stream, reply, written, shown)
            result = stream.result
            reply.pop("pending", None)
            reply.update(content=written + result.text if result else reply["content"], result=result)
            st.rerun()
    # Whatever came before a failure stays (``_draw_stream`` kept it): the reply is stopped again.
    reply.pop("pending", None)
    reply["stopped"] = True


def show_clear_button(key: str) -> None:
    """A button that empties the conversation (shown only when there is one)."""
    if st.session_state.get(f"{key}.history"):
        st.button(_("Clear conversation"), key=f"{key}.clear", icon=":material/delete:", on_click=_clear, args=(key,))


def show_conversation(
    conversation: DeltaGenerator,
    history: list[dict[str, Any]],
    show_stats: Callable[[dict[str, Any]], None],
    feedback_task: str | None = None,
) -> None:
    """Every turn as a chat message; ``show_stats`` adds a reply's footer under it, and with a
    ``feedback_task`` every finished reply takes a thumbs up or down."""
    for index, entry in enumerate(history):
        with conversation.chat_message(entry["role"]):
            if entry.get("base_reply") is not None:
                _show_pair(entry)
            else:
                st.markdown(
                    # What the user typed is shown as typed; a reply keeps the model's Markdown.
                    plain_markdown_lines(entry["content"])
                    if entry["role"] == "user"
                    else reply_markdown(entry["content"])
                    or (_("_(stopped before any text)_") if entry.get("stopped") else _("_(empty reply)_"))
                )
            show_stats(entry)
            if feedback_task and entry["role"] == "assistant" and not entry.get("pending"):
                # Named as the footers name models: a fine-tuned model's reference is a server path.
                model = model_registry.display_name(entry.get("model_ref", ""))
                feedback.show_feedback(feedback_task, model, entry.get("asked", ""), entry["content"], f"chat.{index}")


def answer(conversation: DeltaGenerator, key: str, prompt: str, start_reply: StartReply) -> None:
    """Show the user's message, stream the reply under it with a Stop button, keep both, rerun.

    When no reply comes (the model could not load, the message was refused), the message is
    dropped again, so a refused message does not poison the conversation.
    """
    with conversation.chat_message("user"):
        st.markdown(plain_markdown_lines(prompt))
    turns, asked, reply = _ask(key, prompt)
    with conversation.chat_message("assistant"), user_errors():
        stop = threading.Event()
        stream = start_reply(turns, stop)
        if stream is not None:
            st.button(_("Stop"), key=f"{key}.stop", icon=":material/stop_circle:", on_click=stop.set)
            _draw_stream(stream, reply)
            result = stream.result
            reply.pop("pending", None)
            reply.update(content=result.text if result else reply["content"], result=result)
            st.rerun()
    # Reached only when there was no reply: st.rerun and a Stop click leave the block by exception.
    _unask(key, asked, reply)


# "Compare with base": the tuned model's reply and its base model's, streamed side by side. The
# conversation goes on with the tuned model's replies; the base model's are kept beside them.
_TUNED, _BASE = N_("Tuned model"), N_("Base model")


def _show_pair(entry: dict[str, Any]) -> None:
    tuned, base = st.columns(2)
    tuned.caption(_(_TUNED))
    tuned.markdown(reply_markdown(entry["content"]) or _("_(empty reply)_"))
    base.caption(_(_BASE))
    base.markdown(reply_markdown(entry["base_reply"]) or _("_(empty reply)_"))


def _stream_both(
    streams: list[ReplyStream], places: list[DeltaGenerator], reply: dict[str, Any], written: tuple[str, str]
) -> list[str]:
    """Stream the replies into their places together (both models generate at the same time in
    their own threads), each after what was ``written`` of it before (a pair being continued); both
    texts so far stay in the history's ``reply``. A failed reply's error is raised once the other has
    finished. Returns the new texts."""

    fields = ("content", "base_reply")

    def kept(index: int, stream: ReplyStream) -> Iterator[str]:
        # The history holds every chunk as it comes, not only what the paced screen drew: leaving
        # the page between two draws keeps all of the reply so far.
        text = ""
        for chunk in stream:
            text += chunk
            reply[fields[index]] = written[index] + text
            yield chunk

    def draw(index: int, text: str) -> None:
        places[index].markdown(reply_markdown(written[index] + text))

    outcomes = stream_together([kept(index, stream) for index, stream in enumerate(streams)], draw)
    for outcome in outcomes:
        if outcome.error is not None:
            raise outcome.error
    return [outcome.text for outcome in outcomes]


def _reply_side_by_side(
    conversation: DeltaGenerator,
    key: str,
    reply: dict[str, Any],
    turns: tuple[list[ChatMessage], list[ChatMessage]],
    starts: tuple[StartReply, StartReply],
    written: tuple[str, str] = ("", ""),
) -> None:
    """Stream the tuned model's and the base model's replies into ``reply`` (each given its own
    ``turns``) and rerun; returns only when either could not start (a message was shown)."""
    with conversation.chat_message("assistant"), user_errors():
        stop = threading.Event()
        tuned = starts[0](turns[0], stop)
        base = starts[1](turns[1], stop) if tuned is not None else None
        if tuned is not None and base is not None:
            st.button(_("Stop"), key=f"{key}.stop", icon=":material/stop_circle:", on_click=stop.set)
            left, right = st.columns(2)
            left.caption(_(_TUNED))
            right.caption(_(_BASE))
            places = [left.empty(), right.empty()]
            for place, text in zip(places, written, strict=True):
                place.markdown(reply_markdown(text))
            texts = _stream_both([tuned, base], places, reply, written)
            reply.pop("pending", None)
            reply.update(
                content=written[0] + (tuned.result.text if tuned.result else texts[0]),
                result=tuned.result,
                base_reply=written[1] + (base.result.text if base.result else texts[1]),
            )
            st.rerun()


def answer_side_by_side(
    conversation: DeltaGenerator, key: str, prompt: str, start_tuned: StartReply, start_base: StartReply
) -> None:
    """Like ``answer``, with the base model's reply streamed beside the tuned model's."""
    with conversation.chat_message("user"):
        st.markdown(plain_markdown_lines(prompt))
    turns, asked, reply = _ask(key, prompt)
    reply["base_reply"] = ""
    _reply_side_by_side(conversation, key, reply, (turns, turns), (start_tuned, start_base))
    _unask(key, asked, reply)


def continue_side_by_side(
    conversation: DeltaGenerator, key: str, start_tuned: StartReply, start_base: StartReply
) -> None:
    """``continue_reply`` for a stopped pair: each model goes on with its own half of the reply,
    after the same conversation. When no reply comes, the pair stays as it was, stopped."""
    reply = _stopped_reply(key)
    if reply is None or reply.get("base_reply") is None:
        return
    history: list[dict[str, Any]] = st.session_state[f"{key}.history"]
    before = [ChatMessage(entry["role"], entry["content"]) for entry in history[:-1] if entry["content"].strip()]
    written = (reply["content"], reply["base_reply"])
    tuned_turns, base_turns = (before + ([ChatMessage("assistant", text)] if text.strip() else []) for text in written)
    reply.pop("stopped", None)
    reply["pending"] = True
    _reply_side_by_side(conversation, key, reply, (tuned_turns, base_turns), (start_tuned, start_base), written)
    reply.pop("pending", None)
    reply["stopped"] = True
    with conversation.chat_message("assistant"):
        _show_pair(reply)
