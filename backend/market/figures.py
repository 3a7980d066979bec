"""Pure figure builders: a table of market rows in, a plotly figure out (no I/O, no streamlit).

Every builder draws exactly the rows it is given (choose them with
:mod:`backend.market.selections`), so the page can cite and offer for download the same rows.
Secondary rows are drawn hollow, dotted or hatched, and a note under the chart says so.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backend.market.figure_layout import (
    add_secondary_note,
    bar_marker,
    base_layout,
    empty_figure,
    user_datasets,
    when,
)
from backend.market.growth import series_changes
from backend.market.industries import document_industry_of
from backend.market.series_labels import (
    PRIMARY_SYMBOL,
    SERIES_SYMBOLS,
    colour_for,
    dataset_label,
    dataset_rank,
    hollow,
    safe_text,
    value_label,
    wrapped,
)

TIME_HOVER = (
    "<b>%{customdata[0]}</b><br>%{customdata[1]}: <b>%{customdata[2]}</b><br>%{customdata[3]}"
    "<br>Source: %{customdata[4]} (%{customdata[5]})%{customdata[6]}<extra></extra>"
)
BAR_HOVER = (
    "<b>%{y}</b>: %{customdata[0]} %{customdata[1]}<br>%{customdata[2]}"
    "<br>Source: %{customdata[3]} (%{customdata[4]})%{customdata[5]}<extra></extra>"
)
FORECAST_DASH = "dash"
# Bars for bounds ("more than $67B") are faded: their length is a limit, not a measurement.
_BOUNDS = ("more than", "less than")
_BOUND_OPACITY = 0.45
SEGMENT_TITLES: dict[str, str] = {
    "industry": "AI use by industry (% of organisations or firms, each survey's own definition)",
    "size": "AI use by company size (% of enterprises or firms)",
    "country": "AI use by country and region (% of enterprises or companies)",
    "function": "Share of respondents reporting value from AI, by business function (%)",
}


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
        return empty_figure(title)
    figure = base_layout(go.Figure(), title, subtitle)
    user = user_datasets(rows)
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
        colour = colour_for(dataset, user)
        name = f"{dataset_label(dataset)}: {definition}" + (f" ({place})" if place else "")
        forecast = _flags(series, "forecast")
        measured, projected = series.loc[[not f for f in forecast]], series.loc[forecast]
        if not projected.empty and not measured.empty:
            # The forecast line starts at the last measured point, so the two parts join.
            projected = pd.concat([measured.tail(1), projected])
        for part, is_forecast in ((measured, False), (projected, True)):
            if part.empty:
                continue
            secondary = (part["verification"] == "secondary").tolist()
            dash = FORECAST_DASH if is_forecast else ("dot" if all(secondary) else "solid")
            publisher = ", ".join(dict.fromkeys(p for p in part.get("publisher", pd.Series(dtype=str)) if p))
            label = name + (f" — forecast ({publisher})" if is_forecast else _change_tag(part))
            figure.add_trace(
                go.Scatter(
                    x=part["year"].astype(int).tolist(),
                    y=part["value"].tolist(),
                    mode="lines+markers",
                    name=wrapped(label, 60),
                    legendgroup=dataset,
                    line={"color": colour, "width": 2, "dash": dash},
                    marker={
                        "symbol": [hollow(symbol) if sec else symbol for sec in secondary],
                        "size": 10,
                        "color": colour,
                        "line": {"width": 2, "color": colour},
                    },
                    customdata=[_time_customdata(row, dataset, definition) for _, row in part.iterrows()],
                    hovertemplate=TIME_HOVER,
                    meta={"dataset": dataset, "metric": metric, "forecast": is_forecast},
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
    add_secondary_note(figure, rows, y=1.02, kind="lines")
    return figure


def _change_tag(part: pd.DataFrame) -> str:
    """' · +8.5 pp/yr' (shares) or ' · +12.0%/yr CAGR' (amounts) when the line has one computed change."""
    changes = series_changes(part)
    if len(changes) != 1:
        return ""
    change = changes[0]
    unit = "pp/yr" if change.per_year_unit == "pp per year" else "%/yr CAGR"
    return (
        f" · {'≈' if change.approximate else ''}{change.per_year:+.1f} {unit} ({change.start_label}–{change.end_label})"
    )


def _flags(rows: pd.DataFrame, column: str) -> list[bool]:
    """A true/false column as a list (False when the table lacks it, e.g. an older upload)."""
    return rows[column].astype(bool).tolist() if column in rows.columns else [False] * len(rows)


def caveat_html(row: pd.Series) -> str:
    """The row's caveat (``note``) as an escaped hover line, or nothing."""
    note = str(row.get("note", "") or "").strip()
    return f"<br><i>Caveat: {wrapped(note, 70)}</i>" if note else ""


def _when_label(row: pd.Series) -> str:
    label = safe_text(when(row))
    if bool(row.get("forecast", False)):
        publisher = str(row.get("publisher", "") or row["source_org"])
        label += f" — FORECAST by {safe_text(publisher)}"
    return label


