"""Model-scale figure: parameters or training compute of notable models over time, log scale."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from backend.i18n import N_, _
from backend.market.figure_layout import (
    add_paper_note,
    add_secondary_note,
    base_layout,
    empty_figure,
    fit_legend_below,
    user_datasets,
)
from backend.market.figures import caveat_html
from backend.market.series_labels import (
    CONFIDENCE_SYMBOLS,
    PRIMARY_SYMBOL,
    colour_for,
    data_label,
    dataset_label,
    hollow,
    human_number,
    safe_text,
    verification_label,
    wrapped,
)

# Epoch's confidence words, as a reader sees them.
CONFIDENCE_LABELS: dict[str, str] = {
    "Confident": N_("Confident"),
    "Likely": N_("Likely"),
    "Speculative": N_("Speculative"),
}
# The plot of models over time: tall enough for a log axis of eight decades and its labelled points.
MODEL_PLOT_PX = 330
MODEL_HOVER = N_(
    "<b>%{text}</b> (%{customdata[0]})<br>Published %{customdata[1]}<br>%{customdata[2]}"
    "<br>Confidence of the figure: %{customdata[3]}<br>Source: %{customdata[4]} (%{customdata[5]})%{customdata[6]}<extra></extra>"
)


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
    unit_title = {"parameters": _("Parameters"), "training_compute": _("Training compute (FLOP)")}.get(metric, metric)
    title = _("{measure} of notable AI models over time (log scale)").format(measure=unit_title)
    points = rows.loc[rows["metric"] == metric]
    if points.empty:
        return empty_figure(title)
    figure = base_layout(
        go.Figure(),
        title,
        subtitle=_("Each point is one model; hover for developer, date and the confidence of the figure"),
    )
    points = points.assign(_date=_model_dates(points))
    # Neighbouring labels alternate above and below their point, so crowded years stay legible.
    order = points["_date"].rank(method="first").astype(int)
    points = points.assign(_label_at=["top center" if rank % 2 else "bottom center" for rank in order])
    has_confidence = "confidence" in points.columns
    group_keys = ["dataset", "confidence"] if has_confidence else ["dataset"]
    user = user_datasets(points)
    for key, group in points.groupby(group_keys, sort=False):
        dataset = key[0] if isinstance(key, tuple) else key
        confidence = key[1] if has_confidence and isinstance(key, tuple) else ""
        symbol = CONFIDENCE_SYMBOLS.get(confidence, PRIMARY_SYMBOL)
        secondary = (group["verification"] == "secondary").tolist()
        colour = colour_for(dataset, user)
        customdata = [
            [
                safe_text(
                    ", ".join(
                        part
                        for part in (
                            row.get("organization", "") or dataset_label(dataset),
                            data_label("geography", row.get("origin_country", "")),
                        )
                        if part
                    )
                ),
                safe_text(row["period"] or row["year"]),
                human_number(row["value"], row["unit"]),
                safe_text(_(CONFIDENCE_LABELS.get(confidence, confidence)) if confidence else _("not given")),
                safe_text(row["source_org"]),
                verification_label(row["verification"]),
                caveat_html(row),
            ]
            for _index, row in group.iterrows()
        ]
        name = (
            f"{dataset_label(dataset)}: {_(CONFIDENCE_LABELS.get(confidence, confidence)).lower()}"
            if confidence
            else dataset_label(dataset)
        )
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
                hovertemplate=_(MODEL_HOVER),
                meta={"dataset": dataset, "metric": metric},
            )
        )
    figure.update_yaxes(
        type="log",
        dtick=1,
        title_text=safe_text(_("{measure}, log scale").format(measure=unit_title)),
        exponentformat="power",
    )
    figure.update_xaxes(title_text=_("Publication date"))
    fit_legend_below(figure, panel_px=MODEL_PLOT_PX)
    for _index, trend in rows.loc[rows["metric"] != metric].iterrows():
        add_paper_note(
            figure,
            wrapped(
                _("Trend: {value} per year. {definition} ({source}, {year})").format(
                    value=f"{trend['value']:g}" + ("x" if trend["unit"] == "x per year" else " " + trend["unit"]),
                    definition=data_label("definition", trend["definition"]),
                    source=trend["source_org"],
                    year=int(trend["year"]),
                ),
                80,
            ),
            "trend-note",
            (0.01, 0.98),
            ("left", "top"),
            align="left",
            bgcolor="rgba(255,255,255,0.8)",
            font={"size": 11},
        )
    add_secondary_note(figure, points, y=1.02, kind="points")
    return figure
