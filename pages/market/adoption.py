"""Market & adoption: which industries adopt AI, how fast adoption grows, where the money goes.

Every number comes from a cited row; charts carry their source caption (also in PNG exports), the
source list under each chart carries each row's caveat, and the filters live in the page address.
"""

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from backend.i18n import N_, _
from backend.market import briefing, figures, findings, growth, industries, model_figures, selections, store
from backend.market.series_labels import (
    best_figures_markdown,
    data_label,
    dataset_label,
    localised_rows,
    proxies_markdown,
)
from pages.components.errors import user_errors
from pages.components.market_charts import (
    briefing_download,
    market_data,
    page_link,
    restore_filters,
    save_filters,
    show_chart,
)

# The "Other figures" table's columns (the rows' own keys) and their headings, shown with ``_()``.
OTHER_FIGURES_COLUMNS: dict[str, str] = {
    "dataset": N_("dataset"),
    "definition": N_("definition"),
    "geography": N_("geography"),
    "segment": N_("segment"),
    "year": N_("year"),
    "value": N_("value"),
    "unit": N_("unit"),
    "note": N_("caveat"),
    "source_org": N_("organisation"),
    "source_url": N_("source"),
}

st.title(_("Market & adoption"))
st.caption(
    _(
        "Which industries adopt AI most, how fast adoption grows, and where investment goes. Every number "
        "comes from a cited source, listed under its chart with its caveats; each chart exports as PNG "
        "(camera icon) with its source caption, and as CSV."
    )
)

with st.expander(_("How to read this"), icon=":material/menu_book:"):
    st.markdown(
        _("""
- **Surveys count different things, so their levels differ 5–10x.** McKinsey asks survey
  respondents whether *their organisation* uses AI in at least one function (mostly large firms:
  78% in 2024). The US Census BTOS asks *all US firms* (5–20%); Eurostat asks *EU enterprises with
  10+ employees* (20% in 2025). Each line or panel is labelled with its definition: compare within
  a line or a panel, not across them.
- **Industries are ranked within each survey.** ◆ marks an industry of the source documents;
  the table under the ranking lists every figure per industry, and says so where there is none.
- **A dashed vertical line is a series break.** The Census question changed in November 2025
  (AI "in producing goods or services" became AI "in any business function"); values on either
  side are separate series.
- **Hollow markers, dotted lines and hatched bars** are figures found only in a third-party
  summary (secondary). Prefer the filled ones. **Dashed lines are forecasts**, named with their publisher.
- **Growth** is computed from each series' own first and last measured value: percentage points
  per year for shares, compound annual growth (CAGR) for amounts. Forecasts never enter it.
- **≈ about, > more than, < less than, ~ implied** (derived from the source's own words, e.g.
  "up 4 points"). **Year** is the survey or data year, not the year of publication.
""")
    )

data = None
with user_errors():
    data = market_data()
if data is None:
    st.stop()

options = store.filter_options(data)
developers = tuple(sorted(c for c in data.get("origin_country", pd.Series(dtype=str)).unique() if c))
defaults: dict[str, object] = {
    "market.datasets": [],
    "market.geographies": [],
    "market.segments": [],
    "market.years": (options.year_min, options.year_max),
    "market.breakdown": "size",
    "market.model_metric": "parameters",
    "market.model_countries": [],
}
breakdowns = [kind for kind in selections.SEGMENT_KINDS if kind not in ("industry", "country")]


def initial(key: str, argument: str) -> dict[str, object]:
    """A widget's default, unless the page address already set its value (no double setting)."""
    return {} if key in st.session_state else {argument: defaults[key]}


