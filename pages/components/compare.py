"""The Compare view's widgets: picking two to four models, their answers side by side with each
one's cost, disagreements marked, chat replies streamed together, and labelled-table scores."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from backend import model_registry, uploads
from backend.arena import compare
from backend.arena.compare import Column, Evaluation
from backend.columns import guess_label_column, guess_text_column, paired_values
from backend.errors import InvalidInputError, ShowcaseError
from backend.i18n import _
from backend.inference import compression_lab, image_classification, sentiment, text_generation, translation
from backend.inference.screen_updates import stream_together
from backend.inference.text_generation import ChatMessage, GenerationOptions
from backend.models.resolve import catalogue
from backend.models.resolve.catalogue import ModelSpec
from backend.text_safety import plain_markdown, plain_markdown_lines
from backend.training.classifier import image_data
from pages.components import demo, models, upload
from pages.components.auth import current_owner
from pages.components.errors import show_error
from pages.components.upload import UploadedBytes


def pick_models(task: str, key: str, specs: Sequence[ModelSpec] | None = None) -> list[str]:
    """A multiselect of two to four models the demo pickers offer; opens on the first two that can answer."""
    specs = list(specs) if specs is not None else catalogue.models_for(task)
    labels, found = demo.model_choices(task, specs)
    # The compressed variants the user's compression lab runs measured, beside their models.
    # A catalogue model this picker leaves out (a translator of another direction) takes its variants along.
    left_out = {spec.hub_id for spec in catalogue.models_for(task)} - {spec.hub_id for spec in specs}
    labels.update(compression_lab.variant_choices(task, current_owner(), leaving_out=left_out))
    usable = [ref for ref in labels if ref not in found or found[ref].can_load]
    picked = st.multiselect(
        _("Models (two to four)"),
        list(labels),
        default=usable[: compare.MIN_MODELS],
        format_func=labels.__getitem__,
        max_selections=compare.MAX_MODELS,
        placeholder=_("Pick two to four models"),
        key=f"{key}.models",
        help=_(
            "Catalogue models, your fine-tuned models, configured model servers and the compressed variants "
            "your compression lab runs measured; each runs the same input."
        ),
    )
    if len(usable) < compare.MIN_MODELS:
        # Picking two models marked "not available here" would only end in two errors.
        st.warning(
            _(
                "A comparison needs two models that can answer here; {count} can. Download another on the "
                "Models page, fine-tune one, or configure a model server."
            ).format(count=len(usable)),
            icon=":material/group_off:",
        )
    elif len(picked) < compare.MIN_MODELS:
        st.info(_("Pick at least two models to compare."), icon=":material/compare_arrows:")
    return picked


def cost_line(cost: compare.Cost) -> str:
    """Device, latency, rate and memory of one column's run, as one caption."""
    if cost.memory_mb is None:
        memory = _("memory on the model server")
    else:  # a small model's weights are a fraction of the first MB
        memory = (
            _("{mb:,.1f} MB").format(mb=cost.memory_mb)
            if cost.memory_mb < 10
            else _("{mb:,.0f} MB").format(mb=cost.memory_mb)
        )
    return " · ".join(
        (
            f":material/memory: {plain_markdown(cost.device)}",
            ":material/timer: " + _("{latency_ms:,.0f} ms").format(latency_ms=cost.latency_ms),
            f":material/speed: {cost.rate:,.1f} {cost.rate_unit}",
            f":material/storage: {memory}",
        )
    )


def run_columns(task: str, refs: Sequence[str], compute: Callable[[Any], Any]) -> list[Column[Any]]:
    """Every model on the same input, loaded through the page's one loader (``models.get_model``)."""
    return compare.run_each(refs, lambda ref: models.get_model(task, ref), compute, lambda answer: answer.footer)


def show_columns(
    columns: Sequence[Column[Any]],
    show_answer: Callable[[Any], None],
    label_of: Callable[[Any], str] | None = None,
) -> None:
    """The answers side by side; with ``label_of`` (classifiers) the answers off the majority are marked."""
    labels = [label_of(column.answer) if label_of and column.ok else None for column in columns]
    off = compare.dissenters(labels)
    if off:
        st.warning(_("The models disagree: the marked columns differ from the others."), icon=":material/call_split:")
    for index, (place, column) in enumerate(zip(st.columns(len(columns)), columns, strict=True)):
        with place.container(border=True):
            st.markdown(f"**{plain_markdown(model_registry.display_name(column.model_ref))}**")
            if not column.ok:
                show_error(ShowcaseError(column.error, column.hint))
                continue
            if index in off:
                st.badge(_("Disagrees"), icon=":material/call_split:", color="orange")
            show_answer(column.answer)
            if column.cost is not None:
                st.caption(cost_line(column.cost))


