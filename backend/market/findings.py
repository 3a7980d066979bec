"""Key findings for the briefing's first screen, computed from the rows in view.

Each finding answers one of the page's four questions with numbers read from the rows, names its
source and says the caveat a reader needs before repeating it. A finding whose rows are filtered
away is left out rather than restated from memory.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from backend.market.industries import CROSS_INDUSTRY_SURVEYS, industry_rows
from backend.market.series_labels import dataset_label


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


def _industries(rows: pd.DataFrame) -> Finding | None:
    ranked = industry_rows(rows)
    ranked = ranked.loc[ranked["dataset"].isin(CROSS_INDUSTRY_SURVEYS) & (ranked["segment"] != "All")]
    if ranked.empty:
        return None
    latest = ranked.loc[ranked.groupby("dataset")["year"].transform("max") == ranked["year"]]
    leaders = latest.sort_values("value", ascending=False, kind="stable").groupby("dataset", sort=False).head(1)
    leaders = leaders.assign(_primary=leaders["verification"] != "primary").sort_values("_primary", kind="stable")
    parts = [
        f"{dataset_label(r['dataset'])} {int(r['year'])}: {r['segment']} {_pct(r['value'])}"
        + (" (secondary source)" if r["verification"] == "secondary" else "")
        for _, r in leaders.head(4).iterrows()
    ]
    return Finding(
        "Which industries adopt AI most",
        "The leading industry in each national survey: " + "; ".join(parts) + ".",
        ", ".join(dict.fromkeys(str(r["source_org"]) for _, r in leaders.head(4).iterrows())),
        "Levels compare only within one survey: size thresholds and questions differ between countries.",
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
    text = f"EU enterprises with 10+ employees using AI: {_pct(first['value'])} in {int(first['year'])}, {_pct(last['value'])} in {int(last['year'])}"
    caveat = "Eurostat's own survey; compare with other countries' official statistics only at the same size threshold."
    if not after.empty:
        new = after.iloc[-1]
        text += f", then {_pct(new['value'])} in {int(new['year'])} on a widened definition"
        caveat = "Definition break: the 2025 questionnaire added generative-AI categories, so part of the last rise is definitional."
    return Finding("How fast adoption grows", text + ".", "Eurostat (isoc_eb_ai)", caveat)


def _canada_growth(rows: pd.DataFrame) -> Finding | None:
    canada = _pick(rows, dataset="statcan_ai_use", geography="Canada", segment="All", size_threshold="any size")
    if len(canada) < 2:
        return None
    first, last = canada.iloc[0], canada.iloc[-1]
    return Finding(
        "How fast adoption grows",
        f"Canadian businesses using AI to produce goods or services: {_pct(first['value'])} ({int(first['year'])}) "
        f"to {_pct(last['value'])} ({int(last['year'])}), second quarter each year.",
        "Statistics Canada, Canadian Survey on Business Conditions",
        "Businesses of any size: not comparable with the EU's 10+ employee figures.",
    )


def _money(rows: pd.DataFrame) -> Finding | None:
    invested = _pick(rows, metric="corporate_ai_investment", edition="AI Index 2025")
    grew = _pick(rows, metric="corporate_ai_investment_growth", edition="AI Index 2025")
    if invested.empty:
        return None
    row = invested.iloc[-1]
    text = f"Global corporate AI investment: ${row['value']:g}B in {int(row['year'])}"
    if not grew.empty:
        text += f", {grew.iloc[-1]['value']:+g}% on the year before"
    return Finding(
        "Where the money goes",
        text + " (AI Index 2025).",
        "Stanford HAI, AI Index 2025",
        "Each AI Index edition revises earlier years; growth is the edition's own figure, never computed across editions.",
    )


def _spending(rows: pd.DataFrame) -> Finding | None:
    idc = _pick(rows, metric="ai_spending", publisher="IDC")
    gartner = _pick(rows, metric="genai_it_spending", publisher="Gartner")
    if idc.empty and gartner.empty:
        return None
    parts = []
    if not idc.empty:
        parts.append(
            f"IDC counts all AI spending at ${idc.iloc[0]['value']:g}B ({int(idc.iloc[0]['year'])}), forecast "
            f"${idc.iloc[-1]['value']:g}B in {int(idc.iloc[-1]['year'])}"
        )
    if not gartner.empty:
        parts.append(
            f"Gartner counts generative-AI IT spending at ${gartner.iloc[0]['value']:g}B ({int(gartner.iloc[0]['year'])})"
        )
    return Finding(
        "Where the money goes",
        "; ".join(parts) + ".",
        "IDC Spending Guide (Aug 2024); Gartner forecast (Mar 2025)",
        "Forecasts. Gartner includes AI-capable phones and PCs, so its generative-AI subset exceeds IDC's all-AI total.",
    )


def _countries(rows: pd.DataFrame) -> Finding | None:
    countries = _pick(rows, dataset="eurostat_isoc_eb_ai", metric="enterprises_using_ai", segment="All")
    countries = countries.loc[countries["geography"] != "European Union"]
    if countries.empty:
        return None
    latest = countries.loc[countries["year"] == countries["year"].max()].sort_values("value", kind="stable")
    top, bottom = latest.iloc[-1], latest.iloc[0]
    china = _pick(rows, dataset="china_ai_industry", metric="enterprises_using_genai", geography="China")
    text = (
        f"Among EU countries in {int(top['year'])}: {top['geography']} {_pct(top['value'])} to "
        f"{bottom['geography']} {_pct(bottom['value'])} of enterprises with 10+ employees"
    )
    caveat = "Only official statistics at the same threshold compare (Eurostat countries, Spain's INE)."
    if not china.empty:
        text += f". China has no comparable official figure (generative AI only: about {_pct(china.iloc[-1]['value'])})"
        caveat += " China's 60-83% survey figures count IT professionals' or large organisations, not all firms."
    return Finding(
        "How countries compare",
        text + ".",
        "Eurostat; China Institute of New Generation AI Development Strategies",
        caveat,
    )


def key_findings(rows: pd.DataFrame) -> list[Finding]:
    """The briefing's summary: at most six findings, in the page's question order."""
    if rows.empty:
        return []
    found = (_industries(rows), _eu_growth(rows), _canada_growth(rows), _money(rows), _spending(rows), _countries(rows))
    return [finding for finding in found if finding is not None]
