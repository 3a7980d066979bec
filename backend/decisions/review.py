"""The prioritiser and the calculator as a board sees them: tables, charts and briefing sections.

Pure functions from a ``Ranking``, a ``Sensitivity`` and ``CostEstimate``s to pandas tables (plain
text cells, for ``st.dataframe``), plotly figures (each carries its provenance in its subtitle, so
an exported PNG still says where its numbers come from) and ``BriefingTable``s for the HTML briefing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd
import plotly.graph_objects as go

from backend import model_registry
from backend.decisions.cost import CostEstimate
from backend.decisions.industry_inputs import INPUT_LABELS, MARKET_INPUTS, IndustryInputs
from backend.decisions.scoring import CRITERIA, CRITERION_LABELS, FEASIBILITY, Ranking, Sensitivity, Weights
from backend.decisions.speed import ORIGIN_LABELS
from backend.i18n import _, current_language
from backend.market.briefing import BriefingTable
from backend.market.figure_layout import LEGEND_CHARS, base_layout, fit_legend_below
from backend.market.figures import SERIES_PALETTE
from backend.market.series_labels import wrapped
from backend.models.resolve import catalogue as models
from backend.use_cases import vocabulary as vocab

TOP_SHOWN = 10
_COLOURS = {"adoption": "#1f4e79", "growth": "#2e86c1", "investment": "#8e44ad", "feasibility": "#27ae60"}
_LABEL_CHARS = 24
_DEEPEST = 10  # ranks drawn one by one in the sensitivity chart
_SENSITIVITY_PLOT_PX = 300  # eleven rank lines, each label clear of the next


def weights_text(weights: Weights) -> str:
    """The weights in words, e.g. 'Adoption level 3, Adoption growth 2, ...'."""
    return ", ".join(f"{_(CRITERION_LABELS[c])} {weights.of(c)}" for c in CRITERIA)


def _industry(key: str, language: str) -> str:
    return vocab.find_term(vocab.INDUSTRIES, key).label(language)


def _cell(item) -> str:
    if item.raw is None:
        return _("missing ({reason}): 0").format(reason=item.missing_reason)
    if item.criterion == FEASIBILITY:
        return f"{item.normalised:.2f} ({item.unit})"
    raw = f"{item.raw:g} {item.unit}".strip()
    return f"{raw} → {item.normalised:.2f}"


def ranking_table(ranking: Ranking, language: str | None = None) -> pd.DataFrame:
    """One row per use case: rank, score, industry and each input (raw value -> 0-1 value)."""
    language = language or current_language()
    rows = []
    for row in ranking.rows:
        record = {
            _("rank"): row.rank,
            _("score"): round(row.score, 1),
            _("use case"): row.title(language),
            _("industry"): _industry(row.industry, language),
        }
        record.update({_(CRITERION_LABELS[item.criterion]): _cell(item) for item in row.inputs})
        rows.append(record)
    return pd.DataFrame(rows)


def market_inputs_table(
    inputs: Mapping[str, IndustryInputs], industries: Iterable[str], language: str | None = None
) -> pd.DataFrame:
    """One row per industry of ``industries`` (catalogue keys) that has market inputs: each input
    as its value and source, or why it is missing."""
    language = language or current_language()
    rows = []
    for key in dict.fromkeys(industries):
        if key not in inputs:
            continue  # a technology area (vision, speech...): no market figure is expected
        industry = inputs[key]
        row: dict[str, object] = {_("industry"): _industry(key, language)}
        for name in MARKET_INPUTS:
            figure = industry.figure(name)
            row[_(INPUT_LABELS[name])] = (
                f"{figure.value:g} {figure.unit}: {figure.citation()}"
                if figure
                else _("missing: {reason}").format(reason=industry.missing_reasons.get(name, ""))
            )
        rows.append(row)
    return pd.DataFrame(rows)


def citations(ranking: Ranking, limit: int | None = None) -> list[tuple[str, str]]:
    """Every input's source or measurement behind the ranked rows (first ``limit`` rows), once each."""
    found: dict[tuple[str, str], None] = {}
    for row in ranking.rows[:limit]:
        for item in row.inputs:
            if item.evidence:
                found[(f"{_(CRITERION_LABELS[item.criterion])}: {item.evidence}", item.url)] = None
    return list(found)