restore_filters(
    {
        "market.datasets": options.datasets,
        "market.geographies": options.geographies,
        "market.segments": options.segments,
        "market.years": (options.year_min, options.year_max),
        "market.breakdown": tuple(breakdowns),
        "market.model_metric": selections.MODEL_SCALE_METRICS,
        "market.model_countries": developers,
    }
)
with st.expander(_("Filters (empty means all)"), icon=":material/filter_alt:"):
    left, middle, right = st.columns(3)
    datasets = left.multiselect(
        _("Source"), options.datasets, format_func=dataset_label, placeholder=_("All sources"), key="market.datasets"
    )
    geographies = middle.multiselect(
        _("Geography"),
        options.geographies,
        format_func=lambda place: data_label("geography", place),
        placeholder=_("All places"),
        key="market.geographies",
    )
    segments = right.multiselect(
        _("Segment"),
        options.segments,
        format_func=lambda part: data_label("segment", part),
        placeholder=_("All segments"),
        key="market.segments",
    )
    years = st.slider(
        _("Years"), options.year_min, options.year_max, key="market.years", **initial("market.years", "value")
    )
choice = store.MarketFilter(tuple(datasets), tuple(geographies), tuple(segments), tuple(years))
rows = store.filter_rows(data, choice)
st.caption(_("{rows} of {data} figures match the filters.").format(rows=len(rows), data=len(data)))

charts: list[briefing.BriefingChart] = []
charted: list[pd.DataFrame] = []


def chart(figure, chart_rows: pd.DataFrame, key: str, file_name: str) -> None:
    """Show one chart and remember it for the briefing and the "other figures" table."""
    charted.append(chart_rows)
    shown = show_chart(figure, chart_rows, key, file_name)
    if shown is not None:
        charts.append(shown)


def pick_group(label: str, groups: list[str], key: str) -> str | None:
    """One measure group at a time (what is counted, with the size threshold), first by default."""
    if not groups:
        return None
    choice = st.segmented_control(
        label,
        groups,
        format_func=lambda group: data_label("measure_group", group),
        key=key,
        **({} if key in st.session_state else {"default": groups[0]}),
    )
    return choice if choice in groups else groups[0]


# Each question is one screen: a headline view, with every other panel folded into tabs.
st.header(_("Which industries adopt AI most"))
by_industry = industries.industry_rows(rows)
best_tab, ranking_tab, every_tab, coverage_tab = st.tabs(
    [
        _("Best figure per industry"),
        _("Ranking within one survey"),
        _("Every survey's ranking"),
        _("Every figure per industry"),
    ]
)
with best_tab:
    st.caption(
        _(
            "The best comparable figure for each industry of the source documents: a primary national "
            "statistic that asks every industry the same question. Where there is none, the nearest proxies "
            "and why they do not compare."
        )
    )
    best = industries.best_figures(rows)
    st.markdown(best_figures_markdown(best, proxies=False))
    with st.expander(_("Nearest proxies, and why they do not compare"), icon=":material/menu_book:"):
        st.caption(proxies_markdown(best))
with ranking_tab:
    survey_names = pd.Series(
        [f"{dataset_label(d)} {int(y)}" for d, y in zip(by_industry["dataset"], by_industry["year"], strict=True)],
        index=by_industry.index,
        dtype=str,
    )
    # The survey with the most industries first: it answers "which industries" most broadly.
    panels = survey_names.value_counts(sort=True).index.tolist()
    survey = st.selectbox(_("Survey"), panels, key="market.industry_survey") if panels else None
    one = by_industry.loc[survey_names == survey]
    chart(
        figures.build_industry_ranking(one, survey=survey or ""),
        one,
        "market.industry_one",
        "ai_adoption_by_industry_one_survey.csv",
    )
with every_tab:
    chart(figures.build_industry_ranking(by_industry), by_industry, "market.industry", "ai_adoption_by_industry.csv")
with coverage_tab:
    st.caption(
        _(
            "Every adoption figure the collection holds for each industry the source documents name, with its "
            "rank within its own survey. An industry no survey measures says so."
        )
    )
    coverage = industries.coverage(rows)
    st.dataframe(
        coverage.drop(columns=["row_id"]).rename(columns=_),
        hide_index=True,
        width="stretch",
        key="market.industry_coverage",
    )

