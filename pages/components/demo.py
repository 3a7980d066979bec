"""Widgets every demo page shares: model picker, examples, run footer, score chart, batch upload."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from backend import input_language, model_registry, uploads
from backend.columns import guess_text_column
from backend.config import get_settings
from backend.errors import ShowcaseError
from backend.i18n import N_, _, ngettext
from backend.inference import tables
from backend.inference.footer import RunFooter
from backend.inference.tables import TableRun
from backend.models import answers
from backend.models.availability import Availability
from backend.models.loader import LoadedModel
from backend.models.resolve import catalogue, endpoints
from backend.models.resolve.catalogue import ModelSpec
from backend.text_safety import plain_markdown, plotly_text
from pages.components import models, upload
from pages.components.auth import current_owner
from pages.components.errors import show_error

R = TypeVar("R")
_FOLDER_CHOICE = "__local_folder__"
EMPTY_TEXT = N_("Type some text first.")
# About what a quarter of the main column shows on one line at 1920x1080: "A short poem (Chinese) ·
# not this model's language" (50 characters) fits, "Explain large models (Chinese) · not this
# model's language" (58) was cut after 53.
_LABEL_CHARS_PER_QUARTER = 50
NO_IMAGE = N_("Pick, upload or take a photo first.")


@dataclass(frozen=True)
class Example:
    """A clickable example: a short button label, the text it fills in, and other widgets it sets.

    ``label`` is English marked with ``N_`` (shown through ``_()``); ``text`` is demo input in its
    own language. ``also_set`` holds (widget key, value) pairs, e.g. the translation direction.
    """

    label: str
    text: str
    also_set: tuple[tuple[str, object], ...] = ()


def model_choices(task: str, specs: Sequence[ModelSpec]) -> tuple[dict[str, str], dict[str, Availability]]:
    """Every model a picker offers for ``task`` (configured servers, ``specs``, the user's own
    models), reference -> label, and whether each local or catalogue one can answer here."""
    local = model_registry.list_local_models(task, owner=current_owner())
    # Model servers the operator configured come first (a GPU server is why they configured it);
    # they are offered by name only, and the folder box below never takes an address.
    labels: dict[str, str] = {
        endpoints.endpoint_ref(e): _("{model} · model server {name}").format(
            model=endpoints.shown_model(e), name=e.name
        )
        for e in endpoints.endpoints_for(task)
    }
    # Each model says whether it can answer here (downloaded, downloads on first use, or not here),
    # right after its name, so a narrow screen that cuts the label still shows it. "Loaded" is said
    # under the picker, not in the label: the browser keeps a pick by its label, so a label that
    # changed once the model answered would drop the pick back to the opening model mid-demo.
    found = models.availability_of([spec.hub_id for spec in specs] + [model.path for model in local])
    marks = {ref: _(state.mark) for ref, state in found.items()}
    labels.update({spec.hub_id: f"{spec.title} · {marks[spec.hub_id]} · {spec.hub_id}" for spec in specs})
    # Users see a model's title and job id; its reference (a server path) stays internal.
    labels.update(
        {
            model.path: _("{label} · your model · {mark}").format(label=model.label, mark=marks[model.path])
            for model in local
        }
    )
    return labels, found


def pick_model(task: str, key: str, specs: Sequence[ModelSpec] | None = None) -> str | None:
    """Model picker: catalogue models of ``task``, the user's local models, or a typed folder.

    Args:
        task: catalogue task whose models and local (fine-tuned) models are offered.
        key: the page's widget namespace, e.g. ``sentiment``.
        specs: catalogue entries to offer instead of ``catalogue.models_for(task)``.

    Returns:
        The chosen model reference, or None while the folder box is empty.
    """
    specs = list(specs) if specs is not None else catalogue.models_for(task)
    labels, found = model_choices(task, specs)
    labels[_FOLDER_CHOICE] = _(models.FOLDER_CHOICE_LABEL)
    choices = list(labels)
    # A configured server wins; otherwise the default, or a downloaded model where the hub is out of reach.
    index = 0 if endpoints.endpoints_for(task) else models.opening_choice(choices, found, f"{key}.model")
    choice = st.selectbox(_("Model"), choices, index=index, format_func=labels.__getitem__, key=f"{key}.model")
    spec = next((spec for spec in specs if spec.hub_id == choice), None)
    if (served := endpoints.find_endpoint(choice) if endpoints.is_endpoint_ref(choice) else None) is not None:
        st.caption(
            _("Runs on the model server {name}: nothing loads in this app.").format(name=plain_markdown(served.name))
        )
    # Whether the pick is in memory changes the caption's text only: an element that came and went
    # above the page's tabs would make the browser redraw them on the first tab.
    loaded = " " + _("Loaded: it answers at once.") if choice in models.loaded_refs(task) else ""
    if spec is not None:
        languages = ", ".join(spec.languages) if spec.languages else _("images")
        st.caption(
            _("{description} Languages: {languages} · {memory_mb:,} MB · licence {licence}.{loaded}").format(
                description=_(spec.description),
                languages=languages,
                memory_mb=spec.memory_mb(),
                licence=spec.licence,
                loaded=loaded,
            )
        )
    elif choice in found:
        st.caption(_("Your model.{loaded}").format(loaded=loaded))
    models.warn_when_pick_unavailable(found, choice, labels[_FOLDER_CHOICE])
    if choice != _FOLDER_CHOICE:
        return choice
    folder = st.text_input(
        _("Model folder"),
        key=f"{key}.model_folder",
        placeholder=_("my-model or /absolute/path/inside/the/models/folder"),
        help=_("A folder with config.json and safetensors weights inside {models_dir}.").format(
            models_dir=get_settings().models_dir
        ),
    )
    return folder.strip() or None


def load_model(task: str, model_ref: str | None) -> LoadedModel | None:
    """The loaded model, or None after showing why it could not be loaded (offline, unsafe...)."""
    if not model_ref:
        st.warning(_("Enter the model folder first."), icon=":material/folder_open:")
        return None
    try:
        return models.get_model(task, model_ref)
    except ShowcaseError as error:
        show_error(error)
        return None


def checked_text(text: str | None, max_chars: int) -> str | None:
    """The stripped text, or None after saying what is wrong with it. Pages call this before
    ``answer``/``load_model``, so an empty or over-long text never loads, downloads or probes a model."""
    if not (text or "").replace("\x00", "").strip():
        st.warning(_(EMPTY_TEXT), icon=":material/keyboard:")
        return None
    try:
        return uploads.check_text(text or "", max_chars)
    except ShowcaseError as error:
        show_error(error)
        return None


def example_key(text: str, examples: Sequence[Example]) -> str | None:
    """``text`` when it is one of ``examples`` (its answer may be cached), else None."""
    return text if any(example.text == text for example in examples) else None


def answer(
    task: str,
    model_ref: str | None,
    example: str | None,
    compute: Callable[[LoadedModel], R],
    options: tuple[Hashable, ...] = (),
) -> R | None:
    """Run ``compute`` on the loaded model. An example (``example`` names it; None for user input)
    already answered with this model and these options answers at once from the shared example
    answers, without loading the model. Returns None after showing why the model could not load."""
    key = (task, model_ref or "", example or "", options)
    if example is not None and (cached := answers.shared_answers().get(key)) is not None:
        return cached  # type: ignore[return-value]
    loaded = load_model(task, model_ref)
    if loaded is None:
        return None
    result = compute(loaded)
    if example is not None:
        answers.shared_answers().put(key, result)
    return result


def _fill(target_key: str, example: Example, run_key: str) -> None:
    for widget_key, value in example.also_set:
        st.session_state[widget_key] = value
    st.session_state[target_key] = example.text
    st.session_state[run_key] = True


def marked_example_label(label: str, text: str, languages: Sequence[str]) -> str:
    """An example's button label, marked when the model (of ``languages``) does not handle the
    example's language."""
    if input_language.handles(languages, input_language.detect_language(text)):
        return _(label)
    return _("{label} · not this model's language").format(label=_(label))


