"""Pure figure builders: a table of market rows in, a plotly figure out (no I/O, no streamlit).

Every builder draws exactly the rows it is given (choose them with
:mod:`backend.market.selections`), so the page can cite and offer for download the same rows.
Secondary rows are drawn hollow, dotted or hatched, and a note under the chart says so.
"""

from __future__ import annotations

import colorsys
import math
import re
from collections.abc import Callable

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backend.i18n import N_, _, current_language
from backend.i18n.formats import format_amount
from backend.market.figure_layout import (
    LABEL_CHARS,
    LEGEND_CHARS,
    LINE_CHARS,
    NOTE_CHARS,
    NOTE_LINE_PX,
    add_paper_note,
    add_secondary_note_below,
    bar_marker,
    base_layout,
    empty_figure,
    fit_legend_below,
    secondary_note_height,
    user_datasets,
    when,
)
from backend.market.growth import series_changes
from backend.market.industries import document_industry_of
from backend.market.selections import spending_panel
from backend.market.series_labels import (
    DATASET_LABELS,
    MONEY_UNITS,
    PRIMARY_SYMBOL,
    SERIES_SYMBOLS,
    colour_for,
    data_label,
    dataset_label,
    dataset_rank,
    display_width,
    hollow,
    measure_group,
    safe_text,
    states_unit,
    value_label,
    verification_label,
    wrapped,
)

TIME_HOVER = N_(
    "<b>%{customdata[0]}</b><br>%{customdata[1]}: <b>%{customdata[2]}</b><br>%{customdata[3]}"
    "<br>Source: %{customdata[4]} (%{customdata[5]})%{customdata[6]}<extra></extra>"
)
# Line colours for further series once a chart has used a source's own colour (the same source's
# second, third... series): far from each other and from the source colours' first uses.
SERIES_PALETTE: tuple[str, ...] = (
    "#e9c46a",
    "#0077b6",
    "#d62828",
    "#2a9134",
    "#f77f00",
    "#5e548e",
    "#00a6a6",
    "#9d0208",
    "#6c757d",
    "#ff5d8f",
    "#3d405b",
    "#81b29a",
)


class SeriesColours:
    """Hands out one colour per line of a chart: a source's own colour for its first line, then
    unused colours, so no two lines of one chart share a colour."""

    def __init__(self, user: list[str] | None = None) -> None:
        self._user = user or []
        self._used: set[str] = set()

    def next(self, dataset: str) -> str:
        """The colour of the next line of ``dataset``."""
        own = colour_for(dataset, self._user)
        if own not in self._used:
            self._used.add(own)
            return own
        for colour in SERIES_PALETTE:
            if all(colour_distance(colour, used) >= DISTINCT_COLOURS for used in self._used):
                self._used.add(colour)
                return colour
        for colour in SERIES_PALETTE:
            if colour not in self._used:
                self._used.add(colour)
                return colour
        # More lines than the palette has colours (a user's table with many segments): the generated
        # colour farthest from every one already used, so a line never repeats another's colour.
        colour = max(
            (c for c in _GENERATED_COLOURS if c not in self._used),
            key=lambda c: min(colour_distance(c, used) for used in self._used),
        )
        self._used.add(colour)
        return colour


def _hls_hex(hue: float, lightness: float, saturation: float) -> str:
    red, green, blue = colorsys.hls_to_rgb(hue, lightness, saturation)
    return "#{:02x}{:02x}{:02x}".format(*(round(255 * c) for c in (red, green, blue)))


# Hues spread by the golden angle at two lightnesses that read on white: enough for any legend.
_GENERATED_COLOURS: tuple[str, ...] = tuple(
    _hls_hex((n * 0.381966) % 1.0, 0.32 if n % 2 else 0.5, 0.75) for n in range(96)
)


# Two line colours closer than this ("redmean" distance, 0-765) read as one on a projector:
# the AI Index's own dark red and the palette's #9d0208 are 51 apart.
DISTINCT_COLOURS = 100


def colour_distance(first: str, second: str) -> float:
    """Perceptual distance between two #rrggbb colours (the "redmean" approximation)."""
    r1, g1, b1 = (int(first[i : i + 2], 16) for i in (1, 3, 5))
    r2, g2, b2 = (int(second[i : i + 2], 16) for i in (1, 3, 5))
    mean = (r1 + r2) / 2
    return ((2 + mean / 256) * (r1 - r2) ** 2 + 4 * (g1 - g2) ** 2 + (2 + (255 - mean) / 256) * (b1 - b2) ** 2) ** 0.5


