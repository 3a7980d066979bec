"""Which rows each market chart draws. Kept apart from the figures so a page can show the same
rows' sources and offer them as CSV: what is drawn is exactly what is cited and downloaded."""

from __future__ import annotations

import pandas as pd

from backend.i18n import N_
from backend.market.series_labels import dataset_rank, measure_group

# Headline adoption series: each survey's answer to "does this organisation use AI at all".
ADOPTION_METRICS: tuple[str, ...] = (
    "organisations_using_ai",
    "organisations_regularly_using_genai",
    "enterprises_using_ai",
    "firms_using_ai",
    "companies_using_ai",
    "businesses_using_ai",
    "businesses_using_ai_dcms",
)
# A survey that covers several countries has its headline at the whole survey area; its countries
# go to the country chart. National surveys (Spain, Canada, Korea...) are their own headline.
SURVEY_AREAS: tuple[str, ...] = ("World", "European Union")
COUNTRY_METRICS: tuple[str, ...] = (
    "enterprises_using_ai",
    "companies_using_ai_by_region",
    "organisations_using_ai_by_region",
    "companies_using_ai_by_country",
    "organisations_using_genai",
    "organisations_fully_implementing_genai",
    "enterprises_using_genai",
)
INVESTMENT_COUNTRY_METRICS: tuple[str, ...] = ("private_ai_investment",)
FOCUS_AREA_METRICS: tuple[str, ...] = (
    "private_ai_investment_by_focus_area",
    "vc_investment_in_ai_by_sector",
    "genai_it_spending_by_segment",
)
# Money over time: investment measured in USD (corporate, private, gen-AI private).
INVESTMENT_SERIES_METRICS: tuple[str, ...] = (
    "corporate_ai_investment",
    "private_ai_investment",
    "private_genai_investment",
    "private_equity_investment_in_ai_startups",
    "us_genai_investment_lead",
)
# Spending and market-size series that include forecasts (IDC, Gartner).
SPENDING_METRICS: tuple[str, ...] = ("ai_spending", "genai_spending", "genai_it_spending")
# What each spending publisher counts: the panels of the spending chart (never one axis).
SPENDING_PANELS: dict[str, str] = {
    "IDC": N_("IDC: all AI spending (applications, infrastructure, IT and business services)"),
    "Gartner": N_("Gartner: generative-AI IT spending, including AI-capable phones and PCs (devices)"),
}
INDUSTRY_SPENDING_METRICS: tuple[str, ...] = ("ai_spending_share_by_industry", "ai_spending_cagr_by_industry")
# Market size and business spending in local currency (China CNY, UK GBP): not comparable with USD series.
LOCAL_MARKET_METRICS: tuple[str, ...] = ("ai_industry_size", "core_ai_industry_size", "business_ai_spending")
MODEL_COUNT_METRICS: tuple[str, ...] = ("notable_ai_models", "notable_ai_models_by_sector")
# Rates the sources state themselves (not computed here): growth, CAGR, changes in points.
STATED_RATE_UNITS: tuple[str, ...] = ("percent change", "percent CAGR", "percentage points", "x per year", "multiple")
MODEL_SCALE_METRICS: tuple[str, ...] = ("parameters", "training_compute")
# A trend row shown as a note on the model-scale chart it describes.
MODEL_TREND_METRICS: dict[str, str] = {"training_compute": "training_compute_growth"}
SEGMENT_KINDS: dict[str, str] = {
    "industry": "Industry",
    "size": "Company size",
    "country": "Country or region",
    "function": "Business function (reported value)",
    "technology": "AI technology",
}
_SERIES_KEYS = ["dataset", "metric", "year", "source_url"]


def adoption_over_time(frame: pd.DataFrame) -> pd.DataFrame:
    """Headline adoption rows of every survey over time: each survey's whole area (the world, the
    EU, or the one country a national survey covers). Draw them one measure group at a time
    (:func:`by_measure_group`)."""
    rows = frame.loc[frame["metric"].isin(ADOPTION_METRICS) & (frame["segment_type"] == "all")]
    has_area = rows.groupby(["dataset", "metric"])["geography"].transform(lambda g: g.isin(SURVEY_AREAS).any())
    rows = rows.loc[~has_area | rows["geography"].isin(SURVEY_AREAS)]
    order = rows.assign(_source=rows["dataset"].map(dataset_rank), _metric=rows["metric"].map(ADOPTION_METRICS.index))
    order = order.sort_values(["_source", "_metric", "year"], kind="stable")
    return order.drop(columns=["_source", "_metric"]).reset_index(drop=True)