def show_language_notice(notice: str | None) -> None:
    """The warning next to an answer whose input is in a language the model does not handle."""
    if notice:
        st.warning(notice, icon=":material/translate:")


def show_examples(examples: Sequence[Example], target_key: str, key: str, languages: Sequence[str] = ()) -> None:
    """Buttons that fill the widget ``target_key`` with an example and ask the page to run it;
    an example in a language the model (of ``languages``) does not handle is marked so."""
    st.caption(_("Try an example:"))
    labels = [marked_example_label(example.label, example.text, languages) for example in examples]
    # A label a quarter of a projector's width cannot hold is cut with an ellipsis ("…not this
    # model's lang…"): long labels go two to a row, each button twice as wide.
    per_row = len(examples) if max(map(len, labels), default=0) <= _LABEL_CHARS_PER_QUARTER else 2
    columns = [column for start in range(0, len(examples), per_row) for column in st.columns(per_row)]
    for index, (column, example, label) in enumerate(zip(columns, examples, labels, strict=False)):
        column.button(
            label,
            key=f"{key}.example.{index}",
            help=example.text,
            on_click=_fill,
            args=(target_key, example, f"{key}.run_requested"),
            width="stretch",
        )


def run_requested(key: str, clicked: bool) -> bool:
    """Whether to run now: the run button was clicked or an example was just picked.

    A run asked for drops the page's last answer (``{key}.result``) at once: whatever this run
    shows next (a refused input, a model that cannot load) must not stand above an answer to
    another input or from another model, which a viewer would read as this input's answer.
    """
    requested = bool(st.session_state.pop(f"{key}.run_requested", False)) or clicked
    if requested:
        st.session_state.pop(f"{key}.result", None)
    return requested


