"""The source documents' industries, and which adoption figure each survey gives for them.

The five Chinese source documents name healthcare, finance, education, manufacturing, retail and
e-commerce (recommendation), autonomous driving and transport, smart cities and media/entertainment.
Surveys name their industries differently (NAICS sectors, NACE sections, their own groupings), so
this module maps each document industry to the survey segments that measure it, and says plainly
where no survey does. It never averages across surveys: each figure keeps its own definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from backend.i18n import N_, _
from backend.market.series_labels import data_label, dataset_label, verification_label


@dataclass(frozen=True)
class DocumentIndustry:
    """One industry of the source documents and the survey segments that stand for it."""

    key: str
    label: str
    # dataset -> the segments of that dataset that measure this industry
    segments: dict[str, tuple[str, ...]]
    # said next to a figure that is only a near match (e.g. transport for autonomous driving)
    proxy_note: str = ""
    # (dataset, segment) -> a near-match note for one survey's segment, said instead of proxy_note
    segment_notes: dict[tuple[str, str], str] = field(default_factory=dict)

    def note_for(self, dataset: str, segment: str) -> str:
        """The caveat shown next to this survey segment's figure (empty for an exact match)."""
        return self.segment_notes.get((dataset, segment), self.proxy_note)


L2_CARS = "Autonomous driving (new cars with L2 driver assistance)"
EU_TRADE = "Wholesale and retail trade; repair of motor vehicles and motorcycles"


DOCUMENT_INDUSTRIES: tuple[DocumentIndustry, ...] = (
    DocumentIndustry(
        "healthcare",
        N_("Healthcare"),
        {
            "census_btos": ("Health care and social assistance",),
            "ama_physician_ai": ("Healthcare",),
            "china_ai_industry": ("Healthcare",),
            "uk_ai_adoption": ("Health",),
            "sector_ai_surveys": ("Healthcare (hospitals)",),
        },
        segment_notes={
            (
                "sector_ai_surveys",
                "Healthcare (hospitals)",
            ): N_("Hospitals as organisations, not all health care providers"),
        },
    ),
    DocumentIndustry(
        "finance",
        N_("Finance"),
        {
            "census_btos": ("Finance and insurance",),
            "statcan_ai_use": ("Finance and insurance",),
            "uk_ai_adoption": ("Finance and real estate",),
            "mckinsey_state_of_ai": ("Financial services",),
            "sector_ai_surveys": (
                "Financial services",
                "Insurance",
                "International banks",
                "Financial market infrastructure",
            ),
        },
    ),
    DocumentIndustry(
        "education",
        N_("Education"),
        {"census_btos": ("Educational services",), "sector_ai_surveys": ("Education (K-12 teachers)",)},
        segment_notes={
            (
                "sector_ai_surveys",
                "Education (K-12 teachers)",
            ): N_("Teachers' own use of AI tools, not schools as organisations")
        },
    ),
    DocumentIndustry(
        "manufacturing",
        N_("Manufacturing"),
        {
            "census_btos": ("Manufacturing",),
            "china_ai_industry": ("Manufacturing",),
            "korea_ai_adoption": ("Manufacturing",),
            "ine_ict_enterprises": ("Industry",),
            "eurostat_isoc_eb_ai": ("Manufacturing",),
        },
        segment_notes={
            ("ine_ict_enterprises", "Industry"): N_("INE's broad 'Industry' grouping, not manufacturing alone"),
        },
    ),
    DocumentIndustry(
        "recommendation",
        N_("Retail and e-commerce (recommendation)"),
        {
            "census_btos": ("Retail trade",),
            "china_ai_industry": ("Retail",),
            "uk_ai_adoption": ("Retail",),
            "eurostat_isoc_eb_ai": (EU_TRADE,),
        },
        proxy_note=N_("Retail as a whole; no survey separates e-commerce or recommendation systems"),
        segment_notes={
            ("eurostat_isoc_eb_ai", EU_TRADE): N_(
                "Wholesale and retail together (NACE G), from a re-keyed copy of Eurostat's table (secondary)"
            ),
        },
    ),
    DocumentIndustry(
        "autonomous-driving",
        N_("Autonomous driving and transport"),
        {
            "census_btos": ("Transportation and warehousing",),
            "eurostat_isoc_eb_ai": ("Transportation and storage",),
            "china_ai_industry": (L2_CARS,),
            "ai_spending_forecasts": ("Transportation and leisure",),
        },
        proxy_note=N_("Transportation and warehousing firms; no survey measures autonomous-driving adoption itself"),
        segment_notes={
            ("ai_spending_forecasts", "Transportation and leisure"): N_("IDC's transportation and leisure group"),
            (
                "china_ai_industry",
                L2_CARS,
            ): N_("New cars fitted with L2 driver assistance, the nearest series to self-driving"),
        },
    ),
    DocumentIndustry(
        "entertainment",
        N_("Media and entertainment"),
        {
            "census_btos": ("Arts, entertainment and recreation", "Information"),
            "mckinsey_state_of_ai": ("Technology, media and telecom",),
            "statcan_ai_use": ("Information and cultural industries",),
            "eurostat_isoc_eb_ai": ("Information and communication",),
            "korea_ai_adoption": ("Information and communications",),
            "ai_spending_forecasts": ("Transportation and leisure",),
        },
        proxy_note=N_("Sectors that include media; none measures media alone"),
    ),
    DocumentIndustry(
        "energy",
        N_("Energy"),
        {
            "census_btos": ("Utilities", "Mining, quarrying, and oil and gas extraction"),
            "eurostat_isoc_eb_ai": ("Electricity, gas, steam and air conditioning supply",),
        },
        proxy_note=N_(
            "Eurostat's electricity and gas figure comes from a re-keyed copy of its table, and BTOS's utilities and extraction figures from a summary site (both secondary); Spain's INE counts energy inside its broad 'Industry' grouping"
        ),
    ),
    DocumentIndustry(
        "agriculture",
        N_("Agriculture"),
        {"census_btos": ("Agriculture, forestry, fishing and hunting (farms excluded)",)},
        proxy_note=N_("BTOS excludes farms, and Eurostat and INE do not cover agriculture (NACE A)"),
    ),
    DocumentIndustry(
        "customer-service",
        N_("Customer service"),
        {},
        proxy_note=N_(
            "A business function, not an industry: McKinsey reports value from AI in 'service operations', Eurostat the share of enterprises using speech recognition"
        ),
    ),
    DocumentIndustry("smart-city", N_("Smart city"), {}),
)
# Surveys that ask every industry the same question of the same kind of unit (firms), so their
# industry figures compare with each other within one survey and year.
CROSS_INDUSTRY_SURVEYS: tuple[str, ...] = (
    "statcan_ai_use",
    "eurostat_isoc_eb_ai",
    "ine_ict_enterprises",
    "census_btos",
    "uk_ai_adoption",
    "korea_ai_adoption",
)
ADOPTION_UNITS: tuple[str, ...] = ("percent",)


