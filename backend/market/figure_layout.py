"""Plotly layout shared by the market figures: title and margins, empty state, secondary-source
note, bar markers, and the source caption that travels with an exported chart."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from backend.i18n import _, ngettext
from backend.market.series_labels import (
    DATASET_COLOURS,
    FONT,
    SECONDARY_NOTES,
    SECONDARY_PATTERN,
    dataset_label,
    wrapped,
)


def bar_marker(colours: str | list[str], secondary: list[bool], opacity: list[float] | None = None) -> dict:
    """A bar trace's marker: outlined in its colour, hatched where the figure is secondary (see
    ``SECONDARY_NOTES["bars"]``), and faded by ``opacity`` where given."""
    marker = {
        "color": colours,
        "line": {"color": colours, "width": 1},
        "pattern": {
            "shape": [SECONDARY_PATTERN if s else "" for s in secondary],
            "fgcolor": "#ffffff",
            "solidity": 0.35,
        },
    }
    if opacity is not None:
        marker["opacity"] = opacity
    return marker


# Plotly never reflows text, so every label is broken into lines short enough for a phone
# (about 350 px of chart): titles (17 px type), panel titles (12-13 px), subtitles (12 px), small
# notes (11 px, beside bar labels), the source caption (11 px, from the chart's edge), legend entries (11 px, after a 40 px line-and-marker sample).
TITLE_CHARS = 30
LINE_CHARS = 30
SUBTITLE_CHARS = 44
NOTE_CHARS = 42
CAPTION_CHARS = 50
LEGEND_CHARS = 46
# A phone's legend stacks one entry per row. Plotly draws an entry as its lines at 1.3 times the
# font size (at least 16 px) plus 3 px, and leaves 10 px after each legend group.
LEGEND_FONT_PX = 11
LEGEND_LINE_PX = 1.3 * LEGEND_FONT_PX
LEGEND_ENTRY_PX = 3
LEGEND_GROUP_GAP_PX = 10
# Height of one panel's plot (the legend's height on a phone, when larger, instead), and the gap
# between the plot's bottom and the legend, as a share of the plot (room for the axis labels).
PANEL_PX = 250
LEGEND_GAP = 0.14
NOTE_LINE_PX = 14
# Category labels left of bars: the plot starts after them, and panel titles start at the plot.
LABEL_CHARS = 16


def base_layout(figure: go.Figure, title: str, subtitle: str = "") -> go.Figure:
    """Title, subtitle, font and margins every market chart shares; both are wrapped to fit a phone."""
    title_text = wrapped(title, TITLE_CHARS)
    subtitle_text = wrapped(subtitle, SUBTITLE_CHARS) if subtitle else ""
    title_lines = title_text.count("<br>") + 1
    subtitle_lines = subtitle_text.count("<br>") + 1 if subtitle_text else 0
    figure.update_layout(
        template="plotly_white",
        font=FONT,
        # Anchored to the top of the chart, so a title wrapped over several lines grows downwards
        # into the top margin (sized for it) instead of spreading over the plot.
        title={
            "text": title_text,
            "subtitle": {"text": subtitle_text},
            "x": 0,
            "xanchor": "left",
            "y": 1,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": 18},
        },
        margin={"l": 10, "r": 20, "t": 44 + 24 * title_lines + 18 * subtitle_lines, "b": 40},
        hoverlabel={"align": "left"},
        # What the title and subtitle take of the top margin: a briefing that prints the title as
        # its own heading gives back exactly this, and keeps what panels' titles need above the plot.
        meta={**(figure.layout.meta or {}), "title_px": 14 + 24 * title_lines + 18 * subtitle_lines},
    )
    return figure


def empty_figure(title: str) -> go.Figure:
    """A titled figure that says no rows match, instead of an empty plot."""
    figure = base_layout(go.Figure(), title)
    figure.add_annotation(
        text=_("No rows match the current filters."), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def legend_height(names: list[str], groups: int | None = None) -> int:
    """The legend's height on a phone, where it stacks one entry per row (``groups`` legend groups,
    one per entry unless given): what a chart must leave below its plot, and the least height its
    plot needs so the legend is never the larger. 12 px spare for rounding and the border."""
    entries = sum(max(LEGEND_LINE_PX * (name.count("<br>") + 1), 16) + LEGEND_ENTRY_PX for name in names)
    gaps = LEGEND_GROUP_GAP_PX * (len(names) if groups is None else groups)
    return math.ceil(entries + gaps) + 12 if names else 0


def _legend_of(figure: go.Figure) -> tuple[list[str], int]:
    """The names a figure's legend shows, and how many legend groups they fall in."""
    shown = [trace for trace in figure.data if trace.showlegend is not False]
    groups = {trace.legendgroup or f"trace {number}" for number, trace in enumerate(shown)}
    return [str(trace.name) for trace in shown], len(groups)


def fit_legend_below(figure: go.Figure, panels: int = 1, panel_px: int = PANEL_PX, spacing: float = 0.0) -> None:
    """The legend under the plot, and a chart tall enough that on a phone, where the legend stacks
    one entry per row, the plot (its ``panels``, stacked ``spacing`` apart as shares of the plot
    area) is at least as tall as the legend, and each panel at least ``panel_px``.

    Plotly makes room for the legend below the plot, so on a wide screen, where entries share
    rows and the legend is shorter, the plot grows instead. Set the title (``base_layout``) first:
    the top margin is part of the height."""
    legend = legend_height(*_legend_of(figure))
    panels_px = max(panel_px * panels, legend)
    plot = panels_px / (1 - spacing * (panels - 1))
    figure.update_layout(
        legend={"orientation": "h", "y": -LEGEND_GAP, "x": 0, "yanchor": "top", "font": {"size": LEGEND_FONT_PX}},
        height=int(figure.layout.margin.t + plot * (1 + LEGEND_GAP) + legend + 20),
        margin={"b": 20},
        meta={**(figure.layout.meta or {}), "legend_px": legend, "plot_px": int(plot)},
    )


