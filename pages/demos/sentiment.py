"""Sentiment: classify a text (or a table of texts) and show every label's probability."""

import streamlit as st

from backend import input_language, model_registry
from backend.i18n import N_, _
from backend.inference import sentiment
from backend.inference.batch import BatchRequest
from backend.models.resolve import catalogue
from backend.text_safety import plain_markdown
from pages.components import batch, demo, feedback
from pages.components.auth import current_owner
from pages.components.errors import user_errors

EXAMPLES = (
    demo.Example(
        N_("😀 Delighted customer"), "I love this phone: the battery lasts two days and the camera is superb."
    ),
    demo.Example(N_("😠 Angry review"), "Worst service ever. The parcel arrived broken and nobody answered my emails."),
    demo.Example(N_("😀 Chinese, positive"), "这家餐厅的菜非常好吃，服务也很周到，下次还会再来！"),
    demo.Example(N_("😠 Chinese, negative"), "质量太差了，用了两天就坏了，客服也不理人，非常失望。"),
)

st.title(_("Sentiment"))
st.caption(
    _(
        "A text classifier reads your text and gives a probability for each of its labels. "
        "English and Chinese; your fine-tuned text classifiers appear in the model list too."
    )
)
model_ref = demo.pick_model(catalogue.SENTIMENT, "sentiment")
languages = model_registry.languages_of(catalogue.SENTIMENT, model_ref or "", current_owner())
single, batch_tab = st.tabs([_("Text"), _("Batch (table)")])

with single:
    demo.show_examples(EXAMPLES, "sentiment.text", "sentiment", languages)
    st.text_area(
        _("Text"),
        key="sentiment.text",
        height=120,
        placeholder=_("Type or paste a review, a comment, a message…"),
        help=_("Up to {MAX_CHARS:,} characters; longer texts are cut at the model's token limit.").format(
            MAX_CHARS=sentiment.MAX_CHARS
        ),
    )
    clicked = st.button(_("Analyse"), type="primary", key="sentiment.run", icon=":material/play_arrow:")
    run = demo.run_requested("sentiment", clicked)
    if run and (text := demo.checked_text(st.session_state.get("sentiment.text"), sentiment.MAX_CHARS)):
        with user_errors():
            result = demo.answer(
                catalogue.SENTIMENT,
                model_ref,
                demo.example_key(text, EXAMPLES),
                lambda loaded: sentiment.classify_text(loaded, text),
            )
            if result is not None:
                st.session_state["sentiment.result"] = result
                st.session_state["sentiment.asked"] = text
                st.session_state["sentiment.language_notice"] = input_language.language_notice(text, languages)

    result = st.session_state.get("sentiment.result")
    if result is None:
        if not run:  # a run asked for says what became of it instead
            st.info(_("Type a text and press **Analyse**, or click an example above."), icon=":material/keyboard:")
    else:
        best = result.classification
        st.subheader(f"{plain_markdown(best.label)} · {best.score:.1%}")
        demo.show_language_notice(st.session_state.get("sentiment.language_notice"))
        if result.notice:
            st.warning(result.notice, icon=":material/content_cut:")
        demo.show_score_chart(best.scores, key="sentiment.chart")
        demo.show_footer(result.footer)
        asked = st.session_state.get("sentiment.asked", "")
        feedback.show_feedback(catalogue.SENTIMENT, result.footer.model, asked, best.label, "sentiment")

with batch_tab:
    table = demo.upload_table("sentiment")
    if (
        table is not None
        and model_ref
        and st.button(_("Classify every row"), key="sentiment.batch_run", icon=":material/table_view:")
    ):
        frame, column = table
        request = BatchRequest(catalogue.SENTIMENT, model_ref, column, demo.uploaded_name("sentiment"))
        batch.submit(request, frame, "sentiment")
    batch.show_runs(catalogue.SENTIMENT, "sentiment", "sentiment-results.csv")
