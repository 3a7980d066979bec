"""The applications page: filters, heatmap, catalogue with demo links, search results and fallback notice."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from backend.use_cases import catalogue, search, vocabulary
from backend.use_cases.catalogue import CatalogueError, load_catalogue
from pages.components import use_cases as use_cases_view
from pages.components.navigation import PAGES
from tests.support.paths import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")
PAGE = "pages/market/applications.py"
CATALOGUE = load_catalogue()


def _open(query: dict[str, str | list[str]] | None = None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    app.switch_page(PAGE)
    for name, value in (query or {}).items():
        app.query_params[name] = value
    return _checked(app.run())


def _checked(app: AppTest) -> AppTest:
    assert not app.exception, [e.value for e in app.exception]
    return app


def _hit(rank: int, use_case_id: str, score: float, language: str = "", terms: tuple[str, ...] = ()):
    use_case = CATALOGUE.get(use_case_id)
    return search.SearchHit(
        rank, use_case.id, use_case.industry, use_case.title_en, use_case.title_zh, score, language, terms
    )


class FakeSearch:
    """Stands in for backend.use_cases.search.search_catalogue and records its calls."""

    def __init__(self, response: search.SearchResponse) -> None:
        self.response = response
        self.calls: list[dict[str, object]] = []

    def __call__(self, query, catalogue, load_embedder=None, cache=None, top_k=search.DEFAULT_TOP_K):
        self.calls.append({"query": query, "catalogue": catalogue, "load_embedder": load_embedder, "cache": cache})
        return self.response


def _captions(app: AppTest) -> str:
    return " ".join(str(caption.value) for caption in app.caption)


def test_page_shows_heatmap_maturity_chart_table_and_demo_links():
    app = _open()
    assert [title.value for title in app.title] == ["Applications by industry"]
    charts = [chart.key for chart in app.get("plotly_chart")]
    assert charts[:2] == ["applications.heatmap", "applications.maturity_chart"]  # the prioritiser's follow
    table = app.dataframe[0].value
    assert len(table) == len(CATALOGUE)
    assert "Fraud detection" in set(table["use case"])
    assert f"{len(CATALOGUE)} of {len(CATALOGUE)} use cases" in _captions(app)
    links = [link.proto.label for link in app.get("page_link")]
    markdown = " ".join(str(block.value) for block in app.markdown)
    registered = {page.path for page in PAGES}
    for demo in vocabulary.DEMO_PAGES:
        # Registered demos get a real link; planned ones are marked, never a broken link.
        if demo.path in registered:
            assert demo.title in links and demo.shows in _captions(app)  # what it shows wraps below the link
        else:
            assert f"**{demo.title}** (coming soon)" in markdown
    assert "Sentiment demo" in links


def test_filters_narrow_the_table():
    app = _open()
    app.multiselect(key="applications.industries").set_value(["finance"])
    app = _checked(app.run())
    table = app.dataframe[0].value
    finance = [use_case for use_case in CATALOGUE.use_cases if use_case.industry == "finance"]
    assert len(table) == len(finance)
    assert set(table["industry"]) == {"Finance"}
    app.multiselect(key="applications.maturity").set_value(["T"])
    app = _checked(app.run())
    assert any("No use case matches these filters" in str(info.value) for info in app.info)


def test_filters_and_the_search_are_written_into_the_address():
    app = _open()
    app.multiselect(key="applications.industries").set_value(["finance", "education"])
    app.multiselect(key="applications.maturity").set_value(["C"])
    app.toggle(key="applications.stated_only").set_value(True)
    app.text_input(key="applications.query").set_value("card fraud")
    app = _checked(app.run())
    assert app.query_params["industry"] == ["finance", "education"]
    assert (app.query_params["maturity"], app.query_params["stated"], app.query_params["q"]) == ("C", "1", "card fraud")
    assert "task" not in app.query_params  # all tasks: left out of the link
    app.multiselect(key="applications.industries").set_value([])
    app = _checked(app.run())
    assert "industry" not in app.query_params


def test_a_shared_link_reproduces_the_filters():
    app = _open({"industry": ["finance", "healthcare"], "task": "forecasting", "stated": "1", "q": "fraud"})
    assert app.multiselect(key="applications.industries").value == ["finance", "healthcare"]
    assert app.multiselect(key="applications.tasks").value == ["forecasting"]
    assert app.toggle(key="applications.stated_only").value is True
    assert app.text_input(key="applications.query").value == "fraud"
    expected = catalogue.filter_use_cases(CATALOGUE.use_cases, ("finance", "healthcare"), ("forecasting",), ())
    assert expected and len(app.dataframe[0].value) == len(expected)


def test_hostile_filter_values_in_the_address_are_dropped():
    app = _open(
        {"industry": ["finance", "<img src=x onerror=alert(1)>"], "maturity": "X", "stated": "yes",
         "q": "a\x00b", "measure": "../../etc"}
    )  # fmt: skip
    assert app.multiselect(key="applications.industries").value == ["finance"]
    assert app.multiselect(key="applications.maturity").value == []
    assert app.toggle(key="applications.stated_only").value is False
    assert app.text_input(key="applications.query").value == ""
    finance = [use_case for use_case in CATALOGUE.use_cases if use_case.industry == "finance"]
    assert len(app.dataframe[0].value) == len(finance)


def test_search_shows_ranked_results_and_the_mode(monkeypatch):
    fake = FakeSearch(
        search.SearchResponse(
            query="detect fraud in card payments",
            mode=search.SEMANTIC,
            hits=(
                _hit(1, "finance-fraud-detection", 0.8123, "en"),
                _hit(2, "finance-risk-control", 0.6011, "en"),
            ),
            model_ref="sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
        )
    )
    monkeypatch.setattr(search, "search_catalogue", fake)
    app = _open()
    app.text_input(key="applications.query").input("detect fraud in card payments")
    app = _checked(app.run())
    assert fake.calls and fake.calls[-1]["query"] == "detect fraud in card payments"
    assert callable(fake.calls[-1]["load_embedder"]) and fake.calls[-1]["cache"] is not None
    results = app.dataframe[-1].value
    assert list(results["use case"]) == ["Fraud detection", "Financial risk control and assessment"]
    assert list(results["score"]) == [0.8123, 0.6011]
    assert list(results["use case (other language)"])[0] == "欺诈检测"
    assert "Semantic search with sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2;" in _captions(app)
    assert not app.warning


def test_fallback_notice_shows_with_keyword_results(monkeypatch):
    notice = "Semantic search is unavailable, so these are keyword matches. The hub is unreachable."
    fake = FakeSearch(
        search.SearchResponse(
            query="信用卡欺诈",
            mode=search.KEYWORD,
            hits=(_hit(1, "finance-fraud-detection", 0.25, terms=("欺诈",)),),
            notice=notice,
        )
    )
    monkeypatch.setattr(search, "search_catalogue", fake)
    app = _open()
    app.text_input(key="applications.query").input("信用卡欺诈")
    app = _checked(app.run())
    assert [warning.value for warning in app.warning] == [notice]
    assert "Keyword search" in _captions(app)
    assert list(app.dataframe[-1].value["matched"]) == ["欺诈"]


def test_no_hits_says_so(monkeypatch):
    monkeypatch.setattr(search, "search_catalogue", FakeSearch(search.SearchResponse("zzzz", search.KEYWORD)))
    app = _open()
    app.text_input(key="applications.query").input("zzzz")
    app = _checked(app.run())
    assert any("No use case matches these words" in str(info.value) for info in app.info)


@pytest.mark.parametrize("example_index", [0, 1])
def test_example_query_runs_the_real_fallback_offline(example_index):
    # No patch: the default embedding model is not in the test models folder and the hub is off,
    # so the real loader fails with its typed error and the page falls back to keywords.
    app = _open()
    app.button(key=f"applications.example.{example_index}").click()
    app = _checked(app.run())
    assert app.text_input(key="applications.query").value == search.EXAMPLE_QUERIES[example_index]
    assert any("Semantic search is unavailable" in str(warning.value) for warning in app.warning)
    results = app.dataframe[-1].value
    assert results["industry"][0] == "Finance"
    assert "Fraud detection" in set(results["use case"][:2])


def test_a_broken_catalogue_shows_a_message_not_a_traceback(monkeypatch):
    def broken(path=None):
        raise CatalogueError("The use-case catalogue has invalid rows.", ["Row 4 (x): unknown task 'telepathy'."])

    monkeypatch.setattr(catalogue, "load_catalogue", broken)
    use_cases_view.use_case_catalogue.clear()
    try:
        app = _open()
        assert any("unknown task 'telepathy'" in str(error.value) for error in app.error)
        assert not app.get("plotly_chart")
    finally:
        # The next test must see the real catalogue again, not a cached failure or a stale copy.
        use_cases_view.use_case_catalogue.clear()


def test_stated_only_switch_redraws_the_heatmap_without_mapped_tasks():
    app = _open()
    all_tasks = json.loads(app.get("plotly_chart")[0].proto.spec)["data"][0]
    app.toggle(key="applications.stated_only").set_value(True)
    app = _checked(app.run())
    stated = json.loads(app.get("plotly_chart")[0].proto.spec)["data"][0]
    # Fraud detection's tasks are mapped by the editors, so anomaly detection disappears.
    assert "Anomaly detection" in all_tasks["y"] and "Anomaly detection" not in stated["y"]
    assert sum(map(sum, stated["z"])) < sum(map(sum, all_tasks["z"]))


def test_an_english_only_embedding_model_marks_chinese_examples_and_warns_beside_chinese_results(monkeypatch):
    english_only = "sentence-transformers/all-MiniLM-L6-v2"
    fake = FakeSearch(
        search.SearchResponse(
            query="医学影像诊断",
            mode=search.SEMANTIC,
            hits=(_hit(1, "finance-fraud-detection", 0.81, "zh"),),
            model_ref=english_only,
        )
    )
    monkeypatch.setattr(search, "search_catalogue", fake)
    app = _open()
    app.selectbox(key="applications.model").set_value(english_only)
    app = _checked(app.run())
    labels = [b.label for b in app.button if (b.key or "").startswith("applications.example.")]
    assert "医学影像诊断 · not this model's language" in labels
    assert "detect fraud in card payments" in labels  # English examples unmarked
    app.text_input(key="applications.query").input("医学影像诊断")
    app = _checked(app.run())
    [warning] = [w.value for w in app.warning]
    assert "handles English only" in warning and "the ranking and its scores may be meaningless" in warning


def test_the_heatmap_and_maturity_chart_speak_the_language_of_the_page():
    app = _open({"lang": "zh"})
    heatmap, maturity = (json.loads(chart.proto.spec) for chart in app.get("plotly_chart")[:2])
    assert "金融" in heatmap["data"][0]["x"] and "机器翻译" in heatmap["data"][0]["y"]
    assert "金融" in maturity["data"][0]["y"]