# --- chat -------------------------------------------------------------------------------------


def stream_chat(refs: Sequence[str], prompt: str, options: GenerationOptions, system: str) -> list[dict[str, Any]]:
    """Every model replies to ``prompt`` at once, each streamed into its own column; returns one
    dict per model (reference, text, cost or error, and whether the token limit cut it) for the
    page to keep."""
    messages = ([ChatMessage("system", system)] if system.strip() else []) + [ChatMessage("user", prompt)]
    stop = threading.Event()
    replies: list[dict[str, Any]] = []
    streams: list[Any] = []
    places = []
    for place, ref in zip(st.columns(len(refs)), refs, strict=True):
        box = place.container(border=True)
        box.markdown(f"**{plain_markdown(model_registry.display_name(ref))}**")
        reply: dict[str, Any] = {"model_ref": ref, "text": "", "error": "", "cost": None}
        try:
            loaded = models.get_model(catalogue.TEXT_GENERATION, ref)
            streams.append(text_generation.stream_reply(loaded, messages, options, stop))
            reply["loaded"] = loaded
        except ShowcaseError as error:
            reply["error"] = error.user_text()
            streams.append(())
        replies.append(reply)
        places.append(box.empty())

    def draw(index: int, text: str) -> None:
        places[index].markdown(plain_markdown_lines(text))

    outcomes = stream_together(streams, draw)
    for reply, stream, outcome in zip(replies, streams, outcomes, strict=True):
        loaded = reply.pop("loaded", None)
        reply["text"] = outcome.text
        if outcome.error is not None:
            reply["error"] = outcome.error.user_text()
        result = getattr(stream, "result", None)
        if result is not None and loaded is not None:
            reply["cost"] = compare.cost_of(loaded, result.footer, result.tokens_per_second)
            reply["limit_note"] = result.limit_note
    return replies


def show_chat_replies(replies: Sequence[dict[str, Any]]) -> None:
    """The kept replies side by side, each with its cost or its error."""
    for place, reply in zip(st.columns(len(replies)), replies, strict=True):
        with place.container(border=True):
            st.markdown(f"**{plain_markdown(model_registry.display_name(reply['model_ref']))}**")
            if reply["text"]:
                st.markdown(plain_markdown_lines(reply["text"]))
            if reply["error"]:
                st.error(plain_markdown(reply["error"]), icon=":material/error:")
            if reply["cost"] is not None:
                st.caption(cost_line(reply["cost"]))
            if reply.get("limit_note"):
                st.caption(f":material/content_cut: {reply['limit_note']}")


# --- labelled table ---------------------------------------------------------------------------


def pick_labelled_table(key: str, reference: bool = False) -> tuple[list[str], list[str]] | None:
    """A labelled table upload (checked as every upload is) and its two columns: a text and its label,
    or with ``reference`` a source sentence and its reference translation."""
    if reference:
        title = _("Reference translations (a source sentence and its translation per row)")
        empty = _(
            "Upload a table with a source column and a reference translation column to score every model's "
            "translations with chrF, with 95% intervals and a paired test of the top two."
        )
        names = (_("Source column"), _("Reference column"))
    else:
        title = _("Labelled table (a text and a label per row)")
        empty = _(
            "Upload a table with a text and a label column to score every model on the same rows, "
            "with 95% intervals and a paired test of the top two."
        )
        names = (_("Text column"), _("Label column"))
    table = upload.show_table_upload(f"{key}.labelled", title, empty_message=empty)
    if table is None:
        return None
    frame = table.frame
    # A new file starts from its own guessed columns, not the pickers' choices on the previous one.
    if st.session_state.get(f"{key}.mapped_from") != table.digest:
        for picker in ("text_column", "label_column"):
            st.session_state.pop(f"{key}.{picker}", None)
        st.session_state[f"{key}.mapped_from"] = table.digest
    columns = [str(column) for column in frame.columns]
    left, right = st.columns(2)
    text_column = left.selectbox(
        names[0], columns, index=columns.index(guess_text_column(frame)), key=f"{key}.text_column"
    )
    label_column = right.selectbox(
        names[1],
        columns,
        index=columns.index(guess_label_column(frame, text_column)),
        key=f"{key}.label_column",
    )
    try:
        texts, labels = paired_values(frame, text_column, label_column, names)
    except InvalidInputError as error:
        show_error(error)
        return None
    st.caption(_("{rows:,} labelled rows.").format(rows=len(texts)))
    return texts, labels


