"""Widgets of the fine-tuning screens: model and parameter pickers, data summary, job status and report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from backend.i18n import N_, _
from backend.jobs.manage import JobView
from backend.jobs.store import Job
from backend.models.resolve import catalogue
from backend.text_safety import plain_markdown
from backend.training import export, figures
from backend.training.classifier import studio as classifier_studio
from backend.training.classifier.datasets import PreparedDataset
from backend.training.classifier.params import (
    FAST,
    FULL,
    IMAGE,
    PARAM_RANGES,
    PRECISIONS,
    TEXT,
    TrainingParams,
    default_params,
)
from backend.training.common import DATA_FOLDER
from pages.components import checked_data, models, training_data
from pages.components.auth import current_owner
from pages.components.errors import user_errors
from pages.components.param_form import FormField, show_param_form

# Option values (stable: widgets keep them across languages); shown translated.
LOCAL_FOLDER = N_("Local folder…")
METHOD_LABELS = {
    FULL: N_("Full fine-tuning (every weight; best on a GPU)"),
    FAST: N_("Fast mode (frozen features + small head; seconds on a CPU)"),
}
_DEMO_PAGES = {TEXT: "pages/demos/sentiment.py", IMAGE: "pages/demos/image_classification.py"}


def base_model_choices(task: str, method: str) -> list[str]:
    """Catalogue models fit for the task and method, then the local-folder option."""
    if task == TEXT:
        base_task = catalogue.EMBEDDINGS if method == FAST else catalogue.TEXT_CLASSIFIER_BASE
    else:
        base_task = catalogue.IMAGE_CLASSIFIER_BASE
    return [spec.hub_id for spec in catalogue.models_for(base_task)] + [LOCAL_FOLDER]


def pick_base_model(task: str, method: str, key: str) -> str:
    """A catalogue base model, or a folder typed by the user (resolved safely by the loader)."""
    choices = base_model_choices(task, method)
    found = models.availability_of(choices[:-1], bases=True)

    def describe(hub_id: str) -> str:
        spec = catalogue.find_spec(hub_id)
        # The mark right after the title: a narrow screen cuts the end of the label.
        mark = f" · {_(found[hub_id].mark)}" if hub_id in found else ""
        if spec is None:
            return _(hub_id) if hub_id == LOCAL_FOLDER else hub_id
        return f"{spec.title}{mark} · {hub_id} · {spec.memory_mb()} MB"

    models.warn_when_none_available(found, _("base models for this method"))
    index = models.opening_choice(choices, found, f"{key}.base.{task}.{method}")
    choice = st.selectbox(
        _("Base model"), choices, index=index, format_func=describe, key=f"{key}.base.{task}.{method}"
    )
    if choice != LOCAL_FOLDER:
        return choice
    folder = st.text_input(
        _("Model folder"),
        key=f"{key}.base_folder",
        placeholder=_("a folder inside the models folder, e.g. my-bert"),
        help=_("Folders outside the models or runs folder are refused."),
    )
    if method == FAST and task == TEXT:
        st.caption(_("Fast mode for text needs a sentence-transformers model folder."))
    return folder.strip()


# Each classifier parameter once; bounds from PARAM_RANGES, defaults from default_params.
PARAM_FIELDS = (
    FormField("epochs", N_("Epochs"), by_method=True),
    FormField("learning_rate", N_("Learning rate"), key="lr", by_method=True, number_format="%.0e"),
    FormField(
        "batch_size",
        N_("Batch size"),
        key="batch",
        by_method=True,
        help=N_("Halved automatically if the GPU runs out of memory."),
    ),
    FormField("max_length", N_("Max length (tokens)")),
    FormField("warmup_ratio", N_("Warm-up share"), key="warmup", by_method=True),
    FormField("weight_decay", N_("Weight decay"), key="decay"),
    FormField("early_stopping_patience", N_("Early stopping patience (epochs, 0 = off)"), key="patience"),
    FormField("validation_fraction", N_("Validation share"), key="validation", slider=True),
    FormField("precision", N_("Precision"), choices=PRECISIONS, help=N_("auto: bf16 or fp16 on a GPU, fp32 on a CPU.")),
    FormField("seed", N_("Seed")),
)


def pick_parameters(task: str, method: str, base_model: str, key: str) -> TrainingParams:
    """Title and hyperparameters; defaults from ``default_params``, bounds from ``PARAM_RANGES``.

    Returns unvalidated params: submitting validates them once.
    """
    unused = []
    if task == IMAGE:
        unused.append("max_length")  # images have no token length
    if method == FAST:
        unused.append("warmup_ratio")  # fast mode trains a small head with no warm-up
    return show_param_form(
        PARAM_FIELDS,
        PARAM_RANGES,
        default_params(task, method, base_model),
        key,
        method,
        _("e.g. Support tickets by team"),
        disabled=unused,
    )


def show_data_summary(prepared: PreparedDataset, base_usable: bool = True) -> None:
    """What the checks found: sizes, class balance, warnings. Under a refused base model the
    summary is not a green "usable", which would read as "ready to train"."""
    summary = prepared.summary
    say = st.success if base_usable else st.warning
    headline = (
        _(
            "Data looks usable: {classes} classes, {train_size} training and {validation_size} "
            "validation examples ({validation_source})."
        )
        if base_usable
        else _(
            "The data is usable, but training cannot start until the base model above can be used: {classes} "
            "classes, {train_size} training and {validation_size} validation examples ({validation_source})."
        )
    )
    say(
        headline.format(
            classes=len(prepared.classes),
            train_size=summary["train_size"],
            validation_size=summary["validation_size"],
            validation_source=summary["validation_source"],
        ),
        icon=":material/fact_check:",
    )
    st.bar_chart(pd.Series(summary["classes"], name=_("examples")), height=200, horizontal=True)
    for warning in prepared.warnings:
        st.warning(plain_markdown(warning), icon=":material/warning:")


def show_curves(view: JobView) -> None:
    """Loss, accuracy and F1 curves so far."""
    if view.history:
        # Plotly's toolbar would sit on the right panel's title ("Validation scores").
        st.plotly_chart(
            figures.build_curves_figure(view.history),
            key=f"finetune.curves.{view.job.id}",
            config={"displayModeBar": False},
        )


def show_report(view: JobView) -> None:
    """Headline metrics, confusion matrix, per-class table, worst mistakes, download and use."""
    job = view.job
    report = classifier_studio.load_report(job)
    if report is None:
        st.warning(_("This job has no evaluation report."), icon=":material/warning:")
        return
    columns = st.columns(4)
    for column, (label, value) in zip(
        columns,
        (
            (_("Accuracy"), report.accuracy),
            (_("Macro precision"), report.precision),
            (_("Macro recall"), report.recall),
            (_("Macro F1"), report.f1),
        ),
        strict=True,
    ):
        column.metric(label, f"{value:.1%}")
    st.caption(_("On {examples} validation examples.").format(examples=report.examples))
    left, right = st.columns([3, 2])
    with left:
        st.markdown(_("**Confusion matrix** (rows: true class, columns: predicted)"))
        st.plotly_chart(figures.build_confusion_figure(report), key=f"finetune.confusion.{job.id}")
    with right:
        st.markdown(_("**Per class**"))
        st.dataframe(figures.per_class_table(report), hide_index=True)
    st.markdown(_("**Most confident mistakes**"))
    if not report.worst:
        st.caption(_("None: every validation example was classified correctly."))
    elif job.task == IMAGE:
        for mistake in report.worst:
            image_path = Path(job.run_dir) / DATA_FOLDER / mistake.input
            image_column, text_column = st.columns([1, 5])
            if image_path.is_file():
                image_column.image(str(image_path), width=64)
            text_column.markdown(
                _("{input} · true **{true_label}**, predicted **{predicted_label}** ({confidence:.0%})").format(
                    input=plain_markdown(mistake.input),
                    true_label=plain_markdown(mistake.true_label),
                    predicted_label=plain_markdown(mistake.predicted_label),
                    confidence=mistake.confidence,
                )
            )
    else:
        st.dataframe(
            figures.mistakes_table(report),
            hide_index=True,
            column_config={_(figures.CONFIDENCE): st.column_config.NumberColumn(format="percent")},
        )


def show_model_actions(view: JobView) -> None:
    """Download the model zip and open the matching demo."""
    job = view.job
    if job.status != "succeeded":
        return
    left, right = st.columns(2)
    with left:
        st.download_button(
            _("Download model (.zip)"),
            data=lambda: export.export_model_zip(job).read_bytes(),
            file_name=export.export_name(job),
            mime="application/zip",
            key=f"finetune.download.{job.id}",
            icon=":material/download:",
        )
    with right:
        st.page_link(
            _DEMO_PAGES[job.task],
            label=_("Try it in the demo (pick it in the model list)"),
            icon=":material/play_circle:",
        )


def show_new_job_form(task: str, key: str) -> Job | None:
    """A table (``text``) or an image zip (``image``), method, base model, parameters, *Check data*
    and *Start training*; returns the job it queued, if any (errors are shown)."""
    data = training_data.show_text_data(key) if task == TEXT else training_data.show_image_zip(key)
    method = st.radio(
        _("Method"), (FAST, FULL), format_func=lambda method: _(METHOD_LABELS[method]), key=f"{key}.method"
    )
    params = pick_parameters(task, method, pick_base_model(task, method, key), key)
    check, start = checked_data.show_check_and_start(key, data is not None, _("Upload your data to continue."))
    if check:
        # The base model is checked too (no download, no weights read), so a model that can never
        # load is reported here rather than by the worker after queuing.
        base_usable = False
        with user_errors():
            classifier_studio.check_base_model(params, current_owner())
            models.show_base_availability(params.base_model)
            base_usable = True
        with user_errors(), st.spinner(_("Checking the data…")):
            show_data_summary(training_data.check_data(data, params, key), base_usable)
    if start:
        with user_errors(), st.spinner(_("Checking the data and queuing the job…")):
            # What Check data made, unless the data or settings changed since: then it is checked again.
            prepared = training_data.checked_dataset(data, params, key)
            submit_job = classifier_studio.submit_text_job if task == TEXT else classifier_studio.submit_image_job
            return submit_job(params, prepared, owner=current_owner())
    return None
