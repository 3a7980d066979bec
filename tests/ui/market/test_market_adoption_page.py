"""The Market & adoption page: charts with sources and downloads, and filters that change them."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from backend.errors import InvalidInputError
from pages.components import market_charts
from paths import PROJECT_ROOT

PAGE = str(PROJECT_ROOT / "pages" / "market" / "adoption.py")


def _figures(app: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


def _trace_metas(figure: dict) -> list[dict]:
    return [trace.get("meta", {}) for trace in figure["data"] if not trace.get("meta", {}).get("legend_key")]


@pytest.fixture
def app() -> AppTest:
    market_charts.market_data.clear()
    return AppTest.from_file(PAGE, default_timeout=60).run()


def test_every_chart_has_sources_and_a_download(app):
    assert not app.exception
    assert [h.value for h in app.header] == [
        "Adoption over time",
        "Adoption by industry, company size and country",
        "Investment",
        "Model scale",
    ]
    figures = _figures(app)
    assert len(figures) == 5
    sources = [m.value for m in app.caption if m.value.startswith("**Sources**")]
    assert len(sources) == 5
    assert "https://hai.stanford.edu/ai-index/2025-ai-index-report/economy" in " ".join(sources)
    assert "secondary: third-party summary" in sources[0]
    downloads = app.get("download_button")
    assert len(downloads) == 5
    assert "How to read this" in [e.label for e in app.expander]


def test_source_filter_narrows_the_charts(app):
    app.multiselect(key="market.datasets").set_value(["eurostat_isoc_eb_ai"]).run()
    assert not app.exception
    figures = _figures(app)
    assert len(figures) == 1, "Eurostat has no industry, investment or model figures"
    datasets = {meta["dataset"] for figure in figures for meta in _trace_metas(figure)}
    assert datasets == {"eurostat_isoc_eb_ai"}
    infos = [i.value for i in app.info]
    assert sum("No figures match the current filters" in text for text in infos) == 4
    assert any("figures match the filters" in c.value for c in app.caption)


def test_year_filter_drops_earlier_points(app):
    app.slider(key="market.years").set_value((2025, 2026)).run()
    assert not app.exception
    over_time = _figures(app)[0]
    years = {x for trace in over_time["data"] for x in (trace.get("x") or []) if x is not None}
    assert years == {2025, 2026}


def test_geography_filter_reaches_the_country_chart(app):
    app.multiselect(key="market.geographies").set_value(["Denmark"]).run()
    app.segmented_control(key="market.breakdown").set_value("country").run()
    assert not app.exception
    country = next(f for f in _figures(app) if "by country and region" in f["layout"]["title"]["text"])
    labels = {label for trace in country["data"] for label in trace["y"]}
    assert labels == {"Denmark"}


def test_breakdown_and_model_measure_switch_charts(app):
    app.segmented_control(key="market.breakdown").set_value("size").run()
    app.segmented_control(key="market.model_metric").set_value("training_compute").run()
    assert not app.exception
    titles = [f["layout"]["title"]["text"] for f in _figures(app)]
    assert any("company size" in t for t in titles)
    compute = next(f for f in _figures(app) if "Training compute" in f["layout"]["title"]["text"])
    assert compute["layout"]["yaxis"]["type"] == "log"


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
