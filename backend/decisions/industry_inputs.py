"""The market inputs of the prioritiser, per industry: adoption level, growth and money flowing in.

Each figure is one cited row (or one series of rows) of the shipped market tables, never an
average across surveys. Adoption comes from one cross-industry survey (US Census BTOS) so the
industries compare; growth prefers a cross-industry firm survey and falls back to the industry's
nearest series, saying so; money flowing in is IDC's forecast growth of AI spending by industry.
An industry a source does not measure has no figure, and the scoring says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from backend.i18n import N_, _
from backend.market import growth, industries
from backend.market.series_labels import data_label, dataset_label
from backend.records import JsonRecord

ADOPTION, GROWTH, INVESTMENT = "adoption", "growth", "investment"
MARKET_INPUTS: tuple[str, ...] = (ADOPTION, GROWTH, INVESTMENT)
# The one survey that asks every industry the same question in the same weeks, so its industry
# shares rank against each other (the other surveys cover a few industries each).
ADOPTION_SURVEY = "census_btos"
INVESTMENT_DATASET = "ai_spending_forecasts"
INVESTMENT_METRIC = "ai_spending_cagr_by_industry"
INPUT_LABELS: dict[str, str] = {
    ADOPTION: N_("Adoption level"),
    GROWTH: N_("Adoption growth"),
    INVESTMENT: N_("Money flowing in"),
}
# The inputs' units, in the reader's words when a figure is made (the inputs are made per language).
ADOPTION_UNIT = N_("% of firms")
GROWTH_UNIT = N_("pp per year")
INVESTMENT_UNIT = N_("% a year (CAGR)")


@dataclass(frozen=True)
class CitedFigure(JsonRecord):
    """One market figure with where it comes from: source, year, address and the table row(s)."""

    value: float
    unit: str
    source: str
    year: int
    url: str
    row_ids: tuple[str, ...]
    segment: str
    caveat: str = ""

    def citation(self) -> str:
        """The source in words, e.g. 'US Census Bureau (BTOS) 2026, Finance and insurance'."""
        return f"{self.source} {self.year}, {self.segment}"


@dataclass(frozen=True)
class IndustryInputs(JsonRecord):
    """The market inputs of one industry (None where no source measures it)."""

    industry: str
    adoption: CitedFigure | None
    growth: CitedFigure | None
    investment: CitedFigure | None
    # Input name -> why no comparable figure exists for this industry in the shipped tables.
    missing_reasons: dict[str, str] = field(default_factory=dict)

    def figure(self, name: str) -> CitedFigure | None:
        """The figure of one input (``ADOPTION``, ``GROWTH`` or ``INVESTMENT``)."""
        return {ADOPTION: self.adoption, GROWTH: self.growth, INVESTMENT: self.investment}[name]


def _cited(row: pd.Series, value: float, unit: str, year: int, row_ids: tuple[str, ...], caveat: str) -> CitedFigure:
    return CitedFigure(
        value=round(float(value), 3),
        unit=unit,
        source=f"{data_label('source_org', row['source_org'])} ({dataset_label(str(row['dataset']))})",
        year=int(year),
        url=str(row["source_url"]),
        row_ids=row_ids,
        segment=data_label("segment", row["segment"]),
        caveat=caveat,
    )


def _note(industry: industries.DocumentIndustry, dataset: str, segment: str) -> str:
    """The industry's caveat for this survey segment in the reader's words ("" for an exact match)."""
    note = industry.note_for(dataset, segment)
    return _(note) if note else ""


def _adoption(frame: pd.DataFrame, industry: industries.DocumentIndustry) -> CitedFigure | None:
    segments = industry.segments.get(ADOPTION_SURVEY, ())
    if not segments:
        return None
    rows = frame.loc[
        (frame["dataset"] == ADOPTION_SURVEY)
        & (frame["segment_type"] == "industry")
        & (frame["segment"] == segments[0])
        & (frame["unit"] == "percent")
    ]
    if rows.empty:
        return None
    latest = rows.sort_values("year", kind="stable").iloc[-1]
    caveat = _note(industry, ADOPTION_SURVEY, segments[0])
    if len(segments) > 1:
        caveat = " ".join(
            part
            for part in (caveat, _("The first of its segments in this survey ({n}).").format(n=len(segments)))
            if part
        )
    return _cited(latest, latest["value"], _(ADOPTION_UNIT), latest["year"], (str(latest["row_id"]),), caveat)


def _growth(frame: pd.DataFrame, industry: industries.DocumentIndustry) -> CitedFigure | None:
    rows = industries.industry_rows(frame)
    mine = [
        change
        for change in growth.series_changes(rows)
        if change.segment in industry.segments.get(change.dataset, ()) and change.per_year_unit == "pp per year"
    ]
    if not mine:
        return None
    # A cross-industry firm survey first (its industries compare), then the most recent series.
    best = max(mine, key=lambda c: (c.dataset in industries.CROSS_INDUSTRY_SURVEYS, c.end_year, c.per_year))
    row = frame.loc[frame["row_id"] == best.row_ids[-1]].iloc[0]
    caveat = _note(industry, best.dataset, best.segment)
    if best.dataset not in industries.CROSS_INDUSTRY_SURVEYS:
        caveat = " ".join(part for part in (_("Not a cross-industry survey: a proxy."), caveat) if part)
    period = _("{start} to {end}").format(start=best.start_label, end=best.end_label)
    caveat = _("{period}. {caveat}").format(period=period, caveat=caveat) if caveat else period
    return _cited(row, best.per_year, _(GROWTH_UNIT), best.end_year, best.row_ids, caveat)


def _investment(frame: pd.DataFrame, industry: industries.DocumentIndustry) -> CitedFigure | None:
    segments = industry.segments.get(INVESTMENT_DATASET, ())
    rows = frame.loc[
        (frame["dataset"] == INVESTMENT_DATASET)
        & (frame["metric"] == INVESTMENT_METRIC)
        & frame["segment"].isin(segments)
    ]
    if rows.empty:
        return None
    row = rows.iloc[0]
    caveat = _("Forecast to {year}; {note}").format(
        year=int(row["year"]), note=_note(industry, INVESTMENT_DATASET, row["segment"])
    )
    return _cited(row, row["value"], _(INVESTMENT_UNIT), row["year"], (str(row["row_id"]),), caveat.rstrip("; ；"))


def _missing_reason(frame: pd.DataFrame, industry: industries.DocumentIndustry, name: str) -> str:
    """Why ``industry`` has no figure for input ``name``: which source would give one, and what it lacks."""
    if name == ADOPTION:
        if not industry.segments.get(ADOPTION_SURVEY):
            return _("the one survey that asks every industry alike (US Census BTOS) has no segment for it")
        return _("US Census BTOS has no share of firms for its segment")
    if name == INVESTMENT:
        offered = frame.loc[(frame["dataset"] == INVESTMENT_DATASET) & (frame["metric"] == INVESTMENT_METRIC)]
        return _("IDC's spending forecast gives growth for {n} industry groups only ({groups})").format(
            n=offered["segment"].nunique(),
            groups=_("; ").join(data_label("segment", segment) for segment in sorted(offered["segment"].unique())),
        )
    sources = [dataset_label(dataset) for dataset in industry.segments]
    if not sources:
        return _("no survey in the data covers it")
    return _("its sources ({sources}) give no share of firms measured the same way in two years").format(
        sources=_("; ").join(sources)
    )


def industry_inputs(frame: pd.DataFrame) -> dict[str, IndustryInputs]:
    """Every source-document industry's market inputs, by industry key (the catalogue's keys),
    with the reason for each input it lacks.

    Args:
        frame: the market rows (``backend.market.store.load_market_data``).
    """
    found = {}
    for industry in industries.DOCUMENT_INDUSTRIES:
        inputs = IndustryInputs(
            industry.key, _adoption(frame, industry), _growth(frame, industry), _investment(frame, industry)
        )
        reasons = {
            name: _missing_reason(frame, industry, name) for name in MARKET_INPUTS if inputs.figure(name) is None
        }
        found[industry.key] = IndustryInputs(
            industry.key, inputs.adoption, inputs.growth, inputs.investment, missing_reasons=reasons
        )
    return found