def industry_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Every industry adoption figure (a share, segment type industry) with its survey's overall figure.

    One panel per survey (dataset, metric, definition, year) ranks the industries that survey
    measured the same way, so bars within a panel compare and bars across panels do not.
    """
    industry = frame.loc[(frame["segment_type"] == "industry") & frame["unit"].isin(ADOPTION_UNITS)]
    if "measure" in industry.columns:
        # Shares of money (IDC's spending split by industry) are not adoption.
        industry = industry.loc[industry["measure"].fillna("") != "money"]
    keys = ["dataset", "metric", "definition", "year"]
    # The survey's own overall figure from the same page is the comparison bar (not a range's two ends).
    same_page = keys + ["source_url"]
    overall = frame.loc[frame["segment_type"] == "all"]
    overall = overall.merge(industry[same_page].drop_duplicates(), on=same_page, how="inner")
    overall = overall.loc[~overall.duplicated(same_page, keep=False)]
    rows = pd.concat([industry, overall], ignore_index=True)
    return rows.sort_values(keys + ["value"], kind="stable").reset_index(drop=True)


def document_industry_of(dataset: str, segment: str) -> DocumentIndustry | None:
    """The source-document industry a survey segment stands for, if any."""
    for industry in DOCUMENT_INDUSTRIES:
        if segment in industry.segments.get(dataset, ()):
            return industry
    return None


def coverage(frame: pd.DataFrame) -> pd.DataFrame:
    """For each document industry, every figure the data holds, or one row saying there is none.

    Columns (stable English keys, marked: a page shows them with ``rename(columns=_)``): industry,
    survey, segment, value, rank (within its survey), verification, note, row_id; the cells in the
    reader's language. An industry without a figure gets survey "no comparable figure" and an empty
    value.
    """
    rows = industry_rows(frame)
    ranked = rows.loc[rows["segment"] != "All"].copy()
    ranked["rank"] = ranked.groupby(["dataset", "metric", "definition", "year"])["value"].rank(
        ascending=False, method="min"
    )
    ranked["of"] = ranked.groupby(["dataset", "metric", "definition", "year"])["value"].transform("size")
    records: list[dict[str, object]] = []
    for industry in DOCUMENT_INDUSTRIES:
        found = [row for _, row in ranked.iterrows() if row["segment"] in industry.segments.get(row["dataset"], ())]
        for row in found:
            records.append(
                {
                    "industry": _(industry.label),
                    "survey": f"{dataset_label(row['dataset'])} {int(row['year'])}",
                    "segment": data_label("segment", row["segment"]),
                    "value": f"{row['value']:g}%",
                    "rank": _("{rank} of {count}").format(rank=int(row["rank"]), count=int(row["of"])),
                    "verification": verification_label(row["verification"]),
                    "note": _(note) if (note := industry.note_for(row["dataset"], row["segment"])) else "",
                    "row_id": row.get("row_id", ""),
                }
            )
        if not found:
            records.append(
                {
                    "industry": _(industry.label),
                    "survey": _("no comparable figure"),
                    "segment": "",
                    "value": "",
                    "rank": "",
                    "verification": "",
                    "note": _("No public survey in the collection measures AI adoption for this industry")
                    if not industry.segments
                    else _("The surveys that cover it are not in the current filters"),
                    "row_id": "",
                }
            )
    columns = [N_("industry"), N_("survey"), N_("segment"), N_("value"), N_("rank"), N_("verification"), N_("note")]
    return pd.DataFrame(records, columns=[*columns, "row_id"])


def _proxies_text(proxies: pd.DataFrame) -> str:
    """Each proxy series once, its values in year order: "AMA physicians survey, Healthcare: 38%
    (2023), 66% (2024) (physicians, secondary)", so the list reads in a line or two, not a page."""
    if proxies.empty:
        return ""
    keyed = proxies.assign(
        _measure=[
            data_label("measure", m) if m else _("measure not given")
            for m in proxies.get("measure", pd.Series("", index=proxies.index)).fillna("")
        ]
    )
    parts = []
    for (dataset, segment, _definition, measure, verification), series in keyed.groupby(
        ["dataset", "segment", "definition", "_measure", "verification"], sort=False
    ):
        values = ", ".join(
            f"{r['value']:g}% ({int(r['year'])})" for _index, r in series.sort_values("year", kind="stable").iterrows()
        )
        parts.append(
            _("{source}, {segment}: {values} ({measure}, {verification})").format(
                source=dataset_label(dataset),
                segment=data_label("segment", segment),
                values=values,
                measure=measure,
                verification=verification_label(verification),
            )
        )
    return "; ".join(parts)


