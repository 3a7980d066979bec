"""The ranking, sensitivity view and cost table go into the HTML briefing, escaped and cited."""

from __future__ import annotations

from datetime import date

from backend.decisions import cost, industry_inputs, review, scoring, speed
from backend.i18n import use_language
from backend.market.briefing import BriefingTable, build_briefing_html
from backend.market.store import load_market_data
from backend.use_cases.catalogue import load_catalogue


def _parts(weights: scoring.Weights | None = None):
    weights = weights or scoring.Weights()
    use_cases = load_catalogue().use_cases
    market = industry_inputs.industry_inputs(load_market_data())
    figures = speed.recorded_figures()
    ranking = scoring.rank_use_cases(use_cases, market, figures, weights)
    view = scoring.sensitivity(use_cases, market, figures, weights, "growth")
    titles = {u.id: u.title_en for u in use_cases}
    estimates = [cost.cost_of(record, 0.4) for record in figures.values()]
    return ranking, view, titles, estimates


def test_the_briefing_carries_the_ranking_weights_sensitivity_costs_and_sources():
    ranking, view, titles, estimates = _parts(scoring.Weights(5, 1, 0, 4))
    tables = review.briefing_tables(ranking, view, titles, estimates)
    html = build_briefing_html([], generated=date(2026, 12, 7), tables=tables)
    assert "Adoption level 5, Adoption growth 1, Money flowing in 0, Feasibility here 4" in html
    assert ranking.rows[0].title_en in html and "Sensitivity: the top five as the weight of Adoption growth" in html
    assert f'<a href="{ranking.rows[0].input("adoption").url}">' in html
    assert "benchmark record, AMD EPYC, 2 cores, CPU (2 cores), 2026-11-24" in html
    first_cost = f"{estimates[0].cost_per_1000:g}"[:5]
    assert first_cost in html


def test_briefing_tables_escape_their_cells_and_link_only_web_addresses():
    table = BriefingTable(
        "<b>t</b>",
        "c",
        ("a",),
        (("<script>alert(1)</script>",),),
        (("x", "javascript:alert(1)"), ("y", "https://e.org")),
    )
    html = build_briefing_html([], generated=date(2026, 12, 7), tables=[table])
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html and '<a href="https://e.org">' in html


def test_the_ranking_table_speaks_the_language_of_the_run():
    ranking, *_rest = _parts()
    with use_language("zh"):
        table = review.ranking_table(ranking)
    assert ranking.rows[0].title_zh in set(table.iloc[:, 2])


def test_a_briefing_made_in_chinese_is_marked_chinese_and_names_use_cases_and_industries_in_chinese():
    ranking, view, _titles, estimates = _parts()
    chinese_titles = {u.id: u.title_zh for u in load_catalogue().use_cases}
    with use_language("zh"):
        tables = review.briefing_tables(ranking, view, chinese_titles, estimates)
        html = build_briefing_html([], generated=date(2026, 12, 7), tables=tables)
    assert '<html lang="zh-CN">' in html
    top = ranking.rows[0]
    assert top.title_zh in html and top.title_en not in html
    # The sensitivity table lists the top five by their Chinese titles too.
    assert chinese_titles[view.tops[0][0]] in html


def test_the_cost_chart_says_where_each_figure_comes_from_in_the_readers_language():
    with use_language("zh"):
        estimates = _parts()[3]
        labels = " ".join(review.build_cost_chart(estimates).data[0].y)
        table = review.cost_table(estimates).to_string()
    assert "基准测试" in labels and "benchmark" not in labels
    assert "cores" not in table and "核" in table