BAR_HOVER = N_(
    "<b>%{y}</b>: %{customdata[0]} %{customdata[1]}<br>%{customdata[2]}"
    "<br>Source: %{customdata[3]} (%{customdata[4]})%{customdata[5]}<extra></extra>"
)
FORECAST_DASH = "dash"
# Bars for bounds ("more than $67B") are faded: their length is a limit, not a measurement.
_BOUNDS = ("more than", "less than")
_BOUND_OPACITY = 0.45
SEGMENT_TITLES: dict[str, str] = {
    "industry": N_("AI use by industry (% of organisations or firms, each survey's own definition)"),
    "size": N_("AI use by company size (% of enterprises or firms)"),
    "country": N_("AI use by country and region (% of enterprises or companies)"),
    "function": N_("Share of respondents reporting value from AI, by business function (%)"),
}


def _unit_title(rows: pd.DataFrame) -> str:
    units = sorted(rows["unit"].unique())
    if units == ["percent"]:
        return "%"
    return ", ".join(data_label("unit", unit) for unit in units)


# Forecasts more than this many years past the last measured year are named in a note instead of
# stretching the axis (one 2040 projection would squeeze 2017-2025 into a third of the width).
FAR_FORECAST_YEARS = 5
# Gap between stacked panels of one chart, as a share of its plot area.
PANEL_SPACING = 0.12
# Series keys of a line: a new definition version or report edition starts a new line (a gap).
LINE_KEYS = ["dataset", "metric", "definition", "definition_version", "edition", "_place", "segment"]


def _series_name(dataset: str, place: str, edition: str, series: pd.DataFrame, versions: int) -> str:
    """A short legend name: source, place, edition, and where a definition changed, which years
    this version covers (the definition itself is in the hover)."""
    # A user's series is named with its definition: theirs is not a source a reader knows by name
    # (a quick upload's definition already ends with the source's name: "value (segments)").
    definition = str(series["definition"].iloc[0]).removesuffix(f" ({dataset})")
    parts = [dataset_label(dataset) if dataset in DATASET_LABELS else f"{dataset}: {definition}"]
    if dataset in DATASET_LABELS and bool(series["_several_metrics"].iloc[0]):
        # One source's different measures in one chart (corporate vs private investment) need their
        # names; an edition ("AI Index 2024") already names the source, so the entry stays one line.
        metric = str(series["metric"].iloc[0])
        measure = data_label("metric", metric) if current_language() != "en" else metric_label(metric)
        parts[0] = measure if edition else f"{parts[0]}: {measure}"
    if place:
        parts.append(data_label("geography", place))
    if edition:
        parts.append(data_label("edition", edition))
    if versions > 1:
        first, last = int(series["year"].min()), int(series["year"].max())
        years = str(first) if first == last else f"{first}–{last}"
        parts.append(years + (_(" (new definition)") if series["series_break"].astype(bool).any() else ""))
    return " · ".join(parts)


_METRIC_WORDS = {"ai": "AI", "genai": "gen-AI", "us": "US", "uk": "UK", "eu": "EU"}


def metric_label(metric: str) -> str:
    """A metric's machine name as words: ``private_genai_investment`` -> "Private gen-AI investment"."""
    words = [_METRIC_WORDS.get(word, word) for word in metric.split("_")]
    return " ".join(words)[:1].upper() + " ".join(words)[1:]


