"""Translation: pick a direction, translate a text sentence by sentence, compare side by side."""

import streamlit as st

from backend import input_language
from backend.i18n import N_, _, translated_headers
from backend.inference import translation
from backend.inference.batch import BatchRequest
from backend.models.resolve import catalogue
from pages.components import batch, demo, feedback
from pages.components.errors import user_errors

LANGUAGES = {"en": N_("English"), "zh": N_("Chinese"), "de": N_("German"), "fr": N_("French")}
# The decoding choices, by the number of beams; labels are shown translated.
DECODINGS = {1: N_("Greedy (fastest)"), 4: N_("Beam search (more fluent)")}
DIRECTIONS = [
    f"{spec.language_pair[0]}-{spec.language_pair[1]}" for spec in catalogue.models_for(catalogue.TRANSLATION)
]
EXAMPLES = (
    demo.Example(
        N_("English → Chinese"),
        "Large language models are changing how banks detect fraud. They read transaction notes in "
        "many languages. Analysts now review fewer false alarms.",
        (("translation.direction", "en-zh"),),
    ),
    demo.Example(
        N_("Chinese → English"),
        "人工智能正在改变医疗诊断。医生可以更快地阅读影像报告。这项技术也帮助偏远地区的病人。",
        (("translation.direction", "zh-en"),),
    ),
    demo.Example(
        N_("English → German"),
        "The train leaves at eight. Please arrive at the station a few minutes early.",
        (("translation.direction", "en-de"),),
    ),
    demo.Example(
        N_("French → English"),
        "Le modèle traduit chaque phrase séparément. Ensuite, il assemble le texte complet.",
        (("translation.direction", "fr-en"),),
    ),
)


def _direction_label(direction: str) -> str:
    source, target = direction.split("-")
    return f"{_language_name(source)} → {_language_name(target)}"


def _language_name(code: str) -> str:
    return _(LANGUAGES[code]) if code in LANGUAGES else code


def _swap() -> None:
    source, target = st.session_state["translation.direction"].split("-")
    if f"{target}-{source}" in DIRECTIONS:
        st.session_state["translation.direction"] = f"{target}-{source}"


st.title(_("Translation"))
st.caption(
    _(
        "Long texts are split into sentences, translated in batches and put back together, "
        "keeping your line breaks. Greedy decoding is fastest; beam search weighs several candidates."
    )
)
# Decoding shares the direction's row: on its own row it pushed the answer below a projector's screen.
left, middle, right = st.columns([3, 1, 2], vertical_alignment="bottom")
direction = left.selectbox(_("Direction"), DIRECTIONS, format_func=_direction_label, key="translation.direction")
middle.button(_("Swap"), key="translation.swap", icon=":material/swap_horiz:", on_click=_swap, width="stretch")
decoding = right.radio(
    _("Decoding"),
    list(DECODINGS),
    format_func=lambda beams: _(DECODINGS[beams]),
    horizontal=True,
    key="translation.decoding",
)
source_language, target_language = direction.split("-")
spec = catalogue.translation_model(source_language, target_language)
model_ref = demo.pick_model(catalogue.TRANSLATION, f"translation.{direction}", specs=[spec] if spec else [])
beams = 1
if decoding > 1:
    beams = st.slider(_("Beams"), 2, translation.MAX_BEAMS, 4, key="translation.beams")
single, batch_tab = st.tabs([_("Text"), _("Batch (table)")])

with single:
    demo.show_examples(EXAMPLES, "translation.text", "translation")
    st.text_area(
        _("Text in {language}").format(language=_language_name(source_language)),
        key="translation.text",
        height=140,
        placeholder=_("Type or paste text to translate…"),
        help=_("Up to {MAX_CHARS:,} characters.").format(MAX_CHARS=translation.MAX_CHARS),
    )
    clicked = st.button(_("Translate"), type="primary", key="translation.run", icon=":material/translate:")
    run = demo.run_requested("translation", clicked)
    if run and (text := demo.checked_text(st.session_state.get("translation.text"), translation.MAX_CHARS)):
        with user_errors():
            result = demo.answer(
                catalogue.TRANSLATION,
                model_ref,
                demo.example_key(text, EXAMPLES),
                lambda loaded: translation.translate_text(
                    loaded,
                    text,
                    source_language,
                    target_language,
                    num_beams=beams,
                    progress=demo.progress_reporter(_("Translating sentences")),
                ),
                options=(source_language, target_language, beams),
            )
            if result is not None:
                st.session_state["translation.result"] = result

    result = st.session_state.get("translation.result")
    if result is None:
        if not run:  # a run asked for says what became of it instead
            st.info(_("Type a text and press **Translate**, or click an example above."), icon=":material/keyboard:")
    else:
        source_column, target_column = st.columns(2)
        with source_column.container(border=True):
            st.caption(_language_name(result.source_language))
            st.text(result.source_text)
        with target_column.container(border=True):
            st.caption(_language_name(result.target_language))
            st.text(result.translation)
        # The model reads only its source language: say so when the text is in another.
        demo.show_language_notice(
            input_language.language_notice(result.source_text, (result.source_language,), _("the translation"))
        )
        if result.notice:
            st.warning(result.notice, icon=":material/content_cut:")
        with st.expander(
            _("Sentence by sentence ({sentences}, {decoding})").format(
                sentences=len(result.sentences),
                decoding=_("greedy") if result.num_beams == 1 else _("beam search"),
            )
        ):
            st.dataframe(
                translated_headers(
                    {N_("Source"): s.source, N_("Translation"): s.translation, N_("Tokens"): s.output_tokens}
                    for s in result.sentences
                ),
                hide_index=True,
            )
        demo.show_footer(result.footer)
        settings = {"source": result.source_language, "target": result.target_language, "beams": result.num_beams}
        feedback.show_feedback(
            catalogue.TRANSLATION, result.footer.model, result.source_text, result.translation, "translation", settings
        )

with batch_tab:
    table = demo.upload_table("translation")
    if (
        table is not None
        and model_ref
        and st.button(_("Translate every row"), key="translation.batch_run", icon=":material/table_view:")
    ):
        frame, column = table
        request = BatchRequest(
            catalogue.TRANSLATION,
            model_ref,
            column,
            demo.uploaded_name("translation"),
            target_language=target_language,
            source_language=source_language,
            num_beams=beams,
        )
        batch.submit(request, frame, "translation")
    batch.show_runs(catalogue.TRANSLATION, "translation", f"translation-{direction}.csv")