def secondary_note_height(rows: pd.DataFrame, kind: str) -> int:
    """Pixels the secondary-source note (see ``add_secondary_note``) takes, 0 when it is not drawn."""
    if not (rows["verification"] == "secondary").any():
        return 0
    return NOTE_LINE_PX * (wrapped(_(SECONDARY_NOTES[kind]), NOTE_CHARS).count("<br>") + 1)


def add_secondary_note(figure: go.Figure, rows: pd.DataFrame, y: float, kind: str, xanchor: str = "left") -> None:
    """Explain the secondary-source marking (``kind``: lines, bars or points) when any row is secondary."""
    if (rows["verification"] == "secondary").any():
        add_paper_note(
            figure,
            wrapped(_(SECONDARY_NOTES[kind]), NOTE_CHARS),
            "secondary-note",
            (0, y),
            (xanchor, "top" if y < 1 else "bottom"),
        )


def add_paper_note(
    figure: go.Figure,
    text: str,
    name: str,
    at: tuple[float, float],
    anchor: tuple[str, str],
    **style: Any,
) -> None:
    """A note named ``name`` placed on the figure's frame (paper coordinates ``at``, anchored by
    its (x, y) ``anchor``), not on the data; in the notes' small grey unless ``style`` sets a font."""
    figure.add_annotation(
        text=text,
        showarrow=False,
        x=at[0],
        y=at[1],
        xref="paper",
        yref="paper",
        xanchor=anchor[0],
        yanchor=anchor[1],
        name=name,
        **{"font": {"size": 11, "color": "#555555"}, **style},
    )


def add_secondary_note_below(figure: go.Figure, rows: pd.DataFrame, kind: str = "bars") -> None:
    """The secondary-source note just under the plot, with a bottom margin sized for its lines
    (set the figure's height and top margin first: the note's place is a share of the plot)."""
    room = secondary_note_height(rows, kind)
    if not room:
        return
    bottom = room + 24
    figure.update_layout(margin={"b": bottom})
    plot = max((figure.layout.height or 450) - (figure.layout.margin.t or 0) - bottom, 1)
    add_secondary_note(figure, rows, y=-12 / plot, kind=kind)


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


def source_caption(rows: pd.DataFrame, limit: int = 4) -> str:
    """One line naming who the drawn figures come from (for the caption inside an exported PNG)."""
    if rows.empty:
        return ""
    names = list(dict.fromkeys(dataset_label(str(dataset)) for dataset in rows["dataset"]))
    more = _("; and {count} more").format(count=len(names) - limit) if len(names) > limit else ""
    shown = _("; ").join(names[:limit]) + more
    flags = []
    if (rows["verification"] == "secondary").any():
        flags.append(_("hollow/hatched = secondary"))
    if "forecast" in rows.columns and rows["forecast"].astype(bool).any():
        flags.append(_("dashed = forecast"))
    count = ngettext("{count} figure", "{count} figures", len(rows)).format(count=len(rows))
    return _("Source: {names} ({details}; citations below)").format(names=shown, details=_("; ").join([count, *flags]))


def with_source_caption(figure: go.Figure, rows: pd.DataFrame) -> go.Figure:
    """A copy of ``figure`` whose subtitle ends with its source caption.

    The caption travels with the chart: the modebar's "download as PNG" and the HTML briefing
    both carry it, so a pasted chart still says where its numbers come from. It sits under the
    title (container coordinates), where no legend or panel can cover it.
    """
    captioned = go.Figure(figure)
    text = source_caption(rows)
    if not text:
        return captioned
    subtitle = captioned.layout.title.subtitle.text or ""
    caption = f"<span style='font-size:11px;color:#555555'>{wrapped(text, CAPTION_CHARS)}</span>"
    room = 16 * (caption.count("<br>") + 1)
    captioned.update_layout(
        title={"subtitle": {"text": f"{subtitle}<br>{caption}" if subtitle else caption}},
        margin={"t": (captioned.layout.margin.t or 90) + room},
        meta={
            **(captioned.layout.meta or {}),
            "source_caption": text,
            "title_px": (captioned.layout.meta or {}).get("title_px", 0) + room,
        },
    )
    if captioned.layout.height:
        # The caption's room is added to the chart, not taken from its plot (bars sized for their
        # labels would otherwise be squeezed into each other).
        captioned.update_layout(height=captioned.layout.height + room)
    return captioned


def png_config(file_name: str) -> dict[str, object]:
    """Plotly config for a chart: the modebar's camera saves a 2x PNG named after the chart.

    The modebar keeps the camera and the reset button only: on a phone its full row of zoom and
    pan buttons lay over the chart's title whenever the chart was touched."""
    stem = file_name.rsplit(".", 1)[0]
    return {
        "toImageButtonOptions": {"format": "png", "filename": stem, "scale": 2},
        "displaylogo": False,
        "modeBarButtonsToRemove": list(_MODEBAR_EXTRAS),
    }


_MODEBAR_EXTRAS = ("zoom2d", "pan2d", "select2d", "lasso2d", "zoomIn2d", "zoomOut2d", "autoScale2d")
