"""Compare: one input to two to four models side by side, each with its cost; on a labelled table,
every model's accuracy and macro-F1 with 95% intervals and a paired test of the top two."""

import streamlit as st

from backend import uploads
from backend.arena import compare
from backend.i18n import N_, _
from backend.inference import image_classification, sentiment, translation
from backend.inference.text_generation import MAX_MESSAGE_CHARS, GenerationOptions
from backend.models.resolve import catalogue
from backend.text_safety import plain_markdown
from pages.components import compare as compare_view
from pages.components import demo
from pages.components.errors import user_errors

TASKS = {
    catalogue.SENTIMENT: N_("Sentiment"),
    catalogue.TRANSLATION: N_("Translation"),
    catalogue.IMAGE_CLASSIFICATION: N_("Image classification"),
    catalogue.TEXT_GENERATION: N_("Chat"),
}

st.title(_("Compare models"))
st.caption(
    _(
        "The same input to two to four models at once, side by side, each with its latency, speed, memory and "
        "device. Classifiers mark where they disagree; a labelled table scores them all on the same rows."
    )
)
task = st.segmented_control(
    _("Demo"), list(TASKS), format_func=lambda name: _(TASKS[name]), default=catalogue.SENTIMENT, key="compare.task"
)
task = task or catalogue.SENTIMENT
key = f"compare.{task}"
specs = None
if task == catalogue.TRANSLATION:
    directions = [f"{s.language_pair[0]}-{s.language_pair[1]}" for s in catalogue.models_for(catalogue.TRANSLATION)]
    direction = st.selectbox(_("Direction"), directions, key="compare.direction")
    source_language, target_language = direction.split("-")
    # Every translation model reads one direction, so the other directions' models are not offered.
    specs = [
        s for s in catalogue.models_for(catalogue.TRANSLATION) if s.language_pair == (source_language, target_language)
    ]
    key = f"compare.translation.{direction}"
refs = compare_view.pick_models(task, key, specs)
ready = len(refs) >= compare.MIN_MODELS

if task == catalogue.TEXT_GENERATION:
    prompt = st.text_area(
        _("Message"), key="compare.chat.prompt", height=100, placeholder=_("Ask all the models the same thing…")
    )
    temperature = st.slider(_("Temperature"), 0.0, 2.0, 0.7, 0.05, key="compare.chat.temperature")
    options = GenerationOptions(temperature=temperature, max_new_tokens=256)
    clicked = st.button(_("Ask every model"), type="primary", key="compare.chat.run", disabled=not ready)
    if demo.run_requested(key, clicked) and (text := demo.checked_text(prompt, MAX_MESSAGE_CHARS)):
        with user_errors():
            st.session_state[f"{key}.result"] = compare_view.stream_chat(
                compare.check_model_count(refs), text, options, ""
            )
            st.rerun()
    if replies := st.session_state.get(f"{key}.result"):
        compare_view.show_chat_replies(replies)
elif task == catalogue.IMAGE_CLASSIFICATION:
    samples = {path.stem: path for path in image_classification.sample_images()}
    sample = st.selectbox(_("Sample image"), list(samples), key="compare.image.sample")
    st.image(str(samples[sample]), width=240)
    clicked = st.button(_("Classify with every model"), type="primary", key="compare.image.run", disabled=not ready)
    if demo.run_requested(key, clicked):
        with user_errors():
            data = image_classification.read_sample(sample)
            image = uploads.open_image(data, f"{sample}.jpg", max_side=uploads.MODEL_IMAGE_SIDE)
            st.session_state[f"{key}.result"] = compare_view.run_columns(
                task, refs, lambda loaded: image_classification.classify_image(loaded, image, sample)
            )
    if (columns := st.session_state.get(f"{key}.result")) is not None:
        compare_view.show_columns(
            columns,
            lambda answer: st.markdown(
                f"{plain_markdown(answer.prediction.label)} · {answer.prediction.top[0].score:.1%}"
            ),
            lambda answer: answer.prediction.label,
        )
else:
    text_box = st.text_area(_("Text"), key=f"{key}.text", height=110)
    clicked = st.button(_("Run every model"), type="primary", key=f"{key}.run", disabled=not ready)
    if demo.run_requested(key, clicked) and (
        text := demo.checked_text(
            text_box, sentiment.MAX_CHARS if task == catalogue.SENTIMENT else translation.MAX_CHARS
        )
    ):
        with user_errors():
            if task == catalogue.SENTIMENT:
                compute = lambda loaded: sentiment.classify_text(loaded, text)  # noqa: E731 - one call per model
            else:
                compute = lambda loaded: translation.translate_text(loaded, text, source_language, target_language)  # noqa: E731
            st.session_state[f"{key}.result"] = compare_view.run_columns(task, refs, compute)
    if (columns := st.session_state.get(f"{key}.result")) is not None:
        if task == catalogue.SENTIMENT:
            compare_view.show_columns(
                columns,
                lambda answer: st.markdown(
                    f"{plain_markdown(answer.classification.label)} · {answer.classification.score:.1%}"
                ),
                lambda answer: answer.classification.label,
            )
        else:
            compare_view.show_columns(columns, lambda answer: st.text(answer.translation))

if task == catalogue.SENTIMENT:
    st.subheader(_("Score on a labelled table"))
    labelled = compare_view.pick_labelled_table("compare.sentiment")
    if labelled is not None and st.button(
        _("Score every model"), key="compare.sentiment.score", disabled=not ready, icon=":material/fact_check:"
    ):
        with user_errors():
            compare_view.score_models(task, refs, *labelled)
    if (scored := st.session_state.get("compare.sentiment.evaluation")) is not None:
        compare_view.show_evaluation(*scored)

if task == catalogue.TRANSLATION:
    st.subheader(_("Score on reference translations"))
    with_references = compare_view.pick_labelled_table(key, reference=True)
    if with_references is not None and st.button(
        _("Score every model"), key=f"{key}.score", disabled=not ready, icon=":material/fact_check:"
    ):
        with user_errors():
            compare_view.score_translations(refs, *with_references, (source_language, target_language), key)
    if (scored := st.session_state.get(f"{key}.evaluation")) is not None:
        compare_view.show_translation_evaluation(*scored)

if task == catalogue.IMAGE_CLASSIFICATION:
    st.subheader(_("Score on labelled images"))
    archive = compare_view.pick_labelled_images(key)
    if archive is not None and st.button(
        _("Score every model"), key=f"{key}.score", disabled=not ready, icon=":material/fact_check:"
    ):
        with user_errors():
            compare_view.score_image_models(refs, archive, key)
    if (scored := st.session_state.get(f"{key}.evaluation")) is not None:
        compare_view.show_evaluation(*scored, item_header=_("Image"))
