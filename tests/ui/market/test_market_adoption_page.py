"""The Market & adoption page: the review's three questions, sources and caveats, exports, links."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from backend.errors import InvalidInputError
from pages.components import market_charts
from tests.support.paths import PROJECT_ROOT

PAGE = str(PROJECT_ROOT / "pages" / "market" / "adoption.py")
# One header per question the page answers; every other panel is folded into tabs and expanders.
HEADERS = [
    "Which industries adopt AI most",
    "How fast adoption grows",
    "Where the money goes",
    "How countries compare",
    "Briefing for a review deck",
]
CHARTS = 16


def _figures(app: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


def _trace_metas(figure: dict) -> list[dict]:
    return [trace.get("meta", {}) for trace in figure["data"] if not trace.get("meta", {}).get("legend_key")]


def _title(figure: dict) -> str:
    return figure["layout"]["title"]["text"].replace("<br>", " ")


def _table(app: AppTest, first_column: str, having: str = ""):
    return next(
        d.value
        for d in app.dataframe
        if d.value.columns[0] == first_column and (not having or having in d.value.columns)
    )


@pytest.fixture
def app() -> AppTest:
    market_charts.market_data.clear()
    return AppTest.from_file(PAGE, default_timeout=90).run()


def test_every_chart_has_sources_caption_png_and_csv(app):
    assert not app.exception
    assert [h.value for h in app.header] == HEADERS
    charts = app.get("plotly_chart")
    assert len(charts) == CHARTS
    for chart in charts:
        spec = json.loads(chart.proto.spec)
        assert "Source: " in spec["layout"]["title"]["subtitle"]["text"], "the caption travels with a PNG"
        config = json.loads(chart.proto.config)
        assert config["toImageButtonOptions"]["format"] == "png" and config["toImageButtonOptions"]["scale"] == 2
    folded = [e for e in app.expander if e.label.startswith("Sources and caveats")]
    sources = [c.value for e in folded for c in e.caption]
    assert len(folded) == CHARTS and len(sources) == CHARTS
    assert "https://hai.stanford.edu/ai-index/2025-ai-index-report/economy" in " ".join(sources)
    assert "*Caveat:*" in " ".join(sources), "row caveats reach the source list"
    downloads = [b.proto.label for b in app.get("download_button")]
    assert downloads.count("Download this chart's data (CSV)") == CHARTS
    assert downloads[-1] == "Download briefing (HTML, self-contained)"


def test_hover_text_carries_each_rows_caveat(app):
    over_time = next(f for f in _figures(app) if "AI use over time" in _title(f))
    assert "Firms, 10+ employees" in _title(over_time), "the official 10+ employee surveys come first"
    hovers = [cell for trace in over_time["data"] for point in (trace.get("customdata") or []) for cell in point]
    hovers = [str(cell).replace("<br>", " ") for cell in hovers]
    assert any("Caveat: " in cell and "widened the list of AI technologies" in cell for cell in hovers)


def test_measure_choice_switches_the_adoption_chart_and_its_growth(app):
    app.segmented_control(key="market.measure").set_value("Respondents' organisations").run()
    assert not app.exception
    over_time = next(f for f in _figures(app) if "AI use over time" in _title(f))
    assert {m["dataset"] for m in _trace_metas(over_time)} == {"mckinsey_state_of_ai"}
    change = next(f for f in _figures(app) if _title(f).startswith("Change per year"))
    assert {m["group"] for m in _trace_metas(change)} == {"Respondents' organisations"}


def test_industries_are_ranked_and_missing_ones_named(app):
    one_survey, ranking = _figures(app)[:2]
    assert "ranked within each survey" in _title(ranking)
    assert "AI adoption by industry, in " in _title(one_survey), "the one-survey ranking names its survey"
    labels = {label.replace("<br>", " ") for trace in ranking["data"] for label in trace["y"]}
    assert "◆ Educational services (Education)" in labels
    coverage = _table(app, "industry", having="survey")
    assert set(coverage["industry"]) >= {"Healthcare", "Education", "Manufacturing", "Smart city"}
    smart_city = coverage.loc[coverage["industry"] == "Smart city"].iloc[0]
    assert smart_city["survey"] == "no comparable figure"


def test_growth_is_shown_per_series(app):
    growth = next(f for f in _figures(app) if "How fast each series changes" in _title(f))
    assert {m["unit"] for m in _trace_metas(growth)} == {"pp per year", "CAGR %"}
    table = _table(app, "series")
    assert table["change"].str.contains("pp per year").any() and table["change"].str.contains("CAGR").any()


def test_money_over_time_and_forecasts_by_publisher(app):
    titles = [_title(f) for f in _figures(app)]
    investment = next(f for f in _figures(app) if "AI investment over time" in _title(f))
    corporate = [t for t in investment["data"] if t.get("meta", {}).get("metric") == "corporate_ai_investment"]
    assert [(t["meta"]["edition"], t["x"]) for t in corporate] == [
        ("AI Index 2024", [2021, 2022, 2023]),
        ("AI Index 2025", [2024]),
    ], "two editions, two lines: never joined"
    spending = next(f for f in _figures(app) if "estimates and forecasts" in _title(f))
    forecast_names = [t["name"] for t in spending["data"] if t.get("meta", {}).get("forecast")]
    assert any("forecast (IDC)" in n.replace("<br>", " ") for n in forecast_names)
    assert any("forecast (Gartner)" in n.replace("<br>", " ") for n in forecast_names)
    assert any("local currency" in t for t in titles), "China's AI industry size is charted"


def test_other_figures_table_lists_what_no_chart_draws(app):
    other = _table(app, "dataset")
    assert 0 < len(other) <= 14
    # Headings are words, not the tables' keys (note, source_org, source_url).
    assert {"caveat", "organisation", "source"} <= set(other.columns)


def test_source_filter_narrows_the_charts_and_reaches_the_address(app):
    app.multiselect(key="market.datasets").set_value(["eurostat_isoc_eb_ai"]).run()
    assert not app.exception
    datasets = {meta.get("dataset") for figure in _figures(app) for meta in _trace_metas(figure)} - {None}
    assert datasets == {"eurostat_isoc_eb_ai"}
    assert any("No figures match the current filters" in i.value for i in app.info)
    assert any("figures match the filters" in c.value for c in app.caption)
    assert app.query_params["source"] == "eurostat_isoc_eb_ai"
    coverage = _table(app, "industry", having="survey")
    covered = coverage.loc[coverage["survey"] != "no comparable figure", "industry"]
    assert set(covered) == {
        "Manufacturing",
        "Media and entertainment",
        "Energy",
        "Retail and e-commerce (recommendation)",
        "Autonomous driving and transport",
    }, "only the industries Eurostat's activities stand for are left"
    assert coverage["industry"].nunique() == 11, "industries filtered away are named, not dropped"


def test_a_link_restores_the_filters():
    market_charts.market_data.clear()
    app = AppTest.from_file(PAGE, default_timeout=90)
    app.query_params["source"] = ["census_btos", "<b>not a source</b>"]
    app.query_params["years"] = "2023-2026"
    app.query_params["breakdown"] = "technology"
    app.run()
    assert not app.exception
    assert app.multiselect(key="market.datasets").value == ["census_btos"], "unknown values are dropped"
    assert app.slider(key="market.years").value == (2023, 2026)
    assert app.segmented_control(key="market.breakdown").value == "technology"
    assert any("source=census_btos" in c.value and "years=2023-2026" in c.value for c in app.code)


def test_year_filter_drops_earlier_points(app):
    app.slider(key="market.years").set_value((2025, 2026)).run()
    assert not app.exception
    over_time = next(f for f in _figures(app) if "AI use over time" in _title(f))
    years = {x for trace in over_time["data"] for x in (trace.get("x") or []) if x is not None}
    assert years and years <= {2025, 2026}
    assert app.query_params["years"] == "2025-2026"


def test_geography_filter_reaches_the_country_chart(app):
    app.multiselect(key="market.geographies").set_value(["Denmark"]).run()
    assert not app.exception
    country = next(f for f in _figures(app) if "by country and region" in _title(f))
    labels = {label.replace("<br>", " ") for trace in country["data"] for label in trace["y"]}
    assert labels == {"Denmark"}


def test_developer_country_shows_chinese_models(app):
    app.multiselect(key="market.model_countries").set_value(["China"]).run()
    app.segmented_control(key="market.model_metric").set_value("training_compute").run()
    assert not app.exception
    compute = next(f for f in _figures(app) if "Training compute" in _title(f))
    assert compute["layout"]["yaxis"]["type"] == "log"
    models = {label for trace in compute["data"] for label in (trace.get("text") or [])}
    assert models == {"Qwen2.5-72B", "DeepSeek-V3"}
    assert app.query_params["developer"] == "China"


def test_briefing_choice_lists_the_charts_shown(app):
    picker = app.multiselect(key="market.briefing_charts")
    assert len(picker.value) == CHARTS and picker.value == picker.options
    picker.set_value(picker.value[:2]).run()
    assert not app.exception
    assert len(app.multiselect(key="market.briefing_charts").value) == 2


def test_broken_shipped_data_shows_a_message(monkeypatch):
    market_charts.market_data.clear()

    def broken(folder=None):
        raise InvalidInputError("census_btos.csv has 1 invalid row(s).")

    monkeypatch.setattr("backend.market.store.load_market_data", broken)
    app = AppTest.from_file(PAGE, default_timeout=60).run()
    market_charts.market_data.clear()
    assert not app.exception
    assert any("invalid row" in w.value for w in app.warning)
    assert not app.get("plotly_chart")
