"""The HTML briefing and the source caption carried by every exported chart."""

from datetime import date
from html.parser import HTMLParser

import pandas as pd
import pytest

from backend.config import load_settings, to_environment
from backend.market import figures, findings, industries, selections, store
from backend.market.briefing import BriefingChart, build_briefing_html, reproduce_link, untitled
from backend.market.figure_layout import png_config, source_caption, with_source_caption


class _Page(HTMLParser):
    """Collects scripts (with their src and length), links, headings and all text."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.links: list[str] = []
        self.headings: list[str] = []
        self.text: list[str] = []
        self._tag: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self._tag = tag
        if tag == "script":
            self.scripts.append({"src": attrs.get("src"), "body": ""})
        if tag == "a":
            self.links.append(attrs.get("href", ""))

    def handle_endtag(self, tag):
        self._tag = None

    def handle_data(self, data):
        if self._tag == "script" and self.scripts:
            self.scripts[-1]["body"] += data
        else:
            self.text.append(data)
            if self._tag in ("h1", "h2"):
                self.headings.append(data)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return store.load_market_data()


def _chart(rows: pd.DataFrame, figure) -> BriefingChart:
    captioned = with_source_caption(figure, rows)
    return BriefingChart.of(captioned, store.sources_of(rows), len(rows))


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_briefing_is_self_contained_with_every_chart_source_caveat_and_date(data):
    over_time = selections.adoption_over_time(data)
    spending = selections.spending_forecasts(data)
    charts = [
        _chart(over_time, figures.build_adoption_over_time(over_time)),
        _chart(spending, figures.build_spending_forecasts(spending)),
    ]
    html = build_briefing_html(
        charts,
        generated=date(2026, 12, 1),
        filters="Years: 2017-2040",
        link="https://example.org/adoption?years=2017-2040",
    )
    page = _parse(html)
    assert all(script["src"] is None for script in page.scripts), "no external script"
    inlined = [s for s in page.scripts if "plotly.js" in s["body"][:2000].lower() or len(s["body"]) > 1_000_000]
    assert len(inlined) == 1, "plotly.js inlined exactly once"
    assert "<link" not in html.split("<script")[0], "no external stylesheet either"
    plots = [s for s in page.scripts if "Plotly.newPlot" in s["body"]]
    assert len(plots) == 2 and 'id="chart-1"' in html and 'id="chart-2"' in html
    assert "2026-12-01" in "".join(page.text)
    assert [h for h in page.headings if h[0].isdigit()] == [f"1. {charts[0].title}", f"2. {charts[1].title}"]
    for chart in charts:
        for source in chart.sources:
            assert source.url in page.links
            for caveat in source.caveats:
                assert f"Caveat: {caveat}" in "".join(page.text)
    assert "https://example.org/adoption?years=2017-2040" in page.links
    assert "Years: 2017-2040" in "".join(page.text)


def test_briefing_escapes_user_text_and_drops_bad_links(data):
    evil = "<script>alert(1)</script>"
    rows = pd.DataFrame(
        [
            {
                **selections.adoption_over_time(data).iloc[0].to_dict(),
                "dataset": evil,
                "definition": evil,
                "source_org": evil,
                "source_title": evil,
                "source_url": "javascript:alert(1)",
                "note": evil,
            }
        ]
    )
    chart = _chart(rows, figures.build_time_series(rows, evil))
    html = build_briefing_html([chart], generated=date(2026, 12, 1), filters=evil, link="javascript:alert(1)")
    page = _parse(html)
    assert evil not in html, "user text is escaped everywhere, including inside the figure JSON"
    assert not any(link.startswith("javascript:") for link in page.links)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_source_caption_is_inside_the_figure_for_png_export(data):
    rows = selections.investment_over_time(data)
    figure = with_source_caption(figures.build_investment_over_time(rows), rows)
    caption = figure.layout.meta["source_caption"]
    assert caption == source_caption(rows)
    assert caption.startswith("Source: Stanford AI Index") and f"{len(rows)} figures" in caption
    assert "secondary" in caption
    assert "Source: Stanford AI Index" in figure.layout.title.subtitle.text
    original = figures.build_investment_over_time(rows)
    assert "Source:" not in (original.layout.title.subtitle.text or ""), "the builder's figure is not changed"
    forecasts = selections.spending_forecasts(data)
    assert "dashed = forecast" in source_caption(forecasts)
    config = png_config("ai_investment_over_time.csv")
    assert config["toImageButtonOptions"] == {"format": "png", "filename": "ai_investment_over_time", "scale": 2}
    assert "toImage" not in config["modeBarButtonsToRemove"] and "zoom2d" in config["modeBarButtonsToRemove"]


def test_sources_carry_caveats(data):
    rows = data.loc[data["metric"] == "companies_using_ai_by_region"]
    (source,) = store.sources_of(rows)
    assert source.caveats and "1,843-company sample" in source.caveats[0]
    assert source.verification == "secondary"


def test_briefing_opens_with_key_findings_from_the_data_and_prints_each_title_once(data):
    over_time = selections.adoption_over_time(data)
    chart = _chart(over_time, figures.build_adoption_over_time(over_time))
    found = findings.key_findings(data)
    html = build_briefing_html([chart], generated=date(2026, 12, 1), findings=found)
    page = _parse(html)
    text = "".join(page.text)
    assert page.headings[:2] == ["AI market and adoption briefing", "Key findings"]
    assert html.index('id="key-findings"') < html.index('id="section-1"'), "the summary comes first"
    questions = [f.question for f in found]
    assert set(questions) == {
        "Which industries adopt AI most",
        "How fast adoption grows",
        "Where the money goes",
        "How countries compare",
    }
    for finding in found:
        assert finding.source and finding.caveat
        assert f"Source: {finding.source}" in text and f"Caveat: {finding.caveat}" in text
    money = next(f for f in found if "corporate AI investment" in f.text)
    assert "$252.3B in 2024, +25.5%" in money.text, "the 2025 edition's own growth, not +33% across editions"
    eu = next(f for f in found if f.text.startswith("EU enterprises"))
    assert "13.48% in 2024, then 19.95% in 2025 on a widened definition" in eu.text and "break" in eu.caveat
    assert text.count(chart.title) == 1, "the section heading prints the title; the figure does not"
    assert not any(chart.title in script["body"] for script in page.scripts), "the figure carries no title"


def test_findings_leave_out_what_the_filters_removed(data):
    only_canada = store.filter_rows(data, store.MarketFilter(datasets=("statcan_ai_use",)))
    found = findings.key_findings(only_canada)
    assert [f.question for f in found] == ["Which industries adopt AI most", "How fast adoption grows"]
    assert "6.1% (2024) to 12.2% (2025)" in found[1].text


def test_reproduce_link_uses_the_public_address():
    assert (
        reproduce_link("https://showcase.example.org/", "http://localhost:8501/adoption?x=1", "years=2020-2025")
        == "https://showcase.example.org/adoption?years=2020-2025"
    )
    assert reproduce_link("", "http://localhost:8501/adoption", "") == "http://localhost:8501/adoption"
    assert reproduce_link("javascript:alert(1)", "", "a=b") == ""


def test_public_url_is_a_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("LSM_PUBLIC_URL", "https://showcase.example.org/")
    assert load_settings(tmp_path / "none.toml").public_url == "https://showcase.example.org"
    assert to_environment(load_settings(tmp_path / "none.toml"))["LSM_PUBLIC_URL"] == "https://showcase.example.org"


def test_briefing_titles_are_plain_text_and_each_chart_has_its_own(data):
    by_industry = industries.industry_rows(data)
    one = by_industry.loc[by_industry["dataset"] == "census_btos"]
    charts = [
        BriefingChart.of(figures.build_industry_ranking(one, survey="US Census BTOS 2026"), [], len(one)),
        BriefingChart.of(figures.build_industry_ranking(by_industry), [], len(by_industry)),
    ]
    titles = [chart.title for chart in charts]
    # Plotly's wrapped title carries <br> and escaped characters; a picker or heading would print them.
    assert not any("<" in title or "&" in title for title in titles), titles
    assert "in US Census BTOS 2026" in titles[0] and "ranked within each survey" in titles[1]
    assert len(set(titles)) == len(titles), "the briefing and its picker tell the two rankings apart"
    page = build_briefing_html(charts, generated=date(2026, 12, 1))
    assert "&lt;br&gt;" not in page


def test_briefing_gives_back_only_the_titles_room_so_panel_titles_stay_in_the_chart(data):
    rows = industries.industry_rows(data)
    shown = with_source_caption(figures.build_industry_ranking(rows), rows)
    bare = untitled(shown)
    assert not bare.layout.title.text and not bare.layout.title.subtitle.text
    assert bare.layout.margin.t == shown.layout.margin.t - shown.layout.meta["title_px"]
    # The first panel's title sits in the top margin: it needs more than the flat 30 px it once got.
    assert bare.layout.margin.t > 60
    assert bare.layout.height - bare.layout.margin.t == shown.layout.height - shown.layout.margin.t, (
        "the plot keeps its size"
    )


def test_the_briefing_is_written_in_the_language_of_the_run_that_makes_it():
    from datetime import date

    import plotly.graph_objects as go

    from backend.i18n import use_language
    from backend.market.briefing import BriefingChart, build_briefing_html

    chart = BriefingChart("采用率", go.Figure(go.Bar(x=["2024"], y=[1])))
    with use_language("zh"):
        chinese = build_briefing_html([chart], generated=date(2026, 12, 7), filters="")
    english = build_briefing_html([chart], generated=date(2026, 12, 7), filters="")
    assert '<html lang="zh-CN">' in chinese and "AI 市场与采用简报" in chinese and "筛选条件：无（全部数据）" in chinese
    assert "Generated" not in chinese and "Filters:" not in chinese
    assert '<html lang="en">' in english and "AI market and adoption briefing" in english
    assert "Noto Sans CJK SC" in chinese  # a CJK face in the page's font stack


def test_findings_sources_and_caveats_of_a_chinese_briefing_read_in_chinese(data):
    from backend.i18n import use_language

    rows = data.loc[data["dataset"].isin(["eurostat_isoc_eb_ai", "ai_index_investment", "census_btos"])]
    with use_language("zh"):
        found = findings.key_findings(data)
        over_time = selections.adoption_over_time(rows)
        chart = _chart(over_time, figures.build_adoption_over_time(over_time))
        html = build_briefing_html([chart], generated=date(2026, 12, 7), findings=found)
        caption = source_caption(rows)
    assert [f.question for f in found][:2] == ["哪些行业 AI 采用率最高", "采用率增长有多快"]
    money = next(f for f in found if "全球企业 AI 投资" in f.text)
    assert money.text == "全球企业 AI 投资：2024 年 2,523亿美元，较上年 +25.5%（AI Index 2025）。"
    eu = next(f for f in found if f.text.startswith("使用 AI 的欧盟"))
    assert "2024 年 13.48%，2025 年按扩大后的定义为 19.95%" in eu.text and "口径变化" in eu.caveat
    countries = next(f for f in found if f.question == "各国对比")
    assert "丹麦 42%" in countries.text and "罗马尼亚 5.2%" in countries.text
    text = "".join(_parse(html).text)
    # Findings, organisations and caveats of the cited rows: in Chinese, numbers kept.
    assert "来源：欧盟统计局（isoc_eb_ai）" in text and "美国人口普查局" in text
    assert "注意：信息业和大型企业更高" in text
    for english in ("The leading industry", "Information sector", "US Census Bureau", "Definition break", "figures"):
        assert english not in text
    assert "；" in caption and "; " not in caption
