"""Key findings for the briefing's first screen, computed from the rows in view, in the reader's
language (sentence templates marked, places, industries and organisations from the data's labels).

Each finding answers one of the page's four questions with numbers read from the rows, names its
source and says the caveat a reader needs before repeating it. A finding whose rows are filtered
away is left out rather than restated from memory.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from backend.i18n import N_, _
from backend.market.industries import CROSS_INDUSTRY_SURVEYS, industry_rows
from backend.market.series_labels import data_label, dataset_label, states_unit, value_label

# The page's four questions, which the findings answer in this order.
INDUSTRIES_QUESTION = N_("Which industries adopt AI most")
GROWTH_QUESTION = N_("How fast adoption grows")
MONEY_QUESTION = N_("Where the money goes")
COUNTRIES_QUESTION = N_("How countries compare")


@dataclass(frozen=True)
class Finding:
    """One key finding: the question it answers, the sentence, its source and its caveat."""

    question: str
    text: str
    source: str
    caveat: str

    def to_dict(self) -> dict[str, str]:
        """JSON-able form."""
        return asdict(self)


def _pick(rows: pd.DataFrame, **equal: object) -> pd.DataFrame:
    mask = pd.Series(True, index=rows.index)
    for column, value in equal.items():
        if column not in rows.columns:
            return rows.iloc[0:0]
        mask &= rows[column] == value
    return rows.loc[mask].sort_values("year", kind="stable")


def _pct(value: float) -> str:
    return f"{value:g}%"


def _usd_billion(value: float) -> str:
    """A US$ billion amount: "$252.3B", for a Chinese reader "2,523亿美元"."""
    return value_label(value, "USD billion") if states_unit("USD billion") else f"${value:g}B"


def _list(parts: list[str]) -> str:
    # Clauses of one sentence: "; " in English, "；" in Chinese.
    return _("; ").join(parts)


def _industries(rows: pd.DataFrame) -> Finding | None:
    ranked = industry_rows(rows)
    ranked = ranked.loc[ranked["dataset"].isin(CROSS_INDUSTRY_SURVEYS) & (ranked["segment"] != "All")]
    if ranked.empty:
        return None
    latest = ranked.loc[ranked.groupby("dataset")["year"].transform("max") == ranked["year"]]
    leaders = latest.sort_values("value", ascending=False, kind="stable").groupby("dataset", sort=False).head(1)
    leaders = leaders.assign(_primary=leaders["verification"] != "primary").sort_values("_primary", kind="stable")
    parts = [
        _("{survey} {year}: {industry} {share}").format(
            survey=dataset_label(r["dataset"]),
            year=int(r["year"]),
            industry=data_label("segment", r["segment"]),
            share=_pct(r["value"]),
        )
        + (_(" (secondary source)") if r["verification"] == "secondary" else "")
        for _index, r in leaders.head(4).iterrows()
    ]
    organisations = dict.fromkeys(data_label("source_org", r["source_org"]) for _index, r in leaders.head(4).iterrows())
    return Finding(
        _(INDUSTRIES_QUESTION),
        _("The leading industry in each national survey: {leaders}.").format(leaders=_list(parts)),
        _(", ").join(organisations),
        _("Levels compare only within one survey: size thresholds and questions differ between countries."),
    )


def _eu_growth(rows: pd.DataFrame) -> Finding | None:
    eu = _pick(
        rows, dataset="eurostat_isoc_eb_ai", metric="enterprises_using_ai", geography="European Union", segment="All"
    )
    if len(eu) < 2:
        return None
    before = eu.loc[~eu["series_break"].astype(bool)]
    after = eu.loc[eu["series_break"].astype(bool)]
    first, last = before.iloc[0], before.iloc[-1]
    text = _("EU enterprises with 10+ employees using AI: {first} in {first_year}, {last} in {last_year}").format(
        first=_pct(first["value"]), first_year=int(first["year"]), last=_pct(last["value"]), last_year=int(last["year"])
    )
    caveat = _(
        "Eurostat's own survey; compare with other countries' official statistics only at the same size threshold."
    )
    if not after.empty:
        new = after.iloc[-1]
        text += _(", then {value} in {year} on a widened definition").format(
            value=_pct(new["value"]), year=int(new["year"])
        )
        caveat = _(
            "Definition break: the 2025 questionnaire added generative-AI categories, so part of the last rise is "
            "definitional."
        )
    return Finding(_(GROWTH_QUESTION), text + _("."), _("Eurostat (isoc_eb_ai)"), caveat)


def _canada_growth(rows: pd.DataFrame) -> Finding | None:
    canada = _pick(rows, dataset="statcan_ai_use", geography="Canada", segment="All", size_threshold="any size")
    if len(canada) < 2:
        return None
    first, last = canada.iloc[0], canada.iloc[-1]
    return Finding(
        _(GROWTH_QUESTION),
        _(
            "Canadian businesses using AI to produce goods or services: {first} ({first_year}) to {last} "
            "({last_year}), second quarter each year."
        ).format(
            first=_pct(first["value"]),
            first_year=int(first["year"]),
            last=_pct(last["value"]),
            last_year=int(last["year"]),
        ),
        _("Statistics Canada, Canadian Survey on Business Conditions"),
        _("Businesses of any size: not comparable with the EU's 10+ employee figures."),
    )


def _money(rows: pd.DataFrame) -> Finding | None:
    invested = _pick(rows, metric="corporate_ai_investment", edition="AI Index 2025")
    grew = _pick(rows, metric="corporate_ai_investment_growth", edition="AI Index 2025")
    if invested.empty:
        return None
    row = invested.iloc[-1]
    text = _("Global corporate AI investment: {amount} in {year}").format(
        amount=_usd_billion(row["value"]), year=int(row["year"])
    )
    if not grew.empty:
        text += _(", {change}% on the year before").format(change=f"{grew.iloc[-1]['value']:+g}")
    return Finding(
        _(MONEY_QUESTION),
        text + _(" (AI Index 2025)."),
        _("Stanford HAI, AI Index 2025"),
        _(
            "Each AI Index edition revises earlier years; growth is the edition's own figure, never computed across "
            "editions."
        ),
    )


def _spending(rows: pd.DataFrame) -> Finding | None:
    idc = _pick(rows, metric="ai_spending", publisher="IDC")
    gartner = _pick(rows, metric="genai_it_spending", publisher="Gartner")
    if idc.empty and gartner.empty:
        return None
    parts = []
    if not idc.empty:
        parts.append(
            _("IDC counts all AI spending at {amount} ({year}), forecast {forecast} in {forecast_year}").format(
                amount=_usd_billion(idc.iloc[0]["value"]),
                year=int(idc.iloc[0]["year"]),
                forecast=_usd_billion(idc.iloc[-1]["value"]),
                forecast_year=int(idc.iloc[-1]["year"]),
            )
        )
    if not gartner.empty:
        parts.append(
            _("Gartner counts generative-AI IT spending at {amount} ({year})").format(
                amount=_usd_billion(gartner.iloc[0]["value"]), year=int(gartner.iloc[0]["year"])
            )
        )
    return Finding(
        _(MONEY_QUESTION),
        _list(parts) + _("."),
        _("IDC Spending Guide (Aug 2024); Gartner forecast (Mar 2025)"),
        _(
            "Forecasts. Gartner includes AI-capable phones and PCs, so its generative-AI subset exceeds IDC's "
            "all-AI total."
        ),
    )


def _countries(rows: pd.DataFrame) -> Finding | None:
    countries = _pick(rows, dataset="eurostat_isoc_eb_ai", metric="enterprises_using_ai", segment="All")
    countries = countries.loc[countries["geography"] != "European Union"]
    if countries.empty:
        return None
    latest = countries.loc[countries["year"] == countries["year"].max()].sort_values("value", kind="stable")
    top, bottom = latest.iloc[-1], latest.iloc[0]
    china = _pick(rows, dataset="china_ai_industry", metric="enterprises_using_genai", geography="China")
    text = _(
        "Among EU countries in {year}: {top} {top_share} to {bottom} {bottom_share} of enterprises with 10+ employees"
    ).format(
        year=int(top["year"]),
        top=data_label("geography", top["geography"]),
        top_share=_pct(top["value"]),
        bottom=data_label("geography", bottom["geography"]),
        bottom_share=_pct(bottom["value"]),
    )
    caveat = _("Only official statistics at the same threshold compare (Eurostat countries, Spain's INE).")
    if not china.empty:
        text += _(". China has no comparable official figure (generative AI only: about {share})").format(
            share=_pct(china.iloc[-1]["value"])
        )
        caveat += _(" China's 60-83% survey figures count IT professionals' or large organisations, not all firms.")
    return Finding(
        _(COUNTRIES_QUESTION),
        text + _("."),
        _("Eurostat; China Institute of New Generation AI Development Strategies"),
        caveat,
    )


def key_findings(rows: pd.DataFrame) -> list[Finding]:
    """The briefing's summary: at most six findings, in the page's question order."""
    if rows.empty:
        return []
    found = (_industries(rows), _eu_growth(rows), _canada_growth(rows), _money(rows), _spending(rows), _countries(rows))
    return [finding for finding in found if finding is not None]
