"""Market & adoption: cited charts of AI adoption, investment and model scale, with filters."""

import streamlit as st

from backend.market import figures, model_figures, selections, store
from backend.market.style import dataset_label
from pages.components.errors import user_errors
from pages.components.market_charts import market_data, show_chart

st.title("Market & adoption")
st.caption(
    "Public figures on AI adoption, investment and model scale. Every number comes from a cited "
    "source, listed under its chart; each chart's data downloads as CSV."
)

with st.expander("How to read this", icon=":material/menu_book:"):
    st.markdown(
        """
- **Surveys count different things, so their levels differ 5–10x.** McKinsey asks survey
  respondents whether *their organisation* uses AI in at least one function (mostly large firms:
  78% in 2024). The US Census BTOS asks *all US firms* (5–20%); Eurostat asks *EU enterprises with
  10+ employees* (13.5% in 2024). Each line is labelled with its definition: compare the trend
  within a line, not the levels across lines.
- **A dashed vertical line is a series break.** The Census question changed in November 2025
  (AI "in producing goods or services" became AI "in any business function"); values on either
  side are separate series.
- **Hollow markers, dotted lines and hatched bars** are figures found only in a third-party
  summary (secondary). Prefer the filled ones.
- **≈ about, > more than, < less than, ~ implied** (derived from the source's own words, e.g.
  "up 4 points").
- **Model-scale charts use a log scale**: each gridline is ten times the one below.
- **Year** is the survey or data year, not the year of publication.
"""
    )

data = None
with user_errors():
    data = market_data()
if data is None:
    st.stop()

options = store.filter_options(data)
with st.container(border=True):
    st.markdown("**Filters** (empty means all)")
    left, middle, right = st.columns(3)
    datasets = left.multiselect("Source", options.datasets, format_func=dataset_label, key="market.datasets")
    geographies = middle.multiselect("Geography", options.geographies, key="market.geographies")
    segments = right.multiselect("Segment", options.segments, key="market.segments")
    years = st.slider(
        "Years", options.year_min, options.year_max, (options.year_min, options.year_max), key="market.years"
    )
choice = store.MarketFilter(tuple(datasets), tuple(geographies), tuple(segments), tuple(years))
rows = store.filter_rows(data, choice)
st.caption(f"{len(rows)} of {len(data)} figures match the filters.")

st.header("Adoption over time")
over_time = selections.adoption_over_time(rows)
show_chart(figures.build_adoption_over_time(over_time), over_time, "market.over_time", "ai_adoption_over_time.csv")

st.header("Adoption by industry, company size and country")
kind = st.segmented_control(
    "Break down by",
    list(selections.SEGMENT_KINDS),
    format_func=selections.SEGMENT_KINDS.get,
    default="industry",
    key="market.breakdown",
)
kind = kind or "industry"
by_segment = selections.adoption_by_segment(rows, kind)
show_chart(
    figures.build_adoption_by_segment(by_segment, kind), by_segment, "market.by_segment", f"ai_adoption_by_{kind}.csv"
)

st.header("Investment")
by_country = selections.investment_by_country(rows)
show_chart(
    figures.build_investment_by_country(by_country),
    by_country,
    "market.investment_country",
    "ai_investment_by_country.csv",
)
by_focus = selections.investment_by_focus_area(rows)
show_chart(
    figures.build_investment_by_focus_area(by_focus),
    by_focus,
    "market.investment_focus",
    "ai_investment_by_focus_area.csv",
)

st.header("Model scale")
metric = st.segmented_control(
    "Measure",
    list(selections.MODEL_SCALE_METRICS),
    format_func={"parameters": "Parameters", "training_compute": "Training compute"}.get,
    default="parameters",
    key="market.model_metric",
)
metric = metric or "parameters"
scale = selections.model_scale(rows, metric)
show_chart(model_figures.build_model_scale(scale, metric), scale, "market.model_scale", f"notable_models_{metric}.csv")
