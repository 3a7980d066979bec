"""Text generation: chat with an instruct model; the reply streams in as it is written."""

import threading

import streamlit as st

from backend import input_language, model_registry
from backend.i18n import LANGUAGES, N_, _, translated
from backend.inference import text_generation
from backend.inference.batch import BatchRequest
from backend.inference.text_generation import ChatMessage, GenerationOptions
from backend.models.resolve import catalogue
from backend.text_safety import plain_markdown
from pages.components import batch, demo
from pages.components import chat as chat_view
from pages.components.auth import current_owner

EXAMPLES = (
    demo.Example(N_("Explain fine-tuning"), "Explain in three sentences what fine-tuning a language model means."),
    demo.Example(N_("Write an e-mail"), "Write a short, polite e-mail asking a supplier to confirm a delivery date."),
    demo.Example(N_("Explain large models (Chinese)"), "用三句话向一位银行经理解释什么是大语言模型。"),
    demo.Example(N_("A short poem (Chinese)"), "写一首关于秋天的四行短诗。"),
)


def _show_stats(entry: dict) -> None:
    languages = model_registry.languages_of(catalogue.TEXT_GENERATION, entry.get("model_ref", ""), current_owner())
    demo.show_language_notice(input_language.language_notice(entry.get("asked", ""), languages, _("the reply")))
    result = entry.get("result")
    if result is not None:
        demo.show_footer(result.footer)
        st.caption(
            ":material/speed: "
            + _(
                "{tokens_per_second:,.1f} tokens/s · first token after {first_token_ms:,.0f} ms · prompt "
                "{prompt_tokens:,} tokens"
            ).format(
                tokens_per_second=result.tokens_per_second,
                first_token_ms=result.first_token_ms,
                prompt_tokens=result.prompt_tokens,
            )
            + (_(" · stopped") if result.stopped else "")
        )
        if result.notice:
            st.caption(f":material/content_cut: {result.notice}")
        if result.limit_note:
            st.caption(f":material/content_cut: {result.limit_note}")
        if result.engine_note:
            st.caption(f":material/build: {plain_markdown(result.engine_note)}")
    elif entry.get("stopped"):
        st.caption(":material/stop_circle: " + _("Stopped before the end (Stop was pressed or the page was left)."))


st.title(_("Text generation"))
st.caption(
    _(
        "Chat with a small instruct model using its own chat template. Tokens appear as they are generated; "
        "the conversation stays in this browser tab until you clear it or reload."
    )
)
DEFAULT_SYSTEM_PROMPT = N_("You are a helpful assistant. Answer in the language of the question.")
# The untouched default follows the language switch; a prompt the user wrote stays as written.
if st.session_state.get("text_generation.system") in {
    translated(DEFAULT_SYSTEM_PROMPT, language) for language in LANGUAGES
}:
    st.session_state["text_generation.system"] = _(DEFAULT_SYSTEM_PROMPT)

model_ref = demo.pick_model(catalogue.TEXT_GENERATION, "text_generation")
# A model tuned here talks with the system prompt it was trained with (its replies, and the base's
# beside them, are judged on the prompt it knows) unless the user changes it.
trained_system = model_registry.trained_system_prompt_of(catalogue.TEXT_GENERATION, model_ref or "", current_owner())
# A chat model tuned in the studio knows its base: offer its replies side by side with the tuned ones.
base_ref = model_registry.base_model_of(catalogue.TEXT_GENERATION, model_ref or "", current_owner())
compare = base_ref is not None and st.toggle(
    _("Compare with base"),
    key="text_generation.compare",
    help=_("Stream the base model's reply beside the tuned model's, for the same conversation."),
)
with st.expander(_("Generation settings"), icon=":material/tune:"):
    left, middle, right = st.columns(3)
    temperature = left.slider(
        _("Temperature"),
        0.0,
        2.0,
        0.7,
        0.05,
        key="text_generation.temperature",
        help=_("0 always picks the likeliest token."),
    )
    top_p = middle.slider(_("Top-p"), 0.05, 1.0, 0.9, 0.05, key="text_generation.top_p")
    max_new_tokens = right.slider(
        _("Max new tokens"), 16, text_generation.MAX_NEW_TOKENS, 256, 16, key="text_generation.max_new_tokens"
    )
    system_prompt = st.text_input(
        _("System prompt"),
        _(DEFAULT_SYSTEM_PROMPT) if trained_system is None else trained_system,
        # One box per tuned model, so each opens on its own training prompt.
        key="text_generation.system" if trained_system is None else f"text_generation.system.{model_ref}",
        help=None if trained_system is None else _("The system prompt this model was trained with."),
    )