# How a run footer counts its work (RunFooter.unit), with the current language's plural rule.
_COUNTED: dict[str, Callable[[int], str]] = {
    "text": lambda count: ngettext("{count:,} text", "{count:,} texts", count),
    "sentence": lambda count: ngettext("{count:,} sentence", "{count:,} sentences", count),
    "image": lambda count: ngettext("{count:,} image", "{count:,} images", count),
    "row": lambda count: ngettext("{count:,} row", "{count:,} rows", count),
    "reply": lambda count: ngettext("{count:,} reply", "{count:,} replies", count),
    "prompt": lambda count: ngettext("{count:,} prompt", "{count:,} prompts", count),
}


def counted(count: int, unit: str) -> str:
    """``count`` of ``unit`` in the current language ("3 texts", "3 条文本")."""
    if unit not in _COUNTED:
        return f"{count:,} {unit}"
    return _COUNTED[unit](count).format(count=count)


def show_footer(footer: RunFooter) -> None:
    """Device, model, latency and the amount of work of one run."""
    parts = [
        f":material/memory: {models.device_name(footer.device)}",
        f":material/deployed_code: {plain_markdown(footer.model)}",
        ":material/timer: " + _("{latency_ms:,.0f} ms").format(latency_ms=footer.latency_ms),
        counted(footer.items, footer.unit),
    ]
    if footer.tokens:
        parts.append(ngettext("{count:,} token", "{count:,} tokens", footer.tokens).format(count=footer.tokens))
    if footer.path_note:
        parts.append(f":material/verified: {plain_markdown(footer.path_note)}")
    st.caption(" · ".join(parts))


def show_score_chart(scores: dict[str, float], key: str) -> None:
    """Horizontal bars of label probabilities, highest on top."""
    ordered = sorted(scores.items(), key=lambda item: item[1])
    figure = go.Figure(
        go.Bar(
            x=[score for _, score in ordered],
            # A fine-tuned model's labels come from its owner's table; plotly would read them as HTML.
            y=[plotly_text(label) for label, _ in ordered],
            orientation="h",
            text=[f"{score:.1%}" for _, score in ordered],
            textposition="auto",
        )
    )
    figure.update_layout(
        height=max(160, 44 * len(ordered)),
        margin={"l": 0, "r": 0, "t": 8, "b": 0},
        xaxis={"range": [0, 1], "tickformat": ".0%", "title": _("probability")},
    )
    st.plotly_chart(figure, key=key, config={"displayModeBar": False})


def progress_reporter(label: str) -> Callable[[int, int], None]:
    """The callback (done, total) of a progress bar drawn at its first report and taken away once
    the work is done: neither an empty bar (an example answered from the cache never reports)
    nor a full one stays between the button and the answer, pushing the answer off the screen."""
    slot = st.empty()

    def report(done: int, total: int) -> None:
        if total and done >= total:
            slot.empty()
            return
        slot.progress(
            done / total if total else 1.0,
            text=_("{label} {done:,} / {total:,}").format(label=label, done=done, total=total),
        )

    return report


def upload_table(key: str) -> tuple[pd.DataFrame, str] | None:
    """A table upload and its text column, or None (with a message) until both are usable."""
    table = upload.show_table_upload(
        f"{key}.batch_file",
        _("Table with one text per row"),
        help=_("UTF-8 or GB18030 text."),
        empty_message=_("Upload a table to process many texts at once; results come back as a CSV."),
    )
    if table is None:
        return None
    columns = [str(column) for column in table.frame.columns]
    guess = columns.index(guess_text_column(table.frame))
    column = st.selectbox(_("Text column"), columns, index=guess, key=f"{key}.batch_column")
    st.caption(_("{frame:,} rows. First rows:").format(frame=len(table.frame)))
    st.dataframe(table.frame.head(5), hide_index=True)
    return table.frame, column


def uploaded_name(key: str) -> str:
    """The file name of the table uploaded by ``upload_table(key)`` ("" when none)."""
    upload = st.session_state.get(f"{key}.batch_file")
    return str(getattr(upload, "name", "") or "")


def show_table_run(run: TableRun, file_name: str, key: str) -> None:
    """A batch run's footer, skipped-row warning, result table and CSV download."""
    show_footer(run.footer)
    if run.skipped:
        st.warning(
            ngettext(
                "{skipped:,} row was skipped; the note column says why.",
                "{skipped:,} rows were skipped; the note column says why.",
                run.skipped,
            ).format(skipped=run.skipped),
            icon=":material/info:",
        )
    shown = tables.shown_table(run.table)
    st.dataframe(shown, hide_index=True)
    st.download_button(
        _("Download results (CSV)"),
        data=uploads.to_safe_csv(shown),
        file_name=file_name,
        mime="text/csv",
        key=f"{key}.batch_download",
        icon=":material/download:",
        on_click="ignore",
    )
