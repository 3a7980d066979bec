"""Shared pieces of the market figures: layout, empty state, secondary-source note, labels."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from backend.market.style import DATASET_COLOURS, FONT, SECONDARY_NOTES, safe_text


def base_layout(figure: go.Figure, title: str, subtitle: str = "") -> go.Figure:
    """Title, subtitle, font and margins every market chart shares."""
    figure.update_layout(
        template="plotly_white",
        font=FONT,
        title={"text": safe_text(title), "subtitle": {"text": safe_text(subtitle)}, "x": 0, "xanchor": "left"},
        margin={"l": 10, "r": 20, "t": 90, "b": 40},
        hoverlabel={"align": "left"},
    )
    return figure


def empty_figure(title: str) -> go.Figure:
    """A titled figure that says no rows match, instead of an empty plot."""
    figure = base_layout(go.Figure(), title)
    figure.add_annotation(
        text="No rows match the current filters.", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def add_secondary_note(figure: go.Figure, rows: pd.DataFrame, y: float, kind: str) -> None:
    """Explain the secondary-source marking (``kind``: lines, bars or points) when any row is secondary."""
    if (rows["verification"] == "secondary").any():
        figure.add_annotation(
            text=SECONDARY_NOTES[kind],
            showarrow=False,
            x=0,
            y=y,
            xref="paper",
            yref="paper",
            xanchor="left",
            yanchor="top",
            font={"size": 11, "color": "#555555"},
            name="secondary-note",
        )


def when(row: pd.Series) -> str:
    """The year, with the finer period where the source gives one."""
    period = str(row.get("period", "") or "")
    return (
        f"{int(row['year'])} ({period})"
        if period and not period.startswith(str(row["year"]))
        else (period or str(int(row["year"])))
    )


def user_datasets(rows: pd.DataFrame) -> list[str]:
    """Datasets that are not built in (they get the user palette)."""
    return [d for d in rows["dataset"].unique() if d not in DATASET_COLOURS]