def best_figures(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per document industry: its best comparable figure, or "no comparable figure" with
    the nearest proxies named and why they do not compare.

    The best figure is a primary row of a cross-industry firm survey (national statistics asking
    every industry the same question), latest year first and an exact match before a near one (a
    segment note), with the change since the same survey's earlier value where there is one.
    Everything else the data holds for the industry is a proxy.
    """
    rows = industry_rows(frame)
    rows = rows.loc[rows["segment"] != "All"]
    records: list[dict[str, str]] = []
    for industry in DOCUMENT_INDUSTRIES:
        mine = rows.loc[
            [seg in industry.segments.get(d, ()) for d, seg in zip(rows["dataset"], rows["segment"], strict=True)]
        ]
        comparable = mine.loc[
            mine["dataset"].isin(CROSS_INDUSTRY_SURVEYS)
            & (mine["verification"] == "primary")
            & (mine.get("measure", pd.Series("firms", index=mine.index)).fillna("firms") == "firms")
        ]
        comparable = comparable.loc[
            ~comparable["series_break"].astype(bool) | (comparable["year"] == comparable["year"].max())
        ]
        best = ""
        if not comparable.empty:
            # Latest year first; within a year an exact match beats a near match (a segment note).
            exact = pd.Series(
                [
                    (d, seg) not in industry.segment_notes
                    for d, seg in zip(comparable["dataset"], comparable["segment"], strict=True)
                ],
                index=comparable.index,
            )
            latest = comparable.assign(_exact=exact).sort_values(["year", "_exact"], kind="stable").iloc[-1]
            same = comparable.loc[
                (comparable["dataset"] == latest["dataset"])
                & (comparable["segment"] == latest["segment"])
                & (comparable["definition"] == latest["definition"])
                & (comparable.get("definition_version", "") == latest.get("definition_version", ""))
            ].sort_values("year", kind="stable")
            change = (
                _(" (from {value}% in {year})").format(
                    value=f"{same['value'].iloc[0]:g}", year=int(same["year"].iloc[0])
                )
                if len(same) > 1
                else ""
            )
            population = latest.get("population", "")
            best = _("{source}, {segment}: {value}% in {year}{change}; {population}").format(
                source=dataset_label(latest["dataset"]),
                segment=data_label("segment", latest["segment"]),
                value=f"{latest['value']:g}",
                year=int(latest["year"]),
                change=change,
                population=data_label("population", population)
                if population
                else data_label("definition", latest["definition"]),
            )
            if note := industry.segment_notes.get((str(latest["dataset"]), str(latest["segment"]))):
                best += f" ({_(note)})"
        proxies = mine.drop(index=comparable.index) if not comparable.empty else mine
        named = _proxies_text(proxies)
        why = (
            _(industry.proxy_note)
            if industry.proxy_note
            else _("Different units (firms, hospitals, people), surveys or sources: compare within a survey only")
        )
        if comparable.empty and not industry.segments and not industry.proxy_note:
            why = _("No survey in the collection measures it")
        records.append(
            {
                "industry": _(industry.label),
                "best comparable figure": best or _("no comparable figure"),
                "nearest proxies": named or _("none in the collection"),
                "why the proxies do not compare": why if named or not best else "",
            }
        )
    return pd.DataFrame(
        records, columns=["industry", "best comparable figure", "nearest proxies", "why the proxies do not compare"]
    )


def missing_industries(frame: pd.DataFrame) -> list[str]:
    """Document industries with no adoption figure in ``frame``."""
    table = coverage(frame)
    return table.loc[table["survey"] == _("no comparable figure"), "industry"].tolist()