options = GenerationOptions(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)
model_languages = model_registry.languages_of(catalogue.TEXT_GENERATION, model_ref or "", current_owner())
chat, batch_tab = st.tabs([_("Chat"), _("Batch (table)")])


def _example_model(text: str) -> str | None:
    """A downloaded catalogue model that handles the example's language when the picked one does
    not (the page's Chinese examples then run on it rather than getting English nonsense)."""
    language = input_language.detect_language(text)
    if input_language.handles(model_languages, language):
        return None
    return model_registry.downloaded_model_for(catalogue.TEXT_GENERATION, language)


# Examples in a language the picked model lacks run on a downloaded model that has it, else are marked.
example_models = {example.text: _example_model(example.text) for example in EXAMPLES}
answerable = {input_language.detect_language(text) for text, ref in example_models.items() if ref}
example_languages = (*model_languages, *sorted(answerable - {None})) if model_languages else ()


def _start_reply(
    turns: list[ChatMessage], stop: threading.Event, ref: str | None = None
) -> text_generation.ReplyStream | None:
    ref = ref or model_ref
    loaded = demo.load_model(catalogue.TEXT_GENERATION, ref)
    if loaded is None:
        return None
    reply = st.session_state["text_generation.history"][-1]
    reply["model_ref"] = reply.get("model_ref") or ref  # whose languages judge the reply
    system = [ChatMessage("system", system_prompt)] if system_prompt.strip() else []
    return text_generation.stream_reply(loaded, system + turns, options, stop)


with chat:
    history = chat_view.load_history("text_generation")
    # In a slot: the first message of a conversation takes the invitation away in the run that sends it.
    invitation = st.empty()
    if not history:
        invitation.info(_("Ask anything in English or Chinese, or start from an example."), icon=":material/forum:")
    # New turns go into this container too, so they appear above the examples and the input box.
    conversation = st.container()
    # A continued reply is drawn by continue_reply, in place, as it grows.
    continuing = chat_view.requested_continuation("text_generation")
    chat_view.show_conversation(
        conversation, history[:-1] if continuing else history, _show_stats, catalogue.TEXT_GENERATION
    )
    if not continuing:  # a reply being continued is not stopped any more
        chat_view.show_stopped_actions("text_generation", side_by_side=compare)
    demo.show_examples(EXAMPLES, "text_generation.example_prompt", "text_generation", example_languages)
    chat_view.show_clear_button("text_generation")
    typed = st.chat_input(_("Message the model…"), key="text_generation.prompt")
    example = (
        st.session_state.get("text_generation.example_prompt") if demo.run_requested("text_generation", False) else None
    )
    follow_up = chat_view.requested_follow_up("text_generation")
    submitted = next((text for text in (typed, follow_up, example) if text is not None), None)
    if submitted is not None:
        invitation.empty()
    if continuing and history[-1].get("base_reply") is not None:
        chat_view.continue_side_by_side(
            conversation, "text_generation", _start_reply, lambda turns, stop: _start_reply(turns, stop, base_ref)
        )
    elif continuing:
        stopped_ref = history[-1].get("model_ref")  # the model that wrote the reply goes on with it
        chat_view.continue_reply(
            conversation, "text_generation", lambda turns, stop: _start_reply(turns, stop, stopped_ref)
        )
    elif submitted is not None and (prompt := demo.checked_text(submitted, text_generation.MAX_MESSAGE_CHARS)):
        if compare:
            chat_view.answer_side_by_side(
                conversation,
                "text_generation",
                prompt,
                _start_reply,
                lambda turns, stop: _start_reply(turns, stop, base_ref),
            )
        else:
            example_ref = example_models.get(prompt) if typed is None else None
            if example_ref:
                st.caption(
                    ":material/translate: "
                    + _(
                        "This example runs on {display_name}, which handles its language; the picked model does not."
                    ).format(display_name=model_registry.display_name(example_ref))
                )
            chat_view.answer(
                conversation, "text_generation", prompt, lambda turns, stop: _start_reply(turns, stop, example_ref)
            )

with batch_tab:
    table = demo.upload_table("text_generation")
    if (
        table is not None
        and model_ref
        and st.button(_("Answer every row"), key="text_generation.batch_run", icon=":material/table_view:")
    ):
        frame, column = table
        request = BatchRequest(
            catalogue.TEXT_GENERATION,
            model_ref,
            column,
            demo.uploaded_name("text_generation"),
            temperature=options.temperature,
            top_p=options.top_p,
            max_new_tokens=options.max_new_tokens,
        )
        batch.submit(request, frame, "text_generation")
    batch.show_runs(catalogue.TEXT_GENERATION, "text_generation", "text-generation-results.csv")