def build_ranking_chart(ranking: Ranking, language: str | None = None, top: int = TOP_SHOWN) -> go.Figure:
    """The first ``top`` use cases' scores as stacked bars: what each weighted input contributes."""
    language = language or current_language()
    rows = list(ranking.rows[:top])[::-1]
    total = sum(ranking.weights.of(c) for c in CRITERIA)
    # Wrapped, so a phone keeps room for the bars.
    labels = [wrapped(f"{row.rank}. {row.title(language)}", _LABEL_CHARS) for row in rows]
    figure = go.Figure()
    for criterion in CRITERIA:
        figure.add_bar(
            y=labels,
            x=[100 * ranking.weights.of(criterion) * row.input(criterion).normalised / total for row in rows],
            name=_(CRITERION_LABELS[criterion]),
            orientation="h",
            marker_color=_COLOURS[criterion],
            hovertemplate="%{y}: %{x:.1f}<extra>" + _(CRITERION_LABELS[criterion]) + "</extra>",
        )
    base_layout(
        figure,
        _("Use cases ranked: the top {n}").format(n=len(rows)),
        _("Weights: {weights}. Score 0-100; missing inputs count 0.").format(weights=weights_text(ranking.weights)),
    )
    figure.update_layout(
        barmode="stack",
        height=160 + 44 * len(rows),
        legend={"orientation": "h", "y": -0.1, "yanchor": "top", "x": 0},
        xaxis={"range": [0, 100]},
        yaxis={"automargin": True},
    )
    return figure


def build_sensitivity_chart(view: Sensitivity, titles: Mapping[str, str]) -> go.Figure:
    """Each use case that is ever in the top five: its rank as the chosen weight moves 0-10.

    Ranks below ``_DEEPEST`` are drawn at one line marked "lower" (their exact rank is in the
    hover), so the top ten keep the chart's height however far a use case falls.
    """
    figure = go.Figure()
    for number, (use_case, ranks) in enumerate(view.ranks.items()):
        figure.add_scatter(
            x=list(view.values),
            y=[min(rank, _DEEPEST + 1) if rank else None for rank in ranks],
            customdata=list(ranks),
            mode="lines+markers",
            name=wrapped(titles.get(use_case, use_case), LEGEND_CHARS),
            line={"color": SERIES_PALETTE[number % len(SERIES_PALETTE)]},
            hovertemplate="%{fullData.name}: " + _("rank") + " %{customdata} (" + _("weight") + " %{x})<extra></extra>",
        )
    label = _(CRITERION_LABELS[view.criterion])
    base_layout(
        figure,
        _("How the top five change with the weight of {name}").format(name=label),
        _("Weight 0-10 along the bottom, the others held ({weights}); rank 1 at the top.").format(
            weights=weights_text(view.weights)
        ),
    )
    ticks = list(range(1, _DEEPEST + 2))
    fit_legend_below(figure, panel_px=_SENSITIVITY_PLOT_PX)
    figure.update_layout(
        xaxis={"dtick": 1, "range": [-0.3, 10.3]},
        yaxis={
            "title": _("rank"),
            "range": [_DEEPEST + 1.5, 0.5],
            "tickvals": ticks,
            "ticktext": [str(t) for t in ticks[:-1]] + [_("lower")],
        },
    )
    figure.add_hrect(y0=0.5, y1=5.5, fillcolor="#27ae60", opacity=0.07, line_width=0)
    return figure