def by_measure_group(rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """``rows`` split by what they count (``series_labels.measure_group``), official firm surveys
    first: one chart per group, so no axis holds two measures or two size thresholds."""
    if rows.empty:
        return []
    groups = [measure_group(row) for _, row in rows.iterrows()]
    labelled = rows.assign(_group=groups)
    order = sorted(dict.fromkeys(groups), key=_group_rank)
    return [
        (group, labelled.loc[labelled["_group"] == group].drop(columns="_group").reset_index(drop=True))
        for group in order
    ]


def _group_rank(group: str) -> tuple[int, str]:
    preferred = ("Firms, 10+ employees", "Firms, any size", "Firms, 5+ employees", "Firms, 50+ employees")
    return (preferred.index(group) if group in preferred else len(preferred), group)


def spending_panel(row: pd.Series) -> str:
    """The spending chart's panel for a row: what its publisher counts."""
    publisher = str(row.get("publisher", "") or "")
    return SPENDING_PANELS.get(publisher, publisher or str(row["source_org"]))


def spending_by_industry(frame: pd.DataFrame) -> pd.DataFrame:
    """IDC's forecast split of AI spending by industry: shares and growth rates (forecast rows)."""
    mask = frame["metric"].isin(INDUSTRY_SPENDING_METRICS)
    return frame.loc[mask].sort_values(["metric", "value"], kind="stable").reset_index(drop=True)


def adoption_by_segment(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Rows for one breakdown: industry, size, business function (by ``segment``) or country.

    Industry, size and function breakdowns also keep their source's own overall figure (segment
    "All", same survey, year and page) as the comparison bar, unless the source gives a range there.
    """
    if kind == "country":
        mask = frame["metric"].isin(COUNTRY_METRICS) & (frame["segment_type"] == "all")
        mask &= frame["geography"] != "World"
        return frame.loc[mask].sort_values(["dataset", "year", "value"], kind="stable").reset_index(drop=True)
    if kind not in SEGMENT_KINDS:
        raise ValueError(f"unknown breakdown {kind!r}; choose one of {', '.join(SEGMENT_KINDS)}")
    slices = frame.loc[frame["segment_type"] == kind]
    overall = frame.loc[frame["segment_type"] == "all"]
    overall = overall.merge(slices[_SERIES_KEYS].drop_duplicates(), on=_SERIES_KEYS, how="inner")
    overall = overall.loc[~overall.duplicated(_SERIES_KEYS, keep=False)]
    rows = pd.concat([slices, overall], ignore_index=True)
    return rows.sort_values(["dataset", "metric", "year", "value"], kind="stable").reset_index(drop=True)


def investment_by_country(frame: pd.DataFrame) -> pd.DataFrame:
    """Private AI investment by country, every year the sources give."""
    mask = frame["metric"].isin(INVESTMENT_COUNTRY_METRICS) & (frame["segment_type"] == "all")
    mask &= frame["geography"] != "World"
    return frame.loc[mask].sort_values(["year", "value"], kind="stable").reset_index(drop=True)


def investment_by_focus_area(frame: pd.DataFrame) -> pd.DataFrame:
    """Investment by focus area (AI Index) and venture capital by sector (OECD)."""
    mask = frame["metric"].isin(FOCUS_AREA_METRICS)
    return frame.loc[mask].sort_values(["dataset", "year", "value"], kind="stable").reset_index(drop=True)


def model_scale(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One model-scale metric (parameters or training compute) and its growth-rate row if any."""
    if metric not in MODEL_SCALE_METRICS:
        raise ValueError(f"unknown model metric {metric!r}; choose one of {', '.join(MODEL_SCALE_METRICS)}")
    wanted = [metric] + ([MODEL_TREND_METRICS[metric]] if metric in MODEL_TREND_METRICS else [])
    return frame.loc[frame["metric"].isin(wanted)].reset_index(drop=True)


def your_data_over_time(user_rows: pd.DataFrame, builtin: pd.DataFrame | None = None) -> pd.DataFrame:
    """A user's series over time: overall rows, and one line per segment measured in several years;
    beside the built-in adoption series of the same measure group when asked (the user's rows first)."""
    years = user_rows.groupby(["dataset", "metric", "segment"])["year"].transform("nunique")
    own = user_rows.loc[(user_rows["segment_type"] == "all") | (years > 1)]
    if builtin is None or own.empty:
        return own.reset_index(drop=True)
    ours = adoption_over_time(builtin)
    groups = {measure_group(row) for _, row in own.iterrows()}
    same = ours.loc[[measure_group(row) in groups for _, row in ours.iterrows()]]
    if same.empty:
        # Nothing of the user's measure: the first built-in group, in its own panel beside theirs.
        groups_of_ours = by_measure_group(ours)
        same = groups_of_ours[0][1] if groups_of_ours else ours
    return pd.concat([own, same], ignore_index=True)


def your_data_by_segment(user_rows: pd.DataFrame, builtin: pd.DataFrame | None = None) -> pd.DataFrame:
    """A user's breakdown rows, optionally beside the built-in breakdown of the same kind.

    The kind is the user's most common segment type among the built-in ones (industry, size,
    function); a user breakdown of another kind is shown alone. A segment measured in several
    years is a line of ``your_data_over_time``, so only its latest year is a bar here (one panel,
    not one per year); the user's rows come first.
    """
    own = user_rows.loc[user_rows["segment_type"] != "all"]
    years = own.groupby(["dataset", "metric", "segment"])["year"].transform("nunique")
    latest = own.groupby(["dataset", "metric"])["year"].transform("max")
    own = own.loc[(years == 1) | (own["year"] == latest)]
    if builtin is None or own.empty:
        return own.reset_index(drop=True)
    kinds = own["segment_type"].loc[own["segment_type"].isin(SEGMENT_KINDS)]
    if kinds.empty:
        return own.reset_index(drop=True)
    return pd.concat([own, adoption_by_segment(builtin, kinds.mode().iloc[0])], ignore_index=True)


def investment_over_time(frame: pd.DataFrame) -> pd.DataFrame:
    """Investment amounts in USD billion over every year the sources give: world totals, and the
    measures that exist for one country only (the US lead in gen-AI investment). Private investment
    by country is drawn by country instead (``investment_by_country``): its countries' one or two
    points per report edition make no line, and six of them made the legend outgrow a phone's plot."""
    mask = (
        frame["metric"].isin(INVESTMENT_SERIES_METRICS)
        & (frame["segment_type"] == "all")
        & (frame["unit"] == "USD billion")
    )
    mask &= ~(frame["metric"].isin(INVESTMENT_COUNTRY_METRICS) & (frame["geography"] != "World"))
    return frame.loc[mask].sort_values(["metric", "geography", "year"], kind="stable").reset_index(drop=True)


def spending_forecasts(frame: pd.DataFrame) -> pd.DataFrame:
    """Worldwide AI and gen-AI spending, estimates and forecasts (each row says its publisher)."""
    mask = frame["metric"].isin(SPENDING_METRICS) & (frame["segment_type"] == "all")
    return frame.loc[mask].sort_values(["metric", "year"], kind="stable").reset_index(drop=True)


def local_markets(frame: pd.DataFrame) -> pd.DataFrame:
    """China's AI industry size (CNY) and UK business AI spending (GBP), one panel per figure and year."""
    mask = frame["metric"].isin(LOCAL_MARKET_METRICS)
    return frame.loc[mask].sort_values(["dataset", "metric", "year", "value"], kind="stable").reset_index(drop=True)


def model_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Notable models by country of the producing institution and by sector (AI Index)."""
    mask = frame["metric"].isin(MODEL_COUNT_METRICS)
    return frame.loc[mask].sort_values(["metric", "year", "value"], kind="stable").reset_index(drop=True)


def stated_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Growth rates and changes as the sources state them (percent change, CAGR, points, x per year)."""
    mask = frame["unit"].isin(STATED_RATE_UNITS)
    return frame.loc[mask].sort_values(["dataset", "metric", "year"], kind="stable").reset_index(drop=True)


def models_from(frame: pd.DataFrame, countries: tuple[str, ...]) -> pd.DataFrame:
    """Model rows whose developer is in one of ``countries`` (all rows when none is chosen)."""
    if not countries or "origin_country" not in frame.columns:
        return frame
    is_model = frame["segment_type"] == "model"
    return frame.loc[~is_model | frame["origin_country"].isin(countries)].reset_index(drop=True)


def not_charted(frame: pd.DataFrame, charted: list[pd.DataFrame]) -> pd.DataFrame:
    """Rows of ``frame`` that none of the ``charted`` tables holds (matched by ``row_id``)."""
    if "row_id" not in frame.columns:
        return frame.iloc[0:0]
    shown: set[str] = set()
    for rows in charted:
        if "row_id" in rows.columns:
            shown.update(rows["row_id"].astype(str))
    return frame.loc[~frame["row_id"].astype(str).isin(shown)].reset_index(drop=True)
