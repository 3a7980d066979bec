"""Widgets of the fine-tuning screens: model and parameter pickers, data summary, job status and report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from backend.jobs import tables
from backend.jobs.manage import JobView
from backend.models.resolve import catalogue
from backend.text_safety import plain_markdown
from backend.training import export, figures, jobs
from backend.training.chat_params import CHAT
from backend.training.datasets import PreparedDataset
from backend.training.params import (
    FAST,
    FULL,
    IMAGE,
    MAX_TITLE_CHARS,
    PARAM_RANGES,
    PRECISIONS,
    TEXT,
    TrainingParams,
    default_params,
)
from backend.training.runner import DATA_FOLDER
from pages.components import chat_tuning, job_monitor, models

LOCAL_FOLDER = "Local folder…"
METHOD_LABELS = {
    FULL: "Full fine-tuning (every weight; best on a GPU)",
    FAST: "Fast mode (frozen features + small head; seconds on a CPU)",
}
STATUS_ICONS = {
    "queued": ":material/hourglass_top:",
    "running": ":material/model_training:",
    "succeeded": ":material/check_circle:",
    "failed": ":material/error:",
    "cancelled": ":material/cancel:",
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
        mark = f" · {found[hub_id].mark}" if hub_id in found else ""
        return f"{spec.title}{mark} · {hub_id} · {spec.memory_mb()} MB" if spec else hub_id

    models.warn_when_none_available(found, "base models for this method")
    index = models.opening_choice(choices, found)
    choice = st.selectbox("Base model", choices, index=index, format_func=describe, key=f"{key}.base.{task}.{method}")
    if choice != LOCAL_FOLDER:
        return choice
    folder = st.text_input(
        "Model folder",
        key=f"{key}.base_folder",
        placeholder="a folder inside the models folder, e.g. my-bert",
        help="Folders outside the models or runs folder are refused.",
    )
    if method == FAST and task == TEXT:
        st.caption("Fast mode for text needs a sentence-transformers model folder.")
    return folder.strip()


def _number(column: DeltaGenerator, label: str, name: str, defaults: TrainingParams, key: str, **options: Any) -> float:
    """A number input for the field ``name``: its default, and bounds and step as ``validate`` checks them."""
    bounds = PARAM_RANGES[name]
    return column.number_input(
        label,
        min_value=bounds.low,
        max_value=bounds.high,
        value=getattr(defaults, name),
        step=bounds.step,
        key=key,
        **options,
    )


def pick_parameters(task: str, method: str, base_model: str, key: str) -> TrainingParams:
    """Title and hyperparameters; defaults from ``default_params``, bounds from ``PARAM_RANGES``.

    Returns unvalidated params: submitting validates them once.
    """
    defaults = default_params(task, method, base_model)
    title = st.text_input(
        "Model title", key=f"{key}.title", max_chars=MAX_TITLE_CHARS, placeholder="e.g. Support tickets by team"
    )
    with st.expander("Hyperparameters", icon=":material/tune:"):
        left, middle, right = st.columns(3)
        epochs = _number(left, "Epochs", "epochs", defaults, f"{key}.epochs.{method}")
        learning_rate = _number(middle, "Learning rate", "learning_rate", defaults, f"{key}.lr.{method}", format="%.0e")
        batch_size = _number(
            right,
            "Batch size",
            "batch_size",
            defaults,
            f"{key}.batch.{method}",
            help="Halved automatically if the GPU runs out of memory.",
        )
        max_length = _number(
            left, "Max length (tokens)", "max_length", defaults, f"{key}.max_length", disabled=task == IMAGE
        )
        warmup = _number(
            middle,
            "Warm-up share",
            "warmup_ratio",
            defaults,
            f"{key}.warmup.{method}",
            disabled=method == FAST,
        )
        weight_decay = _number(right, "Weight decay", "weight_decay", defaults, f"{key}.decay")
        patience = _number(
            left,
            "Early stopping patience (epochs, 0 = off)",
            "early_stopping_patience",
            defaults,
            f"{key}.patience",
        )
        split = PARAM_RANGES["validation_fraction"]
        validation = middle.slider(
            "Validation share",
            split.low,
            split.high,
            defaults.validation_fraction,
            step=split.step,
            key=f"{key}.validation",
        )
        precision = right.selectbox(
            "Precision", PRECISIONS, key=f"{key}.precision", help="auto: bf16 or fp16 on a GPU, fp32 on a CPU."
        )
        seed = _number(left, "Seed", "seed", defaults, f"{key}.seed")
    return TrainingParams(
        task=task,
        method=method,
        base_model=base_model,
        title=title.strip(),
        epochs=int(epochs),
        learning_rate=float(learning_rate),
        batch_size=int(batch_size),
        max_length=int(max_length),
        warmup_ratio=float(warmup) if method == FULL else 0.0,
        weight_decay=float(weight_decay),
        early_stopping_patience=int(patience),
        validation_fraction=float(validation),
        seed=int(seed),
        precision=str(precision),
    )


def show_data_summary(prepared: PreparedDataset) -> None:
    """What the checks found: sizes, class balance, warnings."""
    summary = prepared.summary
    st.success(
        f"Data looks usable: {len(prepared.classes)} classes, {summary['train_size']} training and "
        f"{summary['validation_size']} validation examples ({summary['validation_source']}).",
        icon=":material/fact_check:",
    )
    st.bar_chart(pd.Series(summary["classes"], name="examples"), height=200, horizontal=True)
    for warning in prepared.warnings:
        st.warning(plain_markdown(warning), icon=":material/warning:")


def show_progress(view: JobView) -> None:
    """Status line, queue position, progress bar with ETA, and the curves so far."""
    job = view.job
    detail = tables.status_detail(job)
    st.markdown(
        f"{STATUS_ICONS.get(job.status, '')} **{job.status.capitalize()}**"
        + (f" · {plain_markdown(detail)}" if detail else "")
    )
    if job.status == "queued":
        job_monitor.show_queue_wait(view, "Waiting in the queue: {ahead}. One job trains at a time per worker.")
    if job.status == "running":
        st.progress(job.progress, text=tables.progress_text(job))
    if job.status == "failed":
        st.error(plain_markdown(job.error or "The job failed."), icon=":material/error:")
    if job.kind == CHAT:
        chat_tuning.show_progress_chart(view)
    elif view.history:
        # Plotly's toolbar would sit on the right panel's title ("Validation scores").
        st.plotly_chart(
            figures.build_curves_figure(view.history),
            key=f"finetune.curves.{job.id}",
            config={"displayModeBar": False},
        )
    with st.expander("Log", icon=":material/receipt_long:"):
        st.code("\n".join(line["text"] for line in view.logs[-100:]) or "(empty)", language=None)


def show_report(view: JobView) -> None:
    """Headline metrics, confusion matrix, per-class table, worst mistakes, download and use."""
    job = view.job
    report = jobs.load_report(job)
    if report is None:
        st.warning("This job has no evaluation report.", icon=":material/warning:")
        return
    columns = st.columns(4)
    for column, (label, value) in zip(
        columns,
        (
            ("Accuracy", report.accuracy),
            ("Macro precision", report.precision),
            ("Macro recall", report.recall),
            ("Macro F1", report.f1),
        ),
        strict=True,
    ):
        column.metric(label, f"{value:.1%}")
    st.caption(f"On {report.examples} validation examples.")
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Confusion matrix** (rows: true class, columns: predicted)")
        st.plotly_chart(figures.build_confusion_figure(report), key=f"finetune.confusion.{job.id}")
    with right:
        st.markdown("**Per class**")
        st.dataframe(figures.per_class_table(report), hide_index=True)
    st.markdown("**Most confident mistakes**")
    if not report.worst:
        st.caption("None: every validation example was classified correctly.")
    elif job.task == IMAGE:
        for mistake in report.worst:
            image_path = Path(job.run_dir) / DATA_FOLDER / mistake.input
            image_column, text_column = st.columns([1, 5])
            if image_path.is_file():
                image_column.image(str(image_path), width=64)
            text_column.markdown(
                f"{plain_markdown(mistake.input)} · true **{plain_markdown(mistake.true_label)}**, "
                f"predicted **{plain_markdown(mistake.predicted_label)}**"
                f" ({mistake.confidence:.0%})"
            )
    else:
        st.dataframe(
            figures.mistakes_table(report),
            hide_index=True,
            column_config={"confidence": st.column_config.NumberColumn(format="percent")},
        )


def show_model_actions(view: JobView) -> None:
    """Download the model zip and open the matching demo."""
    job = view.job
    if job.status != "succeeded":
        return
    left, right = st.columns(2)
    with left:
        st.download_button(
            "Download model (.zip)",
            data=lambda: export.export_model_zip(job).read_bytes(),
            file_name=export.export_name(job),
            mime="application/zip",
            key=f"finetune.download.{job.id}",
            icon=":material/download:",
        )
    with right:
        st.page_link(
            _DEMO_PAGES[job.task], label="Try it in the demo (pick it in the model list)", icon=":material/play_circle:"
        )