def sensitivity_table(view: Sensitivity, titles: Mapping[str, str]) -> pd.DataFrame:
    """The top five at each weight, as text (what the chart draws)."""
    return pd.DataFrame(
        [
            {_("weight"): value, _("top five"): " · ".join(titles.get(key, key) for key in top)}
            for value, top in zip(view.values, view.tops, strict=True)
        ]
    )


def cost_table(estimates: Iterable[CostEstimate]) -> pd.DataFrame:
    """The calculator's answers, one row per task model, with where each figure comes from."""
    return pd.DataFrame(
        [
            {
                _("use case or task"): models.task_title(e.task),
                # A fine-tuned model by its title and job, a model server by its name, never a server path.
                _("model"): "; ".join(model_registry.display_name(ref) for ref in e.model.split("; ")),
                _("requests per hour"): round(e.requests_per_hour, 1),
                _("p95 latency (ms)"): round(e.latency_p95_ms, 1),
                _("price per hour"): e.price_per_hour,
                _("cost per 1,000 requests"): round(e.cost_per_1000, 6),
                _("machines for the demand"): e.machines,
                _("source"): e.provenance,
            }
            for e in estimates
        ]
    )


def build_cost_chart(estimates: list[CostEstimate]) -> go.Figure:
    """Cost per 1,000 requests per task model (log axis: tasks differ by orders of magnitude)."""
    figure = go.Figure()
    figure.add_bar(
        x=[e.cost_per_1000 for e in estimates],
        y=[
            wrapped(
                _("{task} ({origin})").format(
                    task=models.task_title(e.task), origin=_(ORIGIN_LABELS.get(e.origin, e.origin))
                ),
                _LABEL_CHARS,
            )
            for e in estimates
        ],
        orientation="h",
        marker_color=["#7f8c8d" if e.origin == "estimate" else "#1f4e79" for e in estimates],
        hovertemplate="%{y}: %{x:.4g}<extra></extra>",
    )
    price = estimates[0].price_per_hour if estimates else 0
    sources = "; ".join(dict.fromkeys(e.provenance for e in estimates))
    base_layout(
        figure,
        _("Cost per 1,000 requests at {price:g} an hour").format(price=price),
        _("One machine, one request at a time. {sources}").format(sources=sources),
    )
    figure.update_layout(height=220 + 40 * len(estimates), xaxis={"type": "log"}, yaxis={"automargin": True})
    return figure


def briefing_tables(
    ranking: Ranking, view: Sensitivity, titles: Mapping[str, str], estimates: list[CostEstimate]
) -> list[BriefingTable]:
    """The ranking, the sensitivity view and the cost table as briefing sections, with their sources."""
    table = ranking_table(ranking).head(TOP_SHOWN)
    costs = cost_table(estimates)
    sensitivity = sensitivity_table(view, titles)
    normalisation = _(
        "Market inputs min-max over the industries with the figure; feasibility the mean of latency and "
        "memory (log-scale min-max) and CPU-only; missing inputs count 0; score = weighted mean x 100."
    )
    return [
        BriefingTable(
            _("Use cases ranked (weights: {weights})").format(weights=weights_text(ranking.weights)),
            normalisation,
            tuple(str(c) for c in table.columns),
            tuple(tuple(str(v) for v in row) for row in table.itertuples(index=False)),
            tuple(citations(ranking, TOP_SHOWN)),
        ),
        BriefingTable(
            _("Sensitivity: the top five as the weight of {name} moves").format(
                name=_(CRITERION_LABELS[view.criterion])
            ),
            _("The other weights as above."),
            tuple(str(c) for c in sensitivity.columns),
            tuple(tuple(str(v) for v in row) for row in sensitivity.itertuples(index=False)),
        ),
        BriefingTable(
            _("Cost and capacity per use-case model"),
            _("One machine serving one request at a time; each figure names its machine, device and date."),
            tuple(str(c) for c in costs.columns),
            tuple(tuple(str(v) for v in row) for row in costs.itertuples(index=False)),
        ),
    ]
