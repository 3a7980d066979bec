"""Plotly figures and tables of the fine-tuning screens, built from training results (no Streamlit here)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backend.text_safety import plotly_text
from backend.training.evaluation import EvaluationReport

LOSS_CURVES = {"train_loss": "training loss", "val_loss": "validation loss"}
_SCORE_CURVES = {"val_accuracy": "validation accuracy", "val_f1": "validation macro-F1"}


def build_curves_figure(history: list[dict[str, Any]]) -> go.Figure:
    """Loss curves (left) and validation scores (right) against the training step."""
    figure = build_step_curves(history, (("Loss", LOSS_CURVES), ("Validation scores", _SCORE_CURVES)))
    figure.update_yaxes(range=[0, 1.02], row=1, col=2)
    return figure


def build_step_curves(history: list[dict[str, Any]], panels: tuple[tuple[str, dict[str, str]], ...]) -> go.Figure:
    """Side-by-side panels, one per ``(title, {series name: label})`` of ``panels``, each series of
    ``history`` (points with name, step, epoch, value) a line against the training step; the
    validation series, measured now and then, are marked at each point."""
    figure = make_subplots(rows=1, cols=len(panels), subplot_titles=[title for title, _ in panels])
    for column, (_, curves) in enumerate(panels, start=1):
        for name, label in curves.items():
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
                    hovertemplate="step %{x}, epoch %{customdata:.2f}: %{y:.4f}<extra>" + label + "</extra>",
                ),
                row=1,
                col=column,
            )
    figure.update_xaxes(title_text="step")
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
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
            showscale=False,
        )
    )
    size = max(300, min(700, 60 * len(report.classes) + 150))
    figure.update_layout(
        height=size,
        xaxis={"title": "predicted", "type": "category"},
        yaxis={"title": "true", "type": "category", "autorange": "reversed"},
        margin={"t": 20, "b": 40, "l": 40, "r": 10},
    )
    return figure


def build_comparison_figure(rows: list[dict[str, Any]], metrics: tuple[str, ...]) -> go.Figure:
    """Grouped bars: each metric for each compared run."""
    figure = go.Figure()
    for row in rows:
        figure.add_trace(
            # The legend names runs by the titles their owners typed; plotly would read them as HTML.
            go.Bar(
                name=plotly_text(f"{row['title']} ({row['method']})"), x=list(metrics), y=[row.get(m) for m in metrics]
            )
        )
    figure.update_layout(barmode="group", height=340, yaxis={"range": [0, 1.02]}, margin={"t": 20, "b": 40})
    return figure


def per_class_table(report: EvaluationReport) -> pd.DataFrame:
    """The per-class scores as a table."""
    return pd.DataFrame([row.__dict__ for row in report.per_class])


def mistakes_table(report: EvaluationReport) -> pd.DataFrame:
    """The most confident mistakes as a table (text tasks)."""
    return pd.DataFrame(
        [
            {"text": m.input, "true": m.true_label, "predicted": m.predicted_label, "confidence": m.confidence}
            for m in report.worst
        ]
    )