def build_time_series(
    rows: pd.DataFrame, title: str, subtitle: str = "", panel_of: Callable[[pd.Series], str] | None = None
) -> go.Figure:
    """One line per series over ``year``, each series in its own colour, named briefly.

    A series is one (dataset, metric, definition, definition version, edition[, geography]). A
    definition change or a new report edition starts a new line, so values measured differently
    are never joined: the line has a gap there, a dashed vertical marker says so, and the hover of
    each point names its definition version and caveat.

    Args:
        rows: the rows to draw.
        title, subtitle: the chart's title and subtitle.
        panel_of: optional row -> panel title; each panel is stacked with its own value axis, so
            different measures (or publishers counting different things) never share an axis.
    """
    if rows.empty:
        return empty_figure(title)
    rows = _with_columns(rows, ("definition_version", "edition"))
    panel_titles = list(dict.fromkeys(panel_of(row) for _, row in rows.iterrows())) if panel_of else [""]
    if panel_of:
        rows = rows.assign(_panel=[panel_of(row) for _, row in rows.iterrows()])
        figure = make_subplots(
            rows=len(panel_titles),
            cols=1,
            shared_xaxes=True,
            vertical_spacing=PANEL_SPACING if len(panel_titles) > 1 else 0.0,
            # A panel is named by a measure group (a data label) or a publisher's panel (a marked constant).
            subplot_titles=[f"<b>{wrapped(_(data_label('measure_group', t)), LINE_CHARS)}</b>" for t in panel_titles],
        )
        base_layout(figure, title, subtitle)
    else:
        rows = rows.assign(_panel="")
        figure = base_layout(go.Figure(), title, subtitle)
    measured_years = rows.loc[[not f for f in _flags(rows, "forecast")], "year"]
    last_measured = int(measured_years.max()) if not measured_years.empty else int(rows["year"].min())
    far = rows.loc[
        [
            bool(f) and int(y) > last_measured + FAR_FORECAST_YEARS
            for f, y in zip(_flags(rows, "forecast"), rows["year"], strict=True)
        ]
    ]
    drawn = rows.drop(index=far.index)
    user = user_datasets(rows)
    shapes_per_dataset: dict[str, int] = {}
    ordered = drawn.assign(_rank=drawn["dataset"].map(dataset_rank)).sort_values("_rank", kind="stable")
    several_places = ordered.groupby(["dataset", "metric", "definition"])["geography"].transform("nunique") > 1
    ordered = ordered.assign(_place=ordered["geography"].where(several_places, ""))
    versions = ordered.groupby(["dataset", "metric", "_place"])["definition_version"].transform("nunique")
    several_metrics = ordered.groupby("dataset")["metric"].transform("nunique") > 1
    ordered = ordered.assign(_versions=versions, _several_metrics=several_metrics)
    colours = SeriesColours(user)
    for (panel, *key), series in ordered.groupby(["_panel"] + LINE_KEYS, sort=False):
        dataset, metric, definition, version, edition, place, segment = (str(k) for k in key)
        index = shapes_per_dataset.get(dataset, 0)
        shapes_per_dataset[dataset] = index + 1
        symbol = SERIES_SYMBOLS[index % len(SERIES_SYMBOLS)]
        colour = colours.next(dataset)
        name = _series_name(dataset, place, edition, series, int(series["_versions"].iloc[0]))
        if segment not in ("All", ""):
            name += f" · {data_label('segment', segment)}"
        row_number = panel_titles.index(panel) + 1
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
            publisher = _publishers(part)
            forecast_tag = _(" — forecast ({publisher})").format(publisher=publisher)
            label = name + (forecast_tag if is_forecast else _change_tag(part, name))
            trace = go.Scatter(
                x=part["year"].astype(int).tolist(),
                y=part["value"].tolist(),
                mode="lines+markers",
                name=wrapped(label, LEGEND_CHARS),
                legendgroup=name,
                line={"color": colour, "width": 2, "dash": dash},
                marker={
                    "symbol": [hollow(symbol) if sec else symbol for sec in secondary],
                    "size": 9,
                    "color": colour,
                    "line": {"width": 2, "color": colour},
                },
                customdata=[_time_customdata(row, dataset, definition) for _, row in part.iterrows()],
                hovertemplate=_(TIME_HOVER),
                meta={
                    "dataset": dataset,
                    "metric": metric,
                    "forecast": is_forecast,
                    "definition_version": version,
                    "edition": edition,
                    "panel": panel,
                    "measure_group": measure_group(part.iloc[0]),
                },
            )
            if panel_of:
                figure.add_trace(trace, row=row_number, col=1)
            else:
                figure.add_trace(trace)
        _mark_series_break(figure, series, dataset, row_number if panel_of else None)
    for number, panel in enumerate(panel_titles, start=1):
        panel_rows = rows.loc[rows["_panel"] == panel]
        all_percent = sorted(panel_rows["unit"].unique()) == ["percent"]
        top = float(panel_rows["value"].max()) if not panel_rows.empty else 0.0
        upper = min(100.0, max(10.0, top * 1.25)) if all_percent else None
        axis = {"title_text": safe_text(_unit_title(panel_rows)), "rangemode": "tozero"}
        axis.update(_money_ticks(panel_rows))
        if upper is not None:
            axis["range"] = [0, upper]
        if panel_of:
            figure.update_yaxes(**axis, row=number, col=1)
        else:
            figure.update_yaxes(**axis)
    low = int(drawn["year"].min()) if not drawn.empty else last_measured
    high = int(drawn["year"].max()) if not drawn.empty else last_measured
    # Every year while eight fit a phone's plot (narrower beside money ticks in 亿), then every other.
    figure.update_xaxes(dtick=1 if high - low <= 6 else 2, tickformat="d", range=[low - 0.5, high + 0.5])
    if panel_of:
        # Subplot titles are the first annotations: left-aligned over their panel, not centred.
        for annotation in figure.layout.annotations[: len(panel_titles)]:
            annotation.update(x=0, xanchor="left", font={"size": 12})
    if not far.empty:
        note = wrapped(
            _("Not drawn, too far ahead to share this axis: {forecasts}").format(
                forecasts="; ".join(
                    _("{source} {year} forecast {value}").format(
                        source=dataset_label(r["dataset"]),
                        year=int(r["year"]),
                        value=value_label(r["value"], r["unit"], r.get("qualifier", "")),
                    )
                    for _index, r in far.iterrows()
                )
            ),
            NOTE_CHARS,
        )
        # Its own strip of the top margin, just above the plot (and above the first panel's title):
        # clear of the chart's title and of the lines.
        panel_title = 16 * (figure.layout.annotations[0].text.count("<br>") + 1) if panel_of else 0
        room = NOTE_LINE_PX * (note.count("<br>") + 1) + 6
        figure.update_layout(margin={"t": figure.layout.margin.t + room})
        add_paper_note(
            figure, note, "far-forecast-note", (0, 1.0), ("left", "bottom"), yshift=4 + panel_title, align="left"
        )
    _add_legend_keys(figure, drawn)
    fit_legend_below(figure, len(panel_titles), spacing=PANEL_SPACING if len(panel_titles) > 1 else 0.0)
    return figure