st.header(_("How fast adoption grows"))
over_time = selections.adoption_over_time(rows)
groups = selections.by_measure_group(over_time)
charted.append(over_time)
group = pick_group(_("What is counted"), [g for g, _unused in groups], "market.measure")
changes = growth.series_changes(rows)
if group is None:
    st.info(
        _("No adoption figures match the current filters. Widen the filters above."), icon=":material/filter_alt_off:"
    )
else:
    group_rows = dict(groups)[group]
    left, right = st.columns([3, 2])
    with left:
        chart(figures.build_adoption_over_time(group_rows), group_rows, "market.over_time", "ai_adoption_over_time.csv")
    # Whole populations only beside the headline chart; size classes and technologies are in the expander below.
    in_group = [c for c in changes if c.group == group and c.per_year_unit == "pp per year" and c.segment == "All"]
    in_group_rows = rows.loc[rows["row_id"].isin({i for c in in_group for i in c.row_ids})]
    with right:
        chart(
            figures.build_growth_bars(
                in_group, _("Change per year: {group}").format(group=data_label("measure_group", group))
            ),
            in_group_rows,
            "market.growth_group",
            "ai_growth_per_series_in_group.csv",
        )
with st.expander(_("Every series' change per year, all measures (and growth rates as the sources state them)")):
    growth_rows = rows.loc[rows["row_id"].isin({i for c in changes for i in c.row_ids})]
    chart(figures.build_growth_bars(changes), growth_rows, "market.growth", "ai_growth_per_series.csv")
    st.dataframe(
        growth.changes_table(changes).rename(columns=_), hide_index=True, width="stretch", key="market.growth_table"
    )
    rates = selections.stated_rates(rows)
    chart(figures.build_stated_rates(rates), rates, "market.stated_rates", "ai_growth_rates_stated.csv")
with st.expander(_("Adoption by company size, AI technology and business function")):
    kind = st.segmented_control(
        _("Break down by"),
        breakdowns,
        format_func=selections.SEGMENT_KINDS.get,
        key="market.breakdown",
        **initial("market.breakdown", "default"),
    )
    kind = kind or "size"
    for other in breakdowns:
        charted.append(selections.adoption_by_segment(rows, other))
    by_segment = selections.adoption_by_segment(rows, kind)
    chart(
        figures.build_adoption_by_segment(by_segment, kind),
        by_segment,
        "market.by_segment",
        f"ai_adoption_by_{kind}.csv",
    )

st.header(_("Where the money goes"))
money_tabs = st.tabs(
    [
        _("Investment over time"),
        _("Spending: IDC vs Gartner"),
        _("Spending by industry"),
        _("By country"),
        _("By focus area"),
        _("Local currency"),
    ]
)
with money_tabs[0]:
    investment = selections.investment_over_time(rows)
    chart(
        figures.build_investment_over_time(investment),
        investment,
        "market.investment_time",
        "ai_investment_over_time.csv",
    )
with money_tabs[1]:
    spending = selections.spending_forecasts(rows)
    chart(figures.build_spending_forecasts(spending), spending, "market.spending", "ai_spending_forecasts.csv")
with money_tabs[2]:
    by_industry_spend = selections.spending_by_industry(rows)
    chart(
        figures.build_spending_by_industry(by_industry_spend),
        by_industry_spend,
        "market.spending_industry",
        "ai_spending_by_industry.csv",
    )
with money_tabs[3]:
    by_country = selections.investment_by_country(rows)
    chart(
        figures.build_investment_by_country(by_country),
        by_country,
        "market.investment_country",
        "ai_investment_by_country.csv",
    )
with money_tabs[4]:
    by_focus = selections.investment_by_focus_area(rows)
    chart(
        figures.build_investment_by_focus_area(by_focus),
        by_focus,
        "market.investment_focus",
        "ai_investment_by_focus_area.csv",
    )
with money_tabs[5]:
    local = selections.local_markets(rows)
    chart(figures.build_local_markets(local), local, "market.local_markets", "ai_market_local_currency.csv")