def _time_customdata(row: pd.Series, dataset: str, definition: str) -> list[str]:
    return [
        safe_text(dataset_label(dataset)),
        _when_label(row),
        value_label(row["value"], row["unit"], row.get("qualifier", "")),
        wrapped(definition, 60),
        safe_text(row["source_org"]),
        row["verification"],
        caveat_html(row),
    ]


def _add_legend_keys(figure: go.Figure, rows: pd.DataFrame) -> None:
    """Legend entries explaining filled vs hollow markers (a series may mix both) and dashed forecasts."""
    keys = []
    if (rows["verification"] == "secondary").any():
        keys += [
            ("Primary source (filled marker)", PRIMARY_SYMBOL, "solid"),
            ("Secondary source (hollow marker, dotted line)", hollow(PRIMARY_SYMBOL), "dot"),
        ]
    if any(_flags(rows, "forecast")):
        keys.append(("Forecast (dashed line; publisher named)", PRIMARY_SYMBOL, FORECAST_DASH))
    for name, symbol, dash in keys:
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
        category: the column giving the bar labels (``segment`` or ``geography``), or ``auto``:
            the segment, or the place where the segment is "All" (e.g. models by country).
    """
    if rows.empty:
        return empty_figure(title)
    keys = ["dataset", "metric", "definition", "year"]
    panels = [(key, panel) for key, panel in rows.groupby(keys, sort=False)]
    sizes = [len(panel) for _, panel in panels]
    height = 130 + sum(34 * size + 110 for size in sizes)
    spacing = min(100 / height, 0.9 / max(len(panels) - 1, 1))
    titles = [
        f"<b>{safe_text(dataset_label(dataset))}, {year}</b> · {safe_text(panel['unit'].iloc[0])}"
        f"{_forecast_tag(panel)}<br>{wrapped(definition, 95)}"
        for (dataset, _metric, definition, year), panel in panels
    ]
    figure = make_subplots(rows=len(panels), cols=1, row_heights=sizes, vertical_spacing=spacing, subplot_titles=titles)
    base_layout(figure, title)
    figure.update_layout(margin={"t": 120})
    user = user_datasets(rows)
    for number, ((dataset, metric, _definition, year), panel) in enumerate(panels, start=1):
        panel = panel.sort_values("value", kind="stable")
        secondary = (panel["verification"] == "secondary").tolist()
        labels = _bar_labels(panel, category)
        customdata = [
            [
                value_label(row["value"], row["unit"], row.get("qualifier", "")),
                "" if row["unit"] == "percent" else safe_text(row["unit"]),
                _when_label(row),
                safe_text(row["source_org"]),
                row["verification"],
                caveat_html(row),
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
                marker=bar_marker(
                    colour, secondary, [_BOUND_OPACITY if q in _BOUNDS else 1.0 for q in panel["qualifier"]]
                ),
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
    add_secondary_note(figure, rows, y=-45 / height, kind="bars")
    return figure


def _bar_labels(panel: pd.DataFrame, category: str) -> list[str]:
    if category == "auto":
        values = [
            g if s == "All" and g != "World" else s for s, g in zip(panel["segment"], panel["geography"], strict=True)
        ]
    else:
        values = panel[category].tolist()
    return ["All (overall)" if c == "All" else safe_text(c) for c in values]


def _forecast_tag(panel: pd.DataFrame) -> str:
    if not any(_flags(panel, "forecast")):
        return ""
    publishers = ", ".join(dict.fromkeys(str(p) for p in panel.get("publisher", pd.Series(dtype=str)) if p))
    return f" · <b>FORECAST</b>{' by ' + safe_text(publishers) if publishers else ''}"


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


def build_industry_ranking(rows: pd.DataFrame) -> go.Figure:
    """Industries ranked within each survey; the source documents' industries are marked with ◆.

    Each panel is one survey measured one way, so its bars compare; bars in different panels do
    not (a physicians' survey, all US firms, Chinese enterprises...).
    """
    marked = rows.assign(
        segment=[
            f"◆ {segment} ({industry.label})" if (industry := document_industry_of(d, segment)) else segment
            for d, segment in zip(rows["dataset"], rows["segment"], strict=True)
        ]
    )
    return build_segment_bars(
        marked,
        "AI adoption by industry, ranked within each survey (%; ◆ = an industry of the source documents)",
        category="segment",
    )


def build_investment_over_time(rows: pd.DataFrame) -> go.Figure:
    """Investment in USD billion over the years the sources give, one line per measure and place."""
    return build_time_series(
        rows,
        title="AI investment over time (USD billion)",
        subtitle="Corporate investment includes M&A and public offerings; private investment is venture and private equity",
    )


def build_spending_forecasts(rows: pd.DataFrame) -> go.Figure:
    """Worldwide AI spending: estimates, and forecasts drawn dashed with their publisher."""
    return build_time_series(
        rows,
        title="AI spending: estimates and forecasts (USD billion)",
        subtitle="Dashed lines are forecasts, named with their publisher; IDC and Gartner count different things",
    )


def build_local_markets(rows: pd.DataFrame) -> go.Figure:
    """China's AI industry size and UK business AI spending, in their own currencies."""
    return build_segment_bars(rows, "AI market size and spending in local currency (China, UK)", category="auto")


def build_model_counts(rows: pd.DataFrame) -> go.Figure:
    """Notable AI models by country of the producing institution, and by sector."""
    return build_segment_bars(rows, "Notable AI models by country and sector (count)", category="auto")


def build_stated_rates(rows: pd.DataFrame) -> go.Figure:
    """Growth rates as the sources state them: one panel per unit, one bar per figure."""
    title = "Growth rates stated by the sources"
    if rows.empty:
        return empty_figure(title)
    units = list(dict.fromkeys(rows["unit"]))
    panels = [(unit, rows.loc[rows["unit"] == unit].sort_values("value", kind="stable")) for unit in units]
    sizes = [len(panel) for _, panel in panels]
    height = 140 + sum(38 * size + 80 for size in sizes)
    figure = make_subplots(
        rows=len(panels),
        cols=1,
        row_heights=sizes,
        vertical_spacing=min(80 / height, 0.9 / max(len(panels) - 1, 1)),
        subplot_titles=[f"<b>{safe_text(unit)}</b>" for unit, _ in panels],
    )
    base_layout(figure, title, "As published; each bar says what grew, where and over which period")
    user = user_datasets(rows)
    for number, (unit, panel) in enumerate(panels, start=1):
        labels = [
            wrapped(
                f"{dataset_label(r['dataset'])}: {r['definition']}"
                + ("" if r["geography"] in ("World", "") else f" ({r['geography']})")
                + ("" if r["segment"] == "All" else f", {r['segment']}")
                + f", {int(r['year'])}",
                80,
            )
            for _, r in panel.iterrows()
        ]
        secondary = (panel["verification"] == "secondary").tolist()
        customdata = [
            [
                value_label(r["value"], r["unit"], r.get("qualifier", "")),
                safe_text(r["unit"]),
                _when_label(r),
                safe_text(r["source_org"]),
                r["verification"],
                caveat_html(r),
            ]
            for _, r in panel.iterrows()
        ]
        colours = [colour_for(d, user) for d in panel["dataset"]]
        figure.add_trace(
            go.Bar(
                x=panel["value"].tolist(),
                y=labels,
                orientation="h",
                marker=bar_marker(colours, secondary),
                text=[c[0] for c in customdata],
                textposition="outside",
                cliponaxis=False,
                customdata=customdata,
                hovertemplate=BAR_HOVER,
                showlegend=False,
                meta={"unit": unit, "datasets": sorted(set(panel["dataset"]))},
            ),
            row=number,
            col=1,
        )
    figure.update_annotations(font={"size": 12}, xanchor="left", x=0, align="left")
    figure.update_layout(height=height, margin={"l": 10, "r": 40, "b": 70})
    add_secondary_note(figure, rows, y=-45 / height, kind="bars")
    return figure


def build_growth_bars(changes: list, title: str = "How fast each series changes") -> go.Figure:
    """Computed change per series: percentage points per year (shares) and CAGR (amounts).

    Args:
        changes: :class:`backend.market.growth.SeriesChange` items.
    """
    if not changes:
        return empty_figure(title)
    panels = [
        (unit, [c for c in changes if c.per_year_unit == unit])
        for unit in ("pp per year", "CAGR %")
        if any(c.per_year_unit == unit for c in changes)
    ]
    sizes = [len(items) for _, items in panels]
    height = 160 + sum(40 * size + 90 for size in sizes)
    subtitles = {
        "pp per year": "<b>Adoption shares: change in percentage points per year</b> (first to last measured year)",
        "CAGR %": "<b>Amounts: compound annual growth rate, %</b> (first to last measured year)",
    }
    figure = make_subplots(
        rows=len(panels),
        cols=1,
        row_heights=sizes,
        vertical_spacing=min(90 / height, 0.3),
        subplot_titles=[subtitles[unit] for unit, _ in panels],
    )
    base_layout(figure, title, "Computed from each series' own first and last value; forecasts excluded")
    for number, (unit, items) in enumerate(panels, start=1):
        items = sorted(items, key=lambda c: c.per_year)
        figure.add_trace(
            go.Bar(
                x=[c.per_year for c in items],
                y=[wrapped(c.label(), 70) for c in items],
                orientation="h",
                marker={"color": [colour_for(c.dataset) for c in items]},
                text=[f"{c.per_year:+.1f}" for c in items],
                textposition="outside",
                cliponaxis=False,
                customdata=[[safe_text(c.text()), safe_text(c.unit)] for c in items],
                hovertemplate="<b>%{y}</b><br>%{customdata[0]}<br>Unit of the series: %{customdata[1]}<extra></extra>",
                showlegend=False,
                meta={"unit": unit},
            ),
            row=number,
            col=1,
        )
    figure.update_annotations(font={"size": 12}, xanchor="left", x=0, align="left")
    figure.update_layout(height=height, margin={"l": 10, "r": 40})
    return figure
