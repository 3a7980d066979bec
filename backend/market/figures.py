"""Pure figure builders: a table of market rows in, a plotly figure out (no I/O, no streamlit).

Every builder draws exactly the rows it is given (choose them with
:mod:`backend.market.selections`), so the page can cite and offer for download the same rows.
Secondary rows are drawn hollow, dotted or hatched, and a note under the chart says so.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backend.market.style import (
    CONFIDENCE_SYMBOLS,
    DATASET_COLOURS,
    FONT,
    PRIMARY_SYMBOL,
    SECONDARY_NOTES,
    SECONDARY_PATTERN,
    SERIES_SYMBOLS,
    colour_for,
    dataset_label,
    dataset_rank,
    hollow,
    human_number,
    safe_text,
    value_label,
    wrapped,
)

TIME_HOVER = (
    "<b>%{customdata[0]}</b><br>%{customdata[1]}: <b>%{customdata[2]}</b><br>%{customdata[3]}"
    "<br>Source: %{customdata[4]} (%{customdata[5]})<extra></extra>"
)
BAR_HOVER = (
    "<b>%{y}</b>: %{customdata[0]} %{customdata[1]}<br>%{customdata[2]}"
    "<br>Source: %{customdata[3]} (%{customdata[4]})<extra></extra>"
)
MODEL_HOVER = (
    "<b>%{text}</b> (%{customdata[0]})<br>Published %{customdata[1]}<br>%{customdata[2]}"
    "<br>Epoch confidence: %{customdata[3]}<br>Source: %{customdata[4]} (%{customdata[5]})<extra></extra>"
)
# Bars for bounds ("more than $67B") are faded: their length is a limit, not a measurement.
_BOUNDS = ("more than", "less than")
_BOUND_OPACITY = 0.45
SEGMENT_TITLES: dict[str, str] = {
    "industry": "AI use by industry (% of organisations or firms, each survey's own definition)",
    "size": "AI use by company size (% of enterprises or firms)",
    "country": "AI use by country and region (% of enterprises or companies)",
    "function": "Share of respondents reporting value from AI, by business function (%)",
}


def _base_layout(figure: go.Figure, title: str, subtitle: str = "") -> go.Figure:
    figure.update_layout(
        template="plotly_white",
        font=FONT,
        title={"text": safe_text(title), "subtitle": {"text": safe_text(subtitle)}, "x": 0, "xanchor": "left"},
        margin={"l": 10, "r": 20, "t": 90, "b": 40},
        hoverlabel={"align": "left"},
    )
    return figure


def _empty_figure(title: str) -> go.Figure:
    figure = _base_layout(go.Figure(), title)
    figure.add_annotation(
        text="No rows match the current filters.", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def _add_secondary_note(figure: go.Figure, rows: pd.DataFrame, y: float, kind: str) -> None:
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


def _when(row: pd.Series) -> str:
    period = str(row.get("period", "") or "")
    return (
        f"{int(row['year'])} ({period})"
        if period and not period.startswith(str(row["year"]))
        else (period or str(int(row["year"])))
    )


def _user_datasets(rows: pd.DataFrame) -> list[str]:
    return [d for d in rows["dataset"].unique() if d not in DATASET_COLOURS]


def _unit_title(rows: pd.DataFrame) -> str:
    units = sorted(rows["unit"].unique())
    if units == ["percent"]:
        return "% (each survey's own definition)"
    return ", ".join(units)


def build_time_series(rows: pd.DataFrame, title: str, subtitle: str = "") -> go.Figure:
    """One line per (dataset, metric, definition[, geography]) over ``year``, labelled with its definition.

    A series with several geographies gets one line per place (named with it).

    A definition change (rows with ``series_break``) starts a new line and gets a dashed
    vertical marker, so values measured differently are never joined.
    """
    if rows.empty:
        return _empty_figure(title)
    figure = _base_layout(go.Figure(), title, subtitle)
    user = _user_datasets(rows)
    shapes_per_dataset: dict[str, int] = {}
    ordered = rows.assign(_rank=rows["dataset"].map(dataset_rank)).sort_values("_rank", kind="stable")
    several_places = ordered.groupby(["dataset", "metric", "definition"])["geography"].transform("nunique") > 1
    ordered = ordered.assign(_place=ordered["geography"].where(several_places, ""))
    for (dataset, metric, definition, place), series in ordered.groupby(
        ["dataset", "metric", "definition", "_place"], sort=False
    ):
        index = shapes_per_dataset.get(dataset, 0)
        shapes_per_dataset[dataset] = index + 1
        symbol = SERIES_SYMBOLS[index % len(SERIES_SYMBOLS)]
        secondary = (series["verification"] == "secondary").tolist()
        colour = colour_for(dataset, user)
        customdata = [
            [
                safe_text(dataset_label(dataset)),
                safe_text(_when(row)),
                value_label(row["value"], row["unit"], row.get("qualifier", "")),
                wrapped(definition, 60),
                safe_text(row["source_org"]),
                row["verification"],
            ]
            for _, row in series.iterrows()
        ]
        figure.add_trace(
            go.Scatter(
                x=series["year"].astype(int).tolist(),
                y=series["value"].tolist(),
                mode="lines+markers",
                name=wrapped(f"{dataset_label(dataset)}: {definition}" + (f" ({place})" if place else ""), 60),
                legendgroup=dataset,
                line={"color": colour, "width": 2, "dash": "dot" if all(secondary) else "solid"},
                marker={
                    "symbol": [hollow(symbol) if s else symbol for s in secondary],
                    "size": 10,
                    "color": colour,
                    "line": {"width": 2, "color": colour},
                },
                customdata=customdata,
                hovertemplate=TIME_HOVER,
                meta={"dataset": dataset, "metric": metric},
            )
        )
        _mark_series_break(figure, rows, dataset, metric, series)
    all_percent = sorted(rows["unit"].unique()) == ["percent"]
    figure.update_yaxes(
        title_text=safe_text(_unit_title(rows)), range=[0, 100] if all_percent else None, rangemode="tozero"
    )
    figure.update_xaxes(title_text="Year", dtick=1, tickformat="d")
    figure.update_layout(legend={"orientation": "h", "y": -0.18, "x": 0, "yanchor": "top"}, height=640)
    _add_legend_keys(figure, rows)
    _add_secondary_note(figure, rows, y=1.02, kind="lines")
    return figure


def _add_legend_keys(figure: go.Figure, rows: pd.DataFrame) -> None:
    """Legend entries explaining filled vs hollow markers (a series may mix both)."""
    if not (rows["verification"] == "secondary").any():
        return
    for name, symbol, dash in (
        ("Primary source (filled marker)", PRIMARY_SYMBOL, "solid"),
        ("Secondary source (hollow marker, dotted line)", hollow(PRIMARY_SYMBOL), "dot"),
    ):
        figure.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines+markers",
                name=name,
                legendgroup="verification",
                line={"color": "#888888", "dash": dash},
                marker={"symbol": symbol, "size": 10, "color": "#888888"},
                hoverinfo="skip",
                meta={"legend_key": True},
            )
        )


def _mark_series_break(figure: go.Figure, rows: pd.DataFrame, dataset: str, metric: str, series: pd.DataFrame) -> None:
    breaks = series.loc[series["series_break"].astype(bool)]
    if breaks.empty:
        return
    first_break = int(breaks["year"].min())
    # Half a year before the first changed value: the change happened between the two surveys.
    x = first_break - 0.5
    label = f"{dataset_label(dataset)}: series break (question changed)"
    if any(getattr(shape, "x0", None) == x for shape in figure.layout.shapes):
        return
    figure.add_vline(
        x=x,
        line={"dash": "dash", "color": "#777777", "width": 1},
        annotation={"text": safe_text(label), "font": {"size": 11, "color": "#555555"}},
        annotation_position="top left",
    )


def build_adoption_over_time(rows: pd.DataFrame) -> go.Figure:
    """Headline adoption by survey over time, each line labelled with what its survey counts."""
    return build_time_series(
        rows,
        title="Share of organisations using AI, by survey (%)",
        subtitle="Surveys count different things (respondents' organisations, all US firms, EU enterprises), so levels differ 5-10x",
    )


def build_segment_bars(rows: pd.DataFrame, title: str, category: str = "segment") -> go.Figure:
    """Small multiples: one horizontal bar panel per (dataset, metric, definition, year).

    Args:
        rows: rows to draw; each panel is titled with its source, year, unit and definition.
        title: the chart title (say the unit).
        category: the column giving the bar labels (``segment`` or ``geography``).
    """
    if rows.empty:
        return _empty_figure(title)
    keys = ["dataset", "metric", "definition", "year"]
    panels = [(key, panel) for key, panel in rows.groupby(keys, sort=False)]
    sizes = [len(panel) for _, panel in panels]
    height = 130 + sum(34 * size + 110 for size in sizes)
    spacing = min(100 / height, 0.9 / max(len(panels) - 1, 1))
    titles = [
        f"<b>{safe_text(dataset_label(dataset))}, {year}</b> · {safe_text(panel['unit'].iloc[0])}<br>{wrapped(definition, 95)}"
        for (dataset, _metric, definition, year), panel in panels
    ]
    figure = make_subplots(rows=len(panels), cols=1, row_heights=sizes, vertical_spacing=spacing, subplot_titles=titles)
    _base_layout(figure, title)
    figure.update_layout(margin={"t": 120})
    user = _user_datasets(rows)
    for number, ((dataset, metric, _definition, year), panel) in enumerate(panels, start=1):
        panel = panel.sort_values("value", kind="stable")
        secondary = (panel["verification"] == "secondary").tolist()
        labels = ["All (overall)" if c == "All" else safe_text(c) for c in panel[category]]
        customdata = [
            [
                value_label(row["value"], row["unit"], row.get("qualifier", "")),
                "" if row["unit"] == "percent" else safe_text(row["unit"]),
                safe_text(_when(row)),
                safe_text(row["source_org"]),
                row["verification"],
            ]
            for _, row in panel.iterrows()
        ]
        colour = colour_for(dataset, user)
        figure.add_trace(
            go.Bar(
                x=panel["value"].tolist(),
                y=labels,
                orientation="h",
                name=safe_text(f"{dataset_label(dataset)} ({year})"),
                showlegend=False,
                marker={
                    "color": colour,
                    "opacity": [_BOUND_OPACITY if q in _BOUNDS else 1.0 for q in panel["qualifier"]],
                    "line": {"color": colour, "width": 1},
                    "pattern": {
                        "shape": [SECONDARY_PATTERN if s else "" for s in secondary],
                        "fgcolor": "#ffffff",
                        "solidity": 0.35,
                    },
                },
                text=[c[0] for c in customdata],
                textposition="outside",
                cliponaxis=False,
                customdata=customdata,
                hovertemplate=BAR_HOVER,
                meta={"dataset": dataset, "metric": metric, "year": int(year)},
            ),
            row=number,
            col=1,
        )
    _share_value_axes(figure, panels)
    figure.update_annotations(font={"size": 12}, xanchor="left", x=0, align="left")
    figure.update_layout(height=height, bargap=0.25, margin={"b": 70})
    _add_secondary_note(figure, rows, y=-45 / height, kind="bars")
    return figure


def _share_value_axes(figure: go.Figure, panels: list) -> None:
    """Panels in the same unit get the same value axis, so bar lengths compare across panels."""
    extent: dict[str, tuple[float, float]] = {}
    for _key, panel in panels:
        unit = panel["unit"].iloc[0]
        low, high = extent.get(unit, (0.0, 0.0))
        extent[unit] = (min(low, float(panel["value"].min())), max(high, float(panel["value"].max())))
    for number, (_key, panel) in enumerate(panels, start=1):
        unit = panel["unit"].iloc[0]
        low, high = extent[unit]
        upper = 110.0 if unit == "percent" and high <= 100 else high * 1.15
        figure.update_xaxes(range=[low * 1.15, upper], row=number, col=1)


def build_adoption_by_segment(rows: pd.DataFrame, kind: str) -> go.Figure:
    """Adoption by industry, company size, country/region or business function."""
    category = "geography" if kind == "country" else "segment"
    return build_segment_bars(rows, SEGMENT_TITLES.get(kind, "AI use by segment (%)"), category=category)


def build_investment_by_country(rows: pd.DataFrame) -> go.Figure:
    """Private AI investment by country (USD billion), one panel per year and source."""
    return build_segment_bars(rows, "Private AI investment by country (USD billion)", category="geography")


def build_investment_by_focus_area(rows: pd.DataFrame) -> go.Figure:
    """AI investment by focus area or sector (USD billion), one panel per source and year."""
    return build_segment_bars(rows, "AI investment by focus area (USD billion)", category="segment")


def _model_dates(points: pd.DataFrame) -> pd.Series:
    dates = pd.to_datetime(points["period"], errors="coerce", format="%Y-%m-%d")
    # Rows with only a year are placed mid-year; their hover still says just the year.
    fallback = pd.to_datetime(points["year"].astype(int).astype(str) + "-07-01")
    return dates.fillna(fallback)


def build_model_scale(rows: pd.DataFrame, metric: str = "parameters") -> go.Figure:
    """Parameters or training compute of notable models over time, log scale, with hover details.

    Marker shape shows Epoch's confidence (circle confident, diamond likely, x speculative);
    a growth-rate row in ``rows`` (e.g. ``training_compute_growth``) becomes a note on the chart.
    """
    unit_title = {"parameters": "Parameters", "training_compute": "Training compute (FLOP)"}.get(metric, metric)
    title = f"{unit_title} of notable AI models over time (log scale)"
    points = rows.loc[rows["metric"] == metric]
    if points.empty:
        return _empty_figure(title)
    figure = _base_layout(
        go.Figure(), title, subtitle="Each point is one model; hover for developer, date and Epoch's confidence"
    )
    points = points.assign(_date=_model_dates(points))
    # Neighbouring labels alternate above and below their point, so crowded years stay legible.
    order = points["_date"].rank(method="first").astype(int)
    points = points.assign(_label_at=["top center" if rank % 2 else "bottom center" for rank in order])
    has_confidence = "confidence" in points.columns
    group_keys = ["dataset", "confidence"] if has_confidence else ["dataset"]
    user = _user_datasets(points)
    for key, group in points.groupby(group_keys, sort=False):
        dataset = key[0] if isinstance(key, tuple) else key
        confidence = key[1] if has_confidence and isinstance(key, tuple) else ""
        symbol = CONFIDENCE_SYMBOLS.get(confidence, PRIMARY_SYMBOL)
        secondary = (group["verification"] == "secondary").tolist()
        colour = colour_for(dataset, user)
        customdata = [
            [
                safe_text(row.get("organization", "") or dataset_label(dataset)),
                safe_text(row["period"] or row["year"]),
                human_number(row["value"], row["unit"]),
                safe_text(confidence or "not given"),
                safe_text(row["source_org"]),
                row["verification"],
            ]
            for _, row in group.iterrows()
        ]
        name = f"{dataset_label(dataset)}: {confidence.lower() or 'all'}" if confidence else dataset_label(dataset)
        figure.add_trace(
            go.Scatter(
                x=group["_date"].tolist(),
                y=group["value"].tolist(),
                mode="markers+text",
                name=safe_text(name),
                text=[safe_text(s) for s in group["segment"]],
                textposition=group["_label_at"].tolist(),
                textfont={"size": 10, "color": "#444444"},
                marker={
                    "symbol": [hollow(symbol) if s else symbol for s in secondary],
                    "size": 11,
                    "color": colour,
                    "line": {"width": 1.5, "color": colour},
                },
                customdata=customdata,
                hovertemplate=MODEL_HOVER,
                meta={"dataset": dataset, "metric": metric},
            )
        )
    figure.update_yaxes(type="log", dtick=1, title_text=safe_text(f"{unit_title}, log scale"), exponentformat="power")
    figure.update_xaxes(title_text="Publication date")
    figure.update_layout(height=560, legend={"orientation": "h", "y": -0.15, "x": 0, "yanchor": "top"})
    for _, trend in rows.loc[rows["metric"] != metric].iterrows():
        figure.add_annotation(
            text=wrapped(
                f"Trend: {trend['value']:g}{'x' if trend['unit'] == 'x per year' else ' ' + trend['unit']} per year. "
                f"{trend['definition']} ({trend['source_org']}, {int(trend['year'])})",
                80,
            ),
            showarrow=False,
            x=0.01,
            y=0.98,
            xref="paper",
            yref="paper",
            xanchor="left",
            yanchor="top",
            align="left",
            bgcolor="rgba(255,255,255,0.8)",
            font={"size": 11},
            name="trend-note",
        )
    _add_secondary_note(figure, points, y=1.02, kind="points")
    return figure