def score_models(task: str, refs: Sequence[str], texts: Sequence[str], labels: Sequence[str]) -> None:
    """Every model classifies every row; a model that cannot is named with its reason and left out,
    the others are scored on the same rows. The outcome is kept for ``show_evaluation``."""
    compare.check_labelled_rows(len(texts))
    predictions: dict[str, list[str]] = {}
    for ref in compare.check_model_count(refs):
        try:
            loaded = models.get_model(task, ref)
            predictions[ref] = [found.label for found in sentiment.classify(loaded, texts)]
        except ShowcaseError as error:
            shown = plain_markdown(model_registry.display_name(ref))
            st.warning(f"**{shown}**: {plain_markdown(error.user_text())}", icon=":material/block:")
    if predictions:
        st.session_state[f"compare.{task}.evaluation"] = (compare.evaluate(labels, predictions), predictions, texts)


def pick_labelled_images(key: str) -> UploadedBytes | None:
    """A zip of labelled images (size checked before reading, as every upload is)."""
    return upload.show_file_upload(
        f"{key}.labelled_zip",
        _("Labelled images (zip)"),
        uploads.ZIP_SUFFIXES,
        uploads.MAX_ZIP_BYTES,
        help=_(
            "One folder per class (cat/1.jpg, dog/2.png…), or any layout plus a CSV with file name and label columns."
        ),
        empty_message=_(
            "Upload a zip of labelled images to score every model on the same images, with 95% intervals "
            "and a paired test of the top two."
        ),
    )


def read_image_set(archive: UploadedBytes) -> tuple[list[str], list[str], list[bytes]]:
    """The zip's images (checked as a fine-tuning zip is, at most ``MAX_LABELLED_IMAGES``): each
    one's path in the zip, its label and its bytes; the reader's warnings are shown."""
    with tempfile.TemporaryDirectory() as folder:
        kept, _layout, warnings = image_data.read_labelled_images(archive.name, archive.data, Path(folder))
        compare.check_labelled_rows(len(kept), compare.MAX_LABELLED_IMAGES)
        data = [(Path(folder) / path).read_bytes() for path, _label in kept]
    for warning in warnings:
        st.caption(plain_markdown(warning))
    return [path for path, _label in kept], [label for _path, label in kept], data


def score_image_models(refs: Sequence[str], archive: UploadedBytes, key: str) -> None:
    """Every model classifies every image of the zip (``read_image_set``); a model that cannot is
    named with its reason and left out. The outcome is kept for ``show_evaluation``."""
    names, labels, data = read_image_set(archive)
    images = [
        uploads.open_image(image, path, max_side=uploads.MODEL_IMAGE_SIDE)
        for image, path in zip(data, names, strict=True)
    ]
    predictions: dict[str, list[str]] = {}
    chunk = image_classification.MAX_IMAGES
    for ref in compare.check_model_count(refs):
        try:
            loaded = models.get_model(catalogue.IMAGE_CLASSIFICATION, ref)
            found = []
            for start in range(0, len(images), chunk):
                found += image_classification.classify_images(
                    loaded, images[start : start + chunk], names[start : start + chunk]
                )
            predictions[ref] = [item.label for item in found]
        except ShowcaseError as error:
            shown = plain_markdown(model_registry.display_name(ref))
            st.warning(f"**{shown}**: {plain_markdown(error.user_text())}", icon=":material/block:")
    if predictions:
        st.session_state[f"{key}.evaluation"] = (compare.evaluate(labels, predictions), predictions, names)


def _show_scores(rows: Sequence[tuple[str, str]]) -> None:
    """Each model's name over its scores (best first), stacked rather than a table: a long model
    name in a table's first column pushed the score columns past a phone's screen edge."""
    st.markdown(
        "\n".join(
            f"{rank}. **{plain_markdown(model)}**  \n{plain_markdown(scores)}"
            for rank, (model, scores) in enumerate(rows, start=1)
        )
    )
    st.caption(_("Scores with their 95% intervals in brackets."))


def _interval(estimate: Any) -> str:
    return f"{estimate.value:.1%} [{estimate.low:.1%}, {estimate.high:.1%}]"


