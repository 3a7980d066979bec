"""Pure figure builders for the applications page: data in, plotly figure out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import plotly.graph_objects as go

from backend.i18n import _, current_language
from backend.use_cases import vocabulary as vocab
from backend.use_cases.catalogue import UseCase
from backend.use_cases.matrix import TaskMatrix

_CELL_HEIGHT_PX = 34
_MARGIN_PX = 170
# Current applications in the app's strong colour, prospects lighter, trends lightest.
_MATURITY_COLOURS = {vocab.CURRENT: "#1f5fa8", vocab.FUTURE: "#7fb3e6", vocab.TREND: "#d0dff0"}


def _empty_figure(message: str) -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    figure.update_layout(xaxis={"visible": False}, yaxis={"visible": False}, height=240)
    return figure


def build_heatmap(matrix: TaskMatrix, titles: Mapping[str, str], language: str | None = None) -> go.Figure:
    """Heatmap of use cases per AI task (rows) and industry (columns).

    Tasks run down the side because there are more of them (18) than industries (13) and their
    labels read across; industries' labels stand upright unless a column is wide enough for them to
    lie flat, since upright labels are the only ones that cannot collide in a phone's ~14 px columns.

    Args:
        matrix: the counts, e.g. from ``build_task_matrix``.
        titles: use-case id -> title, listed in each cell's hover.
        language: "en" or "zh" for the axis labels (the run's language unless given).

    Returns:
        One ``go.Heatmap`` trace; empty cells show no number; first industry at the top.
    """
    language = language or current_language()
    if matrix.is_empty:
        return _empty_figure(_("No use case matches the filters."))
    industry_labels = [vocab.find_term(vocab.INDUSTRIES, key).label(language) for key in matrix.industries]
    task_labels = [vocab.find_term(vocab.AI_TASKS, key).label(language) for key in matrix.tasks]
    hover = [
        ["<br>".join(titles.get(use_case, use_case) for use_case in cell) for cell in row]
        for row in _transposed(matrix.cell_use_cases)
    ]
    counts = _transposed(matrix.counts)
    figure = go.Figure(
        go.Heatmap(
            z=[list(row) for row in counts],
            x=industry_labels,
            y=task_labels,
            text=[[str(count) if count else "" for count in row] for row in counts],
            texttemplate="%{text}",
            customdata=hover,
            hovertemplate=_("<b>%{y}</b> × <b>%{x}</b>: %{z} use case(s)<br>%{customdata}<extra></extra>"),
            colorscale="Blues",
            zmin=0,
            xgap=2,
            ygap=2,
            colorbar={"title": {"text": _("use cases")}},
            # Every cell prints its count, so the scale's ~60 px are given to the columns instead.
            showscale=False,
        )
    )
    figure.update_layout(
        height=_MARGIN_PX + _CELL_HEIGHT_PX * len(task_labels),
        # No side margins and 11 px labels: on a phone every pixel goes to the columns.
        margin={"l": 0, "r": 0, "t": 30, "b": 10},
        xaxis={"side": "top", "autotickangles": [0, 90], "tickfont": {"size": 11}, "automargin": True},
        yaxis={"autorange": "reversed", "tickfont": {"size": 11}, "automargin": True},
    )
    return figure


def _transposed(rows):
    return [list(column) for column in zip(*rows, strict=True)]


def build_maturity_bars(counts: Mapping[str, Mapping[str, int]], language: str | None = None) -> go.Figure:
    """Horizontal stacked bars: use cases per industry, split by maturity (current, future, trend).

    Args:
        counts: ``{industry: {"C": n, "F": n, "T": n}}``, e.g. from ``maturity_counts``.
        language: "en" or "zh" for the labels (the run's language unless given).

    Returns:
        One ``go.Bar`` trace per maturity level that occurs, in the order C, F, T.
    """
    language = language or current_language()
    if not counts:
        return _empty_figure(_("No use case matches the filters."))
    industries = list(counts)
    labels = [vocab.find_term(vocab.INDUSTRIES, key).label(language) for key in industries]
    figure = go.Figure()
    for term in vocab.MATURITY:
        values = [counts[industry].get(term.key, 0) for industry in industries]
        if not any(values):
            continue
        figure.add_trace(
            go.Bar(
                x=values,
                y=labels,
                orientation="h",
                name=term.label(language),
                marker_color=_MATURITY_COLOURS[term.key],
                hovertemplate="%{y}: %{x}<extra>" + term.label(language) + "</extra>",
            )
        )
    figure.update_layout(
        barmode="stack",
        height=_MARGIN_PX + 26 * len(labels),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis={"autorange": "reversed"},
        xaxis={"title": {"text": _("use cases")}, "dtick": 1},
        legend={"orientation": "h", "y": 1.08},
    )
    return figure


def use_case_titles(use_cases: Iterable[UseCase], language: str | None = None) -> dict[str, str]:
    """id -> title in ``language`` (the run's unless given): the hover text of the heatmap."""
    language = language or current_language()
    return {use_case.id: use_case.title(language) for use_case in use_cases}