def _money_ticks(rows: pd.DataFrame) -> dict[str, object]:
    """Value-axis ticks of one money unit written in 万 / 亿 with the currency for Chinese readers
    ("2,000亿美元" where the data says 200 USD billion); nothing to change otherwise."""
    units = rows["unit"].unique()
    if current_language() != "zh" or len(units) != 1 or units[0] not in MONEY_UNITS or rows.empty:
        return {}
    size, currency = MONEY_UNITS[units[0]]
    top = float(rows["value"].max())
    if top <= 0:
        return {}
    # A 1-2-5 step giving four to eight ticks up to the largest value.
    magnitude = 10 ** math.floor(math.log10(top / 4))
    step = next(m * magnitude for m in (1, 2, 5, 10) if top / (m * magnitude) <= 8)
    ticks = [step * n for n in range(int(top // step) + 2)]
    return {
        "tickvals": ticks,
        "ticktext": [format_amount(tick * size, _(currency), decimals=1) for tick in ticks],
        "title_text": "",
    }


def _with_columns(rows: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """``rows`` with each of ``columns`` present (empty text where a table lacks it, e.g. an upload)."""
    missing = {column: "" for column in columns if column not in rows.columns}
    filled = rows.assign(**missing) if missing else rows
    return filled.assign(**{column: filled[column].fillna("").astype(str) for column in columns})


def _change_tag(part: pd.DataFrame, name: str = "") -> str:
    """' · +8.5 pp/yr (2021–2024)' (shares) or ' · +12.0%/yr CAGR' (amounts) when the line has one
    computed change; the period is left out when ``name`` already says it (a short legend entry)."""
    changes = series_changes(part)
    if len(changes) != 1:
        return ""
    change = changes[0]
    # No-break spaces keep a value with its unit when the legend entry is wrapped.
    rate = _("{change}\u00a0pp/yr") if change.per_year_unit == "pp per year" else _("{change}%/yr\u00a0CAGR")
    period = f"{change.start_label}–{change.end_label}"
    said = f" ({period})" if period not in name else ""
    value = f"{'≈' if change.approximate else ''}{change.per_year:+.1f}"
    return f" · {rate.format(change=value)}{said}"


def _flags(rows: pd.DataFrame, column: str) -> list[bool]:
    """A true/false column as a list (False when the table lacks it, e.g. an older upload)."""
    return rows[column].astype(bool).tolist() if column in rows.columns else [False] * len(rows)


def caveat_html(row: pd.Series) -> str:
    """The row's caveat (``note``) as an escaped hover line, or nothing."""
    note = data_label("note", str(row.get("note", "") or "").strip())
    return "<br><i>" + _("Caveat: {note}").format(note=wrapped(note, 70)) + "</i>" if note else ""


def _when_label(row: pd.Series) -> str:
    label = safe_text(when(row))
    if bool(row.get("forecast", False)):
        publisher = data_label("source_org", row.get("publisher", "") or row["source_org"])
        label += _(" — FORECAST by {publisher}").format(publisher=safe_text(publisher))
    return label


def _time_customdata(row: pd.Series, dataset: str, definition: str) -> list[str]:
    version = str(row.get("definition_version", "") or "")
    population = data_label("population", row.get("population", "") or "")
    described = data_label("definition", definition)
    described += _(". Counts: {population}").format(population=population) if population else ""
    described += (
        _(". Definition: {version}").format(version=data_label("definition_version", version)) if version else ""
    )
    if bool(row.get("series_break", False)):
        described += _(". SERIES BREAK: measured with a new definition, not joined to earlier values")
    return [
        safe_text(dataset_label(dataset)),
        _when_label(row),
        value_label(row["value"], row["unit"], row.get("qualifier", "")),
        wrapped(described, 60),
        safe_text(data_label("source_org", row["source_org"])),
        verification_label(row["verification"]),
        caveat_html(row),
    ]


def _add_legend_keys(figure: go.Figure, rows: pd.DataFrame) -> None:
    """Legend entries explaining filled vs hollow markers (a series may mix both) and dashed forecasts."""
    keys = []
    if (rows["verification"] == "secondary").any():
        keys += [
            (_("Primary source (filled marker)"), PRIMARY_SYMBOL, "solid"),
            (_("Secondary source (hollow marker, dotted line)"), hollow(PRIMARY_SYMBOL), "dot"),
        ]
    if any(_flags(rows, "forecast")):
        keys.append((_("Forecast (dashed line; publisher named)"), PRIMARY_SYMBOL, FORECAST_DASH))
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


def _mark_series_break(figure: go.Figure, series: pd.DataFrame, dataset: str, row: int | None) -> None:
    """A dashed vertical line half a year before a series' first changed value (the change happened
    between the two surveys), labelled once per place on the axis; the reason is in the points' hover."""
    breaks = series.loc[series["series_break"].astype(bool)]
    if breaks.empty:
        return
    x = int(breaks["year"].min()) - 0.5
    xref = "x" if row in (None, 1) else f"x{row}"
    if any(getattr(shape, "x0", None) == x and getattr(shape, "xref", "x") == xref for shape in figure.layout.shapes):
        return
    line = {"dash": "dash", "color": "#777777", "width": 1}
    annotation = {"text": _("definition changed"), "font": {"size": 11, "color": "#555555"}}
    if row is None:
        figure.add_vline(x=x, line=line, annotation=annotation, annotation_position="top left")
    else:
        figure.add_vline(x=x, line=line, annotation=annotation, annotation_position="top left", row=row, col=1)


def build_adoption_over_time(rows: pd.DataFrame) -> go.Figure:
    """Headline adoption over time for ONE measure group (``selections.by_measure_group``): every
    line counts the same kind of unit with the same size threshold, so the levels compare."""
    groups = sorted({measure_group(row) for _, row in rows.iterrows()}) if not rows.empty else []
    group = data_label("measure_group", groups[0]) if len(groups) == 1 else _("several measures")
    return build_time_series(
        rows,
        title=_("AI use over time: {group} (%)").format(group=group),
        subtitle=_("One survey's own population per line; other measures never share this axis"),
        panel_of=None if len(groups) <= 1 else measure_group,
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
    titles = [
        _panel_heading(f"{dataset_label(dataset)}, {year}", str(panel["unit"].iloc[0]), _forecast_tag(panel))
        + f"<br>{_first_lines(data_label('definition', definition), 3)}"
        for (dataset, _metric, definition, year), panel in panels
    ]
    # Room above each panel for its title (several lines on a phone) and per bar for a two-line label.
    title_room = 16 * max(t.count("<br>") + 1 for t in titles) + 18
    sizes = [len(panel) for _, panel in panels]
    # Plotly's spacing is a share of the plotting area (the height less the margins), not of the height.
    bar = _bar_px([label for _, panel in panels for label in _bar_labels(panel, category)])
    plot_height = sum(bar * size for size in sizes) + title_room * (len(panels) - 1)
    spacing = min(1.1 * title_room / plot_height, 0.9 / max(len(panels) - 1, 1))
    figure = make_subplots(rows=len(panels), cols=1, row_heights=sizes, vertical_spacing=spacing, subplot_titles=titles)
    base_layout(figure, title)
    # The first panel's title sits above its panel, in the top margin.
    figure.update_layout(margin={"t": figure.layout.margin.t + title_room})
    user = user_datasets(rows)
    for number, ((dataset, metric, _definition, year), panel) in enumerate(panels, start=1):
        panel = panel.sort_values("value", kind="stable")
        secondary = (panel["verification"] == "secondary").tolist()
        labels = _bar_labels(panel, category)
        customdata = [
            [
                value_label(row["value"], row["unit"], row.get("qualifier", "")),
                "" if states_unit(row["unit"]) else safe_text(data_label("unit", row["unit"])),
                _when_label(row) + "<br>" + wrapped(data_label("definition", row["definition"]), 60),
                safe_text(data_label("source_org", row["source_org"])),
                verification_label(row["verification"]),
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
                hovertemplate=_(BAR_HOVER),
                meta={"dataset": dataset, "metric": metric, "year": int(year)},
            ),
            row=number,
            col=1,
        )
    _share_value_axes(figure, panels)
    # As tall as the title, the bars and the note under them need, so no screen is spent on blank plot.
    bottom = secondary_note_height(rows, "bars") + 24 or 40
    figure.update_layout(height=int(figure.layout.margin.t + plot_height + 20 + bottom), bargap=0.25, margin={"b": 40})
    add_secondary_note_below(figure, rows)
    _align_with_labels(figure)
    return figure


def _panel_heading(name: str, unit: str, tag: str) -> str:
    """A bar panel's first line, "<b>source, year</b> · unit", broken for a phone: plotly never
    wraps, and "Sector surveys (finance, health, teachers), 2024 · percent" ran off a phone's chart."""
    bold = "<br>".join(f"<b>{line}</b>" for line in wrapped(name, LINE_CHARS + 6).split("<br>"))
    last = bold.rsplit("<br>", 1)[-1]
    rest = f"{safe_text(data_label('unit', unit))}{tag}"
    # The unit joins the last line when both fit one phone line (tags are markup, so count their text).
    fits = len(_visible_text(last)) + 3 + len(_visible_text(rest)) <= LINE_CHARS + 6
    return f"{bold} · {rest}" if fits else f"{bold}<br>{rest.removeprefix(' · ')}"


def _visible_text(markup: str) -> str:
    """The text a reader sees of plotly label markup (tags dropped)."""
    return re.sub(r"<[^>]+>", "", markup)


def _first_lines(text: str, count: int) -> str:
    """``text`` wrapped for a phone, at most ``count`` lines (an ellipsis says more is in the hover)."""
    lines = wrapped(text, LINE_CHARS).split("<br>")
    return "<br>".join(lines[:count]) + (" …" if len(lines) > count else "")


def _bar_px(labels: list[str]) -> int:
    """Height per bar: enough for its label's lines, so labels of neighbouring bars never touch."""
    lines = max((str(label).count("<br>") + 1 for label in labels), default=1)
    return max(26, 15 * lines + 12)


def _align_with_labels(figure: go.Figure) -> None:
    """Start panel titles and notes at the left edge of the bar labels rather than of the plot:
    the plot starts after the labels, and on a phone a title starting there runs off the chart."""
    lines = [line for trace in figure.data for label in (trace.y or ()) for line in str(label).split("<br>")]
    shift = -min(7 * max((len(line) for line in lines), default=0), 130)
    figure.update_annotations(font={"size": 12}, xanchor="left", x=0, align="left", xshift=shift)
    # The labels' real width depends on the font the browser picks (the font stack has CJK faces),
    # so the left margin is held to at least the shift: a title shifted past it would be cut.
    margin = figure.layout.margin.l
    figure.update_layout(margin={"l": max(margin if margin is not None else 0, -shift + 8)})


def _bar_labels(panel: pd.DataFrame, category: str) -> list[str]:
    if category == "auto":
        values = [
            data_label("geography", g) if s == "All" and g != "World" else data_label("segment", s)
            for s, g in zip(panel["segment"], panel["geography"], strict=True)
        ]
    else:
        values = [c if c == "All" else data_label(category, c) for c in panel[category]]
    labels = [_("All (overall)") if c == "All" else c for c in values]
    # Two figures for one place in one panel are the ends of a stated range (a forecast's low and
    # high scenario): named so, or plotly would stack them on one bar.
    for label in {label for label in labels if labels.count(label) > 1}:
        spots = sorted((i for i, other in enumerate(labels) if other == label), key=lambda i: panel["value"].iloc[i])
        for number, spot in enumerate(spots, start=1):
            if len(spots) == 2:
                labels[spot] = (_("{label} (low end)") if number == 1 else _("{label} (high end)")).format(label=label)
            else:
                labels[spot] = _("{label} ({number})").format(label=label, number=number)
    return [wrapped(label, LABEL_CHARS) for label in labels]


def _publishers(rows: pd.DataFrame) -> str:
    """Who made the rows' estimates or forecasts, in the reader's language, once each."""
    named = dict.fromkeys(str(p) for p in rows.get("publisher", pd.Series(dtype=str)) if p)
    return _(", ").join(data_label("source_org", publisher) for publisher in named)


def _forecast_tag(panel: pd.DataFrame) -> str:
    if not any(_flags(panel, "forecast")):
        return ""
    publishers = _publishers(panel)
    if not publishers:
        return " · <b>" + _("FORECAST") + "</b>"
    return " · " + _("<b>FORECAST</b> by {publisher}").format(publisher=safe_text(publishers))


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
        # Room right of the longest bar for its value label ("398.323", "48.72%", "3,983.2亿美元") on
        # a phone's narrow plot (about 230 px beside the bar labels, 6.5 px a column of 11 px type).
        widest = max(
            display_width(value_label(v, unit)) for _key, p in panels if p["unit"].iloc[0] == unit for v in p["value"]
        )
        upper = high * max(1.35, 1 / (1 - min(widest * 6.5 / 230, 0.5)))
        # Each bar carries its value, so the value axis needs no tick labels (they would collide
        # with the next panel's title).
        figure.update_xaxes(range=[low * 1.15, upper], showticklabels=False, row=number, col=1)


def build_adoption_by_segment(rows: pd.DataFrame, kind: str) -> go.Figure:
    """Adoption by industry, company size, country/region or business function."""
    category = "geography" if kind == "country" else "segment"
    title = SEGMENT_TITLES.get(kind) or N_("AI use by segment (%)")
    return build_segment_bars(rows, _(title), category=category)


def build_investment_by_country(rows: pd.DataFrame) -> go.Figure:
    """Private AI investment by country (USD billion), one panel per year and source."""
    return build_segment_bars(rows, _("Private AI investment by country (USD billion)"), category="geography")


def build_investment_by_focus_area(rows: pd.DataFrame) -> go.Figure:
    """AI investment by focus area or sector (USD billion), one panel per source and year."""
    return build_segment_bars(rows, _("AI investment by focus area (USD billion)"), category="segment")


def build_industry_ranking(rows: pd.DataFrame, survey: str = "") -> go.Figure:
    """Industries ranked within each survey; the source documents' industries are marked with ◆.

    Each panel is one survey measured one way, so its bars compare; bars in different panels do
    not (a physicians' survey, all US firms, Chinese enterprises...).

    Args:
        rows: the industry rows to draw.
        survey: the one survey drawn, when only one is (it names the chart, so the briefing and its
            picker tell it from the every-survey ranking).
    """
    marked = rows.assign(
        segment=[
            f"◆ {data_label('segment', segment)} ({_(industry.label)})"
            if (industry := document_industry_of(d, segment))
            else segment
            for d, segment in zip(rows["dataset"], rows["segment"], strict=True)
        ]
    )
    title = (
        _("AI adoption by industry, in {survey} (%; ◆ = an industry of the source documents)").format(survey=survey)
        if survey
        else _("AI adoption by industry, ranked within each survey (%; ◆ = an industry of the source documents)")
    )
    return build_segment_bars(
        marked,
        title,
        category="segment",
    )


def build_investment_over_time(rows: pd.DataFrame) -> go.Figure:
    """Investment in USD billion over the years the sources give, one line per measure and place."""
    return build_time_series(
        rows,
        title=_("AI investment over time (USD billion)"),
        subtitle=_(
            "Corporate investment includes M&A and public offerings; private investment is venture and private equity"
        ),
    )


def build_spending_forecasts(rows: pd.DataFrame) -> go.Figure:
    """Worldwide AI spending, one panel per publisher: IDC counts all AI, Gartner generative AI
    including AI-capable devices, so Gartner's subset is larger than IDC's whole and the two never
    share an axis. Forecasts are dashed and name their publisher."""
    return build_time_series(
        rows,
        title=_("AI spending: estimates and forecasts (USD billion)"),
        subtitle=_("One panel per publisher: they count different things, so compare within a panel only"),
        panel_of=spending_panel,
    )


def build_spending_by_industry(rows: pd.DataFrame) -> go.Figure:
    """IDC's forecast split of AI spending by industry (shares and growth rates, 2024-2028)."""
    return build_segment_bars(rows, _("Where AI spending goes by industry: IDC forecast 2024-2028"), category="segment")


def build_local_markets(rows: pd.DataFrame) -> go.Figure:
    """China's AI industry size and UK business AI spending, in their own currencies."""
    return build_segment_bars(rows, _("AI market size and spending in local currency (China, UK)"), category="auto")


def build_model_counts(rows: pd.DataFrame) -> go.Figure:
    """Notable AI models by country of the producing institution, and by sector."""
    return build_segment_bars(rows, _("Notable AI models by country and sector (count)"), category="auto")


def build_stated_rates(rows: pd.DataFrame) -> go.Figure:
    """Growth rates as the sources state them: one panel per unit, one bar per figure."""
    title = _("Growth rates stated by the sources")
    if rows.empty:
        return empty_figure(title)
    units = list(dict.fromkeys(rows["unit"]))
    panels = [(unit, rows.loc[rows["unit"] == unit].sort_values("value", kind="stable")) for unit in units]
    sizes = [len(panel) for _, panel in panels]
    height = 200 + sum(84 * size + 80 for size in sizes)
    figure = make_subplots(
        rows=len(panels),
        cols=1,
        row_heights=sizes,
        vertical_spacing=min(80 / height, 0.9 / max(len(panels) - 1, 1)),
        subplot_titles=[f"<b>{safe_text(data_label('unit', unit))}</b>" for unit, _panel in panels],
    )
    base_layout(figure, title, _("As published; each bar says what grew, where and over which period"))
    figure.update_layout(margin={"t": figure.layout.margin.t + 30})
    user = user_datasets(rows)
    for number, (unit, panel) in enumerate(panels, start=1):
        labels = [
            wrapped(
                f"{dataset_label(r['dataset'])}: {data_label('definition', r['definition'])}"
                + ("" if r["geography"] in ("World", "") else f" ({data_label('geography', r['geography'])})")
                + ("" if r["segment"] == "All" else f", {data_label('segment', r['segment'])}")
                + f", {int(r['year'])}",
                24,
            )
            for _, r in panel.iterrows()
        ]
        secondary = (panel["verification"] == "secondary").tolist()
        customdata = [
            [
                value_label(r["value"], r["unit"], r.get("qualifier", "")),
                "" if states_unit(r["unit"]) else safe_text(data_label("unit", r["unit"])),
                _when_label(r),
                safe_text(data_label("source_org", r["source_org"])),
                verification_label(r["verification"]),
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
                textposition="auto",
                # Level, outside a bar too narrow to hold it, never turned on its side.
                textangle=0,
                cliponaxis=False,
                customdata=customdata,
                hovertemplate=_(BAR_HOVER),
                showlegend=False,
                meta={"unit": unit, "datasets": sorted(set(panel["dataset"]))},
            ),
            row=number,
            col=1,
        )
    figure.update_layout(height=height, margin={"l": 10, "r": 40, "b": 40})
    add_secondary_note_below(figure, rows)
    _align_with_labels(figure)
    return figure


def _growth_names(changes: list) -> dict[int, str]:
    """Each change's bar label, by ``id``: its short name, with its years where one source has
    two series (plotly would stack two bars of one name into one), wrapped for a phone."""
    names = [c.short_label() for c in changes]
    dated = [
        f"{name} ({c.start_label}–{c.end_label})" if names.count(name) > 1 else name
        for name, c in zip(names, changes, strict=True)
    ]
    return {id(c): wrapped(name, LABEL_CHARS) for c, name in zip(changes, dated, strict=True)}


def build_growth_bars(changes: list, title: str = "") -> go.Figure:
    """Computed change per series, one panel per measure group (adoption shares, pp per year) and
    one for amounts (CAGR): bars of different measures never share an axis.

    Args:
        changes: :class:`backend.market.growth.SeriesChange` items.
        title: the chart's title ("How fast each series changes" unless given).
    """
    title = title or _("How fast each series changes")
    amounts = _("Amounts: compound annual growth rate, %")
    if not changes:
        return empty_figure(title)

    def panel_of(change) -> str:
        return change.group if change.per_year_unit == "pp per year" else amounts

    titles = list(dict.fromkeys(panel_of(c) for c in changes))
    panels = [(t, sorted((c for c in changes if panel_of(c) == t), key=lambda c: c.per_year)) for t in titles]
    sizes = [len(items) for _, items in panels]
    names = _growth_names(changes)
    bar = _bar_px(list(names.values()))
    height = 220 + sum(bar * size + 80 for size in sizes)
    figure = make_subplots(
        rows=len(panels),
        cols=1,
        row_heights=sizes,
        vertical_spacing=min(70 / height, 0.9 / max(len(panels) - 1, 1)),
        subplot_titles=[
            f"<b>{safe_text(data_label('measure_group', t))}</b>"
            + ("<br>" + _("percentage points per year") if t != amounts else "")
            for t in titles
        ],
    )
    base_layout(
        figure,
        title,
        _("From each series' own first and last measured value; forecasts, breaks and editions never joined"),
    )
    figure.update_layout(margin={"t": figure.layout.margin.t + 40})
    colours = SeriesColours()
    for number, (_panel, items) in enumerate(panels, start=1):
        figure.add_trace(
            go.Bar(
                x=[c.per_year for c in items],
                y=[names[id(c)] for c in items],
                orientation="h",
                marker={"color": [colours.next(c.dataset) for c in items]},
                text=[f"{c.per_year:+.1f}" for c in items],
                textposition="auto",
                # Level, outside a bar too narrow to hold it, never turned on its side.
                textangle=0,
                cliponaxis=False,
                customdata=[[wrapped(c.label(), 70), safe_text(c.text()), safe_text(c.unit)] for c in items],
                hovertemplate=_(
                    "<b>%{customdata[0]}</b><br>%{customdata[1]}<br>Unit of the series: %{customdata[2]}<extra></extra>"
                ),
                showlegend=False,
                meta={"unit": items[0].per_year_unit, "group": _panel},
            ),
            row=number,
            col=1,
        )
        top = max(abs(c.per_year) for c in items)
        low = min(0.0, min(c.per_year for c in items))
        # Room for the value labels outside the bars on both sides.
        figure.update_xaxes(range=[low * 1.7 - 0.5, top * 1.5 + 0.5], row=number, col=1)
    _align_with_labels(figure)
    figure.update_layout(height=height, margin={"l": 10, "r": 40})
    return figure