st.header(_("How countries compare"))
st.caption(
    _(
        "One measure at a time. Only official statistics of firms with 10+ employees (Eurostat, Spain's INE) compare "
        "like for like; China's figures count other things (IT professionals, large organisations, respondents), "
        "each under its own measure."
    )
)
country_rows = selections.adoption_by_segment(rows, "country")
country_groups = selections.by_measure_group(country_rows)
charted.append(country_rows)
measure_column, year_column = st.columns([3, 1])
with measure_column:
    country_group = pick_group(_("What is counted"), [g for g, _unused in country_groups], "market.country_measure")
if country_group is not None:
    one_group = dict(country_groups)[country_group]
    country_years = sorted({int(y) for y in one_group["year"]}, reverse=True)
    if len(country_years) > 1:
        year = year_column.segmented_control(
            _("Year"),
            country_years,
            key="market.country_year",
            **({} if "market.country_year" in st.session_state else {"default": country_years[0]}),
        )
        one_group = one_group.loc[one_group["year"] == (year or country_years[0])]
    chart(
        figures.build_adoption_by_segment(one_group, "country"),
        one_group,
        "market.by_country",
        "ai_adoption_by_country.csv",
    )

with st.expander(_("Models: size, training compute and counts by country")):
    left, right = st.columns([2, 1])
    metric = left.segmented_control(
        _("Measure"),
        list(selections.MODEL_SCALE_METRICS),
        format_func=lambda metric: _(
            {"parameters": N_("Parameters"), "training_compute": N_("Training compute")}[metric]
        ),
        key="market.model_metric",
        **initial("market.model_metric", "default"),
    )
    metric = metric or "parameters"
    countries = right.multiselect(
        _("Developer country"), developers, placeholder=_("All countries"), key="market.model_countries"
    )
    model_rows = selections.models_from(rows, tuple(countries))
    for other in selections.MODEL_SCALE_METRICS:
        charted.append(selections.model_scale(rows, other))
    scale = selections.model_scale(model_rows, metric)
    chart(model_figures.build_model_scale(scale, metric), scale, "market.model_scale", f"notable_models_{metric}.csv")
    counts = selections.model_counts(rows)
    chart(figures.build_model_counts(counts), counts, "market.model_counts", "notable_models_by_country.csv")

other = selections.not_charted(rows, charted)
with st.expander(_("Other figures ({other}): every figure no chart above draws").format(other=len(other))):
    st.caption(_("With their source and caveat, so nothing shipped is hidden."))
    if not other.empty:
        st.dataframe(
            localised_rows(other)[list(OTHER_FIGURES_COLUMNS)].rename(columns=lambda c: _(OTHER_FIGURES_COLUMNS[c])),
            hide_index=True,
            width="stretch",
            key="market.other",
            column_config={_("source"): st.column_config.LinkColumn(_("source"))},
        )

query = save_filters(defaults)
st.header(_("Briefing for a review deck"))
link = page_link(query)
st.caption(_("This link reproduces the current filters:"))
st.code(link or (f"?{query}" if query else _("(no filters: the page's own address)")), language=None)
titles = [c.title for c in charts]
picked = st.multiselect(
    _("Charts in the briefing"), titles, default=titles, placeholder=_("Pick charts"), key="market.briefing_charts"
)
selected = [c for c in charts if c.title in picked]
filters_text = "; ".join(
    f"{label}: {value}"
    for label, value in (
        (_("Source"), ", ".join(dataset_label(d) for d in datasets)),
        (_("Geography"), ", ".join(data_label("geography", g) for g in geographies)),
        (_("Segment"), ", ".join(data_label("segment", s) for s in segments)),
        (_("Years"), f"{years[0]}-{years[1]}"),
    )
    if value
)
briefing_download(
    selected,
    lambda chosen: briefing.build_briefing_html(
        chosen, generated=datetime.now(UTC), filters=filters_text, link=link, findings=findings.key_findings(rows)
    ),
    key="market.briefing",
)
