"""Plotly figures and tables of the fine-tuning screens, built from training results (no Streamlit here)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backend.i18n import N_, _
from backend.jobs.tables import STATUS_WORDS
from backend.text_safety import plotly_text
from backend.training.evaluation import EvaluationReport
from backend.training.titles import method_title, task_title

# Series names as stored (stable keys) -> legend entries, translated when a figure is built.
LOSS_CURVES = {"train_loss": N_("training loss"), "val_loss": N_("validation loss")}
_SCORE_CURVES = {"val_accuracy": N_("validation accuracy"), "val_f1": N_("validation macro-F1")}
# The compared runs' columns (``classifier.studio.compare_jobs``'s keys) as headers.
_COMPARISON_HEADERS = {
    "job": N_("job"),
    "title": N_("title"),
    "task": N_("task"),
    "method": N_("method"),
    "base_model": N_("base model"),
    "status": N_("status"),
    "epochs": N_("epochs"),
    "learning_rate": N_("learning rate"),
    "batch_size": N_("batch size"),
    "train_size": N_("training examples"),
    "seconds": N_("seconds"),
    "accuracy": N_("accuracy"),
    "precision": N_("macro precision"),
    "recall": N_("macro recall"),
    "f1": N_("macro F1"),
}


def build_curves_figure(history: list[dict[str, Any]]) -> go.Figure:
    """Loss curves (left) and validation scores (right) against the training step."""
    figure = build_step_curves(history, ((_("Loss"), LOSS_CURVES), (_("Validation scores"), _SCORE_CURVES)))
    figure.update_yaxes(range=[0, 1.02], row=1, col=2)
    return figure


def build_step_curves(history: list[dict[str, Any]], panels: tuple[tuple[str, dict[str, str]], ...]) -> go.Figure:
    """Side-by-side panels, one per ``(title, {series name: label})`` of ``panels``, each series of
    ``history`` (points with name, step, epoch, value) a line against the training step; the
    validation series, measured now and then, are marked at each point. Titles are given translated;
    series labels may be ``N_`` marked constants, translated here."""
    figure = make_subplots(rows=1, cols=len(panels), subplot_titles=[title for title, _curves in panels])
    for column, (_title, curves) in enumerate(panels, start=1):
        for name, marked_label in curves.items():
            label = _(marked_label)
            points = [p for p in history if p["name"] == name]
            if not points:
                continue
            figure.add_trace(
                go.Scatter(
                    x=[p["step"] for p in points],
                    y=[p["value"] for p in points],
                    customdata=[p["epoch"] for p in points],
                    mode="lines+markers" if name.startswith("val_") else "lines",
                    name=label,
                    hovertemplate=_("step %{x}, epoch %{customdata:.2f}: %{y:.4f}") + "<extra>" + label + "</extra>",
                ),
                row=1,
                col=column,
            )
    figure.update_xaxes(title_text=_("step"))
    figure.update_layout(
        height=340, margin={"t": 40, "b": 40, "l": 40, "r": 10}, legend={"orientation": "h", "y": -0.25}
    )
    return figure


def build_confusion_figure(report: EvaluationReport) -> go.Figure:
    """Heatmap of true (rows) against predicted (columns) classes, with counts in the cells."""
    figure = go.Figure(
        go.Heatmap(
            z=report.confusion,
            # The classes are the labels of the owner's table; plotly would read them as HTML.
            x=[plotly_text(name) for name in report.classes],
            y=[plotly_text(name) for name in report.classes],
            text=report.confusion,
            texttemplate="%{text}",
            colorscale="Blues",
            hovertemplate=_("true %{y}, predicted %{x}: %{z}") + "<extra></extra>",
            showscale=False,
        )
    )
    size = max(300, min(700, 60 * len(report.classes) + 150))
    figure.update_layout(
        height=size,
        xaxis={"title": _("predicted"), "type": "category"},
        yaxis={"title": _("true"), "type": "category", "autorange": "reversed"},
        margin={"t": 20, "b": 40, "l": 40, "r": 10},
    )
    return figure


def build_comparison_figure(rows: list[dict[str, Any]], metrics: tuple[str, ...]) -> go.Figure:
    """Grouped bars: each metric for each compared run."""
    figure = go.Figure()
    shown_metrics = [_(_COMPARISON_HEADERS.get(metric, metric)) for metric in metrics]
    for row in rows:
        figure.add_trace(
            # The legend names runs by the titles their owners typed; plotly would read them as HTML.
            go.Bar(
                name=plotly_text(f"{row['title']} ({method_title(row['method'])})"),
                x=shown_metrics,
                y=[row.get(m) for m in metrics],
            )
        )
    figure.update_layout(barmode="group", height=340, yaxis={"range": [0, 1.02]}, margin={"t": 20, "b": 40})
    return figure


def comparison_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The compared runs as shown: headers, tasks, methods and statuses in the reader's language."""
    shown = [
        {
            **row,
            "task": task_title(row["task"]),
            "method": method_title(row["method"]),
            "status": _(STATUS_WORDS.get(row["status"], row["status"])),
        }
        for row in rows
    ]
    return pd.DataFrame(shown).rename(columns=lambda key: _(_COMPARISON_HEADERS.get(key, key)))


def per_class_table(report: EvaluationReport) -> pd.DataFrame:
    """The per-class scores as a table, headed in the reader's language."""
    return pd.DataFrame(
        [
            {
                _("class"): row.label,
                _("precision"): row.precision,
                _("recall"): row.recall,
                "F1": row.f1,
                _("support"): row.support,
            }
            for row in report.per_class
        ]
    )


# The mistakes table's confidence column, as headed (the page formats it as a percentage).
CONFIDENCE = N_("confidence")


def mistakes_table(report: EvaluationReport) -> pd.DataFrame:
    """The most confident mistakes as a table (text tasks), headed in the reader's language."""
    return pd.DataFrame(
        [
            {
                _("text"): m.input,
                _("true"): m.true_label,
                _("predicted"): m.predicted_label,
                _(CONFIDENCE): m.confidence,
            }
            for m in report.worst
        ]
    )
