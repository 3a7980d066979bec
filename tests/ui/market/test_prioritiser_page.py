"""The Applications page's prioritiser and calculator: weights change the order, state lives in
the address, and a bad address value is dropped rather than shown."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from backend.decisions import industry_inputs, scoring, speed
from backend.market.store import load_market_data
from backend.models.resolve import catalogue as models
from backend.use_cases.catalogue import load_catalogue
from tests.support.paths import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")
PAGE = "pages/market/applications.py"
KEY = "applications.prioritiser"


def _open(query: dict[str, str] | None = None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    app.switch_page(PAGE)
    for name, value in (query or {}).items():
        app.query_params[name] = value
    return _checked(app.run())


def _checked(app: AppTest) -> AppTest:
    assert not app.exception, [e.value for e in app.exception]
    return app


def _table_with(app: AppTest, column: str):
    # AppTest does not expose a dataframe's key; each of the prioritiser's tables has a column of its own.
    return next(frame.value for frame in app.dataframe if column in frame.value.columns)


def _ranked_titles(app: AppTest) -> list[str]:
    return list(_table_with(app, "rank")["use case"])


def _expected(weights: scoring.Weights) -> list[str]:
    use_cases = load_catalogue().use_cases
    market = industry_inputs.industry_inputs(load_market_data())
    ranking = scoring.rank_use_cases(use_cases, market, speed.speed_by_task(), weights)
    return [row.title_en for row in ranking.rows]


def test_the_ranking_shown_is_the_backends_at_the_default_weights():
    app = _open()
    assert _ranked_titles(app) == _expected(scoring.Weights())
    keys = [chart.key for chart in app.get("plotly_chart")]
    assert {f"{KEY}.ranking_chart", f"{KEY}.sensitivity_chart", f"{KEY}.cost_chart"} <= set(keys)
    use_case_costs, task_costs = (frame.value for frame in app.dataframe if "requests per hour" in frame.value.columns)
    # Task models by the task's name, not its id.
    assert set(task_costs["use case or task"]) == {models.task_title(task) for task in speed.speed_by_task()}
    # The top-ranked use cases that run here, in rank order (the ranking's own titles).
    ranked = _expected(scoring.Weights())
    shown = list(use_case_costs["use case or task"])
    assert shown and shown == sorted(shown, key=ranked.index) and set(shown) <= set(ranked[:10])
    assert all("benchmark record" in source or "measured" in source for source in task_costs["source"])


def test_moving_the_weights_reorders_the_use_cases_and_writes_the_address():
    app = _open()
    for criterion in ("adoption", "growth", "investment"):
        app.slider(key=f"{KEY}.weight.{criterion}").set_value(0)
    app.slider(key=f"{KEY}.weight.feasibility").set_value(10)
    app = _checked(app.run())
    titles = _ranked_titles(app)
    assert titles == _expected(scoring.Weights(0, 0, 0, 10))
    assert titles[0] != _expected(scoring.Weights())[0]
    assert (app.query_params["wa"], app.query_params["wf"]) == ("0", "10")


def test_the_address_restores_the_weights_price_and_sensitivity():
    app = _open({"wa": "10", "wg": "0", "wi": "0", "wf": "0", "price": "2.5", "sens": "growth"})
    assert _ranked_titles(app) == _expected(scoring.Weights(10, 0, 0, 0))
    assert app.number_input(key=f"{KEY}.price").value == 2.5
    assert app.selectbox(key=f"{KEY}.sensitivity").value == "growth"
    chart = next(c for c in app.get("plotly_chart") if c.key == f"{KEY}.sensitivity_chart")
    assert "Adoption growth" in json.loads(chart.proto.spec)["layout"]["title"]["text"]
    costs = _table_with(app, "requests per hour")
    assert set(costs["price per hour"]) == {2.5}


def test_a_bad_address_value_is_dropped_not_shown():
    app = _open({"wa": "99", "price": "<b>free</b>", "hw": "<script>"})
    assert app.slider(key=f"{KEY}.weight.adoption").value == scoring.Weights().adoption
    assert app.number_input(key=f"{KEY}.price").value == 0.40
    assert _ranked_titles(app) == _expected(scoring.Weights())


def test_the_measure_tab_measures_the_model_picked_for_each_task():
    app = _open()
    app.selectbox(key=f"{KEY}.measure_use_case").set_value("nlp-sentiment-analysis")
    app = _checked(app.run())
    picker = app.selectbox(key=f"{KEY}.measure_model.sentiment")
    offered = set(picker.options)
    # The catalogue's sentiment models are all offered; the task's default is picked at first.
    for spec in models.models_for("sentiment"):
        assert any(spec.hub_id in option for option in offered)
    assert picker.value == models.default_model("sentiment").hub_id
    other = "IDEA-CCNL/Erlangshen-Roberta-110M-Sentiment"
    picker.set_value(other)
    app = _checked(app.run())
    assert other in _captions(app) and models.default_model("sentiment").hub_id not in _captions(app)


def _captions(app: AppTest) -> str:
    return " ".join(str(caption.value) for caption in app.caption)


def test_the_page_says_which_market_inputs_each_industry_lacks_and_why():
    app = _open({"industry": ["finance", "education"]})
    table = next(
        frame.value
        for frame in app.dataframe
        if "Money flowing in" in frame.value.columns and "rank" not in frame.value.columns
    )
    market = industry_inputs.industry_inputs(load_market_data())
    assert set(table["industry"]) == {"Finance", "Education"}
    education = table.loc[table["industry"] == "Education"].iloc[0]
    assert education["Adoption growth"] == "missing: " + market["education"].missing_reasons["growth"]


def test_the_measured_and_search_models_travel_in_the_address_and_unknown_ones_are_dropped():
    other = "IDEA-CCNL/Erlangshen-Roberta-110M-Sentiment"
    app = _open({"measure": "nlp-sentiment-analysis", "model-sentiment": other})
    assert app.selectbox(key=f"{KEY}.measure_use_case").value == "nlp-sentiment-analysis"
    assert app.selectbox(key=f"{KEY}.measure_model.sentiment").value == other
    assert app.query_params["model-sentiment"] == other
    # A model of another task, a server that is not configured, a path: each dropped, the default kept.
    for hostile in ("Helsinki-NLP/opus-mt-en-zh", "endpoint:nowhere", "/etc/passwd"):
        app = _open({"measure": "nlp-sentiment-analysis", "model-sentiment": hostile, "search-model": hostile})
        assert app.selectbox(key=f"{KEY}.measure_model.sentiment").value == models.default_model("sentiment").hub_id
        assert app.session_state["applications.model"] != hostile
        assert "model-sentiment" not in app.query_params and "search-model" not in app.query_params
