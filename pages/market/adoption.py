"""Market & adoption: which industries adopt AI, how fast adoption grows, where the money goes.

Every number comes from a cited row; charts carry their source caption (also in PNG exports), the
source list under each chart carries each row's caveat, and the filters live in the page address.
"""

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from backend.market import briefing, figures, growth, industries, model_figures, selections, store
from backend.market.series_labels import dataset_label
from pages.components.errors import user_errors
from pages.components.market_charts import (
    briefing_download,
    market_data,
    page_link,
    restore_filters,
    save_filters,
    show_chart,
)

st.title("Market & adoption")
st.caption(
    "Which industries adopt AI most, how fast adoption grows, and where investment goes. Every number "
    "comes from a cited source, listed under its chart with its caveats; each chart exports as PNG "
    "(camera icon) with its source caption, and as CSV."
)

with st.expander("How to read this", icon=":material/menu_book:"):
    st.markdown(
        """
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
"""
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
breakdowns = [kind for kind in selections.SEGMENT_KINDS if kind != "industry"]


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
with st.container(border=True):
    st.markdown("**Filters** (empty means all)")
    left, middle, right = st.columns(3)
    datasets = left.multiselect("Source", options.datasets, format_func=dataset_label, key="market.datasets")
    geographies = middle.multiselect("Geography", options.geographies, key="market.geographies")
    segments = right.multiselect("Segment", options.segments, key="market.segments")
    years = st.slider(
        "Years", options.year_min, options.year_max, key="market.years", **initial("market.years", "value")
    )
choice = store.MarketFilter(tuple(datasets), tuple(geographies), tuple(segments), tuple(years))
rows = store.filter_rows(data, choice)
st.caption(f"{len(rows)} of {len(data)} figures match the filters.")

charts: list[briefing.BriefingChart] = []
charted: list[pd.DataFrame] = []


def chart(figure, chart_rows: pd.DataFrame, key: str, file_name: str) -> None:
    """Show one chart and remember it for the briefing and the "other figures" table."""
    charted.append(chart_rows)
    shown = show_chart(figure, chart_rows, key, file_name)
    if shown is not None:
        charts.append(shown)


st.header("Which industries adopt AI most")
by_industry = industries.industry_rows(rows)
chart(figures.build_industry_ranking(by_industry), by_industry, "market.industry", "ai_adoption_by_industry.csv")
st.subheader("Industries of the source documents")
st.caption(
    "Every adoption figure the collection holds for each industry the source documents name, with its "
    "rank within its own survey. An industry no survey measures says so."
)
coverage = industries.coverage(rows)
st.dataframe(coverage.drop(columns=["row_id"]), hide_index=True, width="stretch", key="market.industry_coverage")

st.header("How fast adoption grows")
over_time = selections.adoption_over_time(rows)
chart(figures.build_adoption_over_time(over_time), over_time, "market.over_time", "ai_adoption_over_time.csv")
changes = growth.series_changes(rows)
growth_rows = rows.loc[rows["row_id"].isin({i for c in changes for i in c.row_ids})]
chart(figures.build_growth_bars(changes), growth_rows, "market.growth", "ai_growth_per_series.csv")
st.dataframe(growth.changes_table(changes), hide_index=True, width="stretch", key="market.growth_table")
rates = selections.stated_rates(rows)
chart(figures.build_stated_rates(rates), rates, "market.stated_rates", "ai_growth_rates_stated.csv")

st.header("Adoption by company size, country and technology")
kind = st.segmented_control(
    "Break down by",
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
    figures.build_adoption_by_segment(by_segment, kind), by_segment, "market.by_segment", f"ai_adoption_by_{kind}.csv"
)

st.header("Where the money goes")
investment = selections.investment_over_time(rows)
chart(
    figures.build_investment_over_time(investment), investment, "market.investment_time", "ai_investment_over_time.csv"
)
by_country = selections.investment_by_country(rows)
chart(
    figures.build_investment_by_country(by_country),
    by_country,
    "market.investment_country",
    "ai_investment_by_country.csv",
)
by_focus = selections.investment_by_focus_area(rows)
chart(
    figures.build_investment_by_focus_area(by_focus),
    by_focus,
    "market.investment_focus",
    "ai_investment_by_focus_area.csv",
)
spending = selections.spending_forecasts(rows)
chart(figures.build_spending_forecasts(spending), spending, "market.spending", "ai_spending_forecasts.csv")
local = selections.local_markets(rows)
chart(figures.build_local_markets(local), local, "market.local_markets", "ai_market_local_currency.csv")

st.header("Models")
left, right = st.columns([2, 1])
metric = left.segmented_control(
    "Measure",
    list(selections.MODEL_SCALE_METRICS),
    format_func={"parameters": "Parameters", "training_compute": "Training compute"}.get,
    key="market.model_metric",
    **initial("market.model_metric", "default"),
)
metric = metric or "parameters"
countries = right.multiselect("Developer country", developers, key="market.model_countries")
model_rows = selections.models_from(rows, tuple(countries))
for other in selections.MODEL_SCALE_METRICS:
    charted.append(selections.model_scale(rows, other))
scale = selections.model_scale(model_rows, metric)
chart(model_figures.build_model_scale(scale, metric), scale, "market.model_scale", f"notable_models_{metric}.csv")
counts = selections.model_counts(rows)
chart(figures.build_model_counts(counts), counts, "market.model_counts", "notable_models_by_country.csv")

st.header("Other figures")
other = selections.not_charted(rows, charted)
st.caption(
    f"{len(other)} figure(s) that no chart above draws, with their source and caveat, so nothing shipped is hidden."
)
if not other.empty:
    st.dataframe(
        other[
            [
                "dataset",
                "definition",
                "geography",
                "segment",
                "year",
                "value",
                "unit",
                "note",
                "source_org",
                "source_url",
            ]
        ],
        hide_index=True,
        width="stretch",
        key="market.other",
        column_config={"source_url": st.column_config.LinkColumn("source")},
    )

query = save_filters(defaults)
st.header("Briefing for a review deck")
link = page_link(query)
st.caption("This link reproduces the current filters:")
st.code(link or (f"?{query}" if query else "(no filters: the page's own address)"), language=None)
titles = [c.title for c in charts]
picked = st.multiselect("Charts in the briefing", titles, default=titles, key="market.briefing_charts")
selected = [c for c in charts if c.title in picked]
filters_text = "; ".join(
    f"{label}: {value}"
    for label, value in (
        ("Source", ", ".join(dataset_label(d) for d in datasets)),
        ("Geography", ", ".join(geographies)),
        ("Segment", ", ".join(segments)),
        ("Years", f"{years[0]}-{years[1]}"),
    )
    if value
)
briefing_download(
    selected,
    lambda chosen: briefing.build_briefing_html(chosen, generated=datetime.now(UTC), filters=filters_text, link=link),
    key="market.briefing",
)