def show_evaluation(
    evaluation: Evaluation, predictions: dict[str, list[str]], texts: Sequence[str], item_header: str = ""
) -> None:
    """Scores with intervals, the paired test of the top two, and the rows the models disagree on
    (each row named by its text, or under ``item_header`` by what it is: an image's file name)."""
    name = model_registry.display_name
    _show_scores(
        [
            (
                name(score.model_ref),
                _("Accuracy {accuracy} · Macro-F1 {macro_f1}").format(
                    accuracy=_interval(score.accuracy), macro_f1=_interval(score.macro_f1)
                ),
            )
            for score in evaluation.scores
        ]
    )
    st.caption(_("{rows:,} rows; intervals from 1,000 bootstrap resamples of the rows.").format(rows=evaluation.rows))
    paired = evaluation.paired
    if paired is not None:
        verdict = _verdict(paired.significant)
        st.markdown(
            plain_markdown(
                _(
                    "McNemar's exact test of the top two: {first} alone was right on {a} rows, {second} alone on "
                    "{b}; p = {p:.3g}, {verdict}."
                ).format(
                    first=name(paired.first),
                    second=name(paired.second),
                    a=paired.first_only,
                    b=paired.second_only,
                    p=paired.p_value,
                    verdict=verdict,
                )
            )
        )
    if evaluation.unknown_labels:
        st.warning(
            plain_markdown(
                _("No model ever predicts these labels of the table: {labels}. Check that the names match.").format(
                    labels=", ".join(evaluation.unknown_labels[:10])
                )
            ),
            icon=":material/label_off:",
        )
    if evaluation.disagreeing_rows:
        frame = pd.DataFrame(
            {item_header or _("Text"): list(texts), **{name(ref): labels for ref, labels in predictions.items()}}
        )
        disagree = frame[frame.iloc[:, 1:].nunique(axis=1) > 1]
        with st.expander(
            _("Rows where the models disagree ({count:,})").format(count=evaluation.disagreeing_rows),
            icon=":material/call_split:",
        ):
            st.dataframe(disagree, hide_index=True)


# --- reference translations -----------------------------------------------------------------------


def score_translations(
    refs: Sequence[str], sources: Sequence[str], references: Sequence[str], direction: tuple[str, str], key: str
) -> None:
    """Every model translates every source sentence; a model that cannot is named with its reason and
    left out, the others are scored on the same sentences. Kept for ``show_translation_evaluation``."""
    compare.check_labelled_rows(len(sources), compare.MAX_REFERENCE_ROWS)
    outputs: dict[str, list[str]] = {}
    for ref in compare.check_model_count(refs):
        try:
            loaded = models.get_model(catalogue.TRANSLATION, ref)
            found = translation.translate(loaded, sources, target_language=direction[1], source_language=direction[0])
            outputs[ref] = [item.translation for item in found]
        except ShowcaseError as error:
            shown = plain_markdown(model_registry.display_name(ref))
            st.warning(f"**{shown}**: {plain_markdown(error.user_text())}", icon=":material/block:")
    if outputs:
        st.session_state[f"{key}.evaluation"] = (compare.evaluate_translations(references, outputs), outputs, sources)


def _score(estimate: Any) -> str:
    return f"{estimate.value:.1f} [{estimate.low:.1f}, {estimate.high:.1f}]"


def show_translation_evaluation(
    evaluation: compare.TranslationEvaluation, outputs: dict[str, list[str]], sources: Sequence[str]
) -> None:
    """chrF with intervals, the paired bootstrap test of the top two, and every translation by row."""
    name = model_registry.display_name
    _show_scores(
        [(name(score.model_ref), _("chrF {chrf}").format(chrf=_score(score.chrf))) for score in evaluation.scores]
    )
    st.caption(
        _(
            "{rows:,} sentences; chrF (character n-grams up to 6, recall weighted twice, 0 to 100) as sacrebleu "
            "defines it; intervals from 1,000 bootstrap resamples of the sentences."
        ).format(rows=evaluation.rows)
    )
    paired = evaluation.paired
    if paired is not None:
        verdict = _verdict(paired.significant)
        st.markdown(
            plain_markdown(
                _(
                    "Paired bootstrap test of the top two: {first} scores {difference:.1f} chrF above {second}; "
                    "p = {p:.3g}, {verdict}."
                ).format(
                    first=name(paired.first),
                    second=name(paired.second),
                    difference=paired.difference,
                    p=paired.p_value,
                    verdict=verdict,
                )
            )
        )
    with st.expander(
        _("Every translation ({count:,} sentences)").format(count=len(sources)), icon=":material/translate:"
    ):
        st.dataframe(
            pd.DataFrame({_("Source"): list(sources), **{name(ref): texts for ref, texts in outputs.items()}}),
            hide_index=True,
        )


def _verdict(significant: bool) -> str:
    """What a paired test of the top two says, in words, for every scored table."""
    return _("a real difference at the 5% level") if significant else _("no clear difference at the 5% level")
