"""The prioritiser's scores come from their cited inputs, by the stated normalisation."""

from __future__ import annotations

import math

import pytest

from backend.decisions import industry_inputs, review, scoring
from backend.decisions.scoring import FEASIBILITY, Weights
from backend.decisions.speed import BENCHMARK, SpeedRecord
from backend.errors import InvalidInputError
from backend.market.store import load_market_data
from backend.use_cases.catalogue import load_catalogue


def _record(task: str, p95: float, memory: float, device: str = "CPU (2 cores)") -> SpeedRecord:
    return SpeedRecord(task, f"model-for-{task}", p95 / 2, p95, 1000 / p95, "request", memory, device,
                       "Test CPU, 2 cores", "2026-12-01T10:00:00Z", BENCHMARK, "test figures")  # fmt: skip


SPEED = {
    "sentiment": _record("sentiment", 20.0, 200.0),
    "translation": _record("translation", 300.0, 450.0),
    "image-classification": _record("image-classification", 25.0, 220.0, device="NVIDIA T4"),
    "text-generation": _record("text-generation", 900.0, 1000.0),
}


@pytest.fixture(scope="module")
def market():
    return industry_inputs.industry_inputs(load_market_data())


@pytest.fixture(scope="module")
def use_cases():
    return load_catalogue().use_cases


def test_every_market_input_is_a_cited_row_of_the_shipped_tables(market):
    frame = load_market_data()
    finance = market["finance"]
    row = frame.loc[frame["row_id"] == finance.adoption.row_ids[0]].iloc[0]
    assert (row["dataset"], row["segment"], float(row["value"])) == ("census_btos", "Finance and insurance", 33.9)
    assert finance.adoption.url == row["source_url"] and finance.adoption.year == int(row["year"])
    # Growth: Statistics Canada's finance share, 2024 Q2 to 2025 Q2, in percentage points a year.
    first, last = (frame.loc[frame["row_id"] == rid].iloc[0] for rid in finance.growth.row_ids)
    assert finance.growth.value == pytest.approx(float(last["value"]) - float(first["value"]), abs=0.01)
    assert market["entertainment"].investment.value == 31.7
    assert market["smart-city"].adoption is None  # no survey measures it: missing, never invented


def test_a_score_recomputed_by_hand_from_its_cited_inputs(market, use_cases):
    weights = Weights(adoption=4, growth=1, investment=3, feasibility=2)
    ranking = scoring.rank_use_cases(use_cases, market, SPEED, weights)
    row = next(r for r in ranking.rows if r.use_case_id == "nlp-sentiment-analysis")
    ent = next(r for r in ranking.rows if r.industry == "entertainment")

    # Adoption, by hand: min-max over every industry with a BTOS figure (9 % agriculture to 33.9 % finance).
    adoption = {key: m.adoption.value for key, m in market.items() if m.adoption}
    low, high = min(adoption.values()), max(adoption.values())
    assert (low, high) == (9.0, 33.9)
    ent_adoption = (14.0 - low) / (high - low)
    growth = {key: m.growth.value for key, m in market.items() if m.growth}
    ent_growth = (market["entertainment"].growth.value - min(growth.values())) / (
        max(growth.values()) - min(growth.values())
    )
    ent_investment = 1.0  # the only industries with IDC's figure share one value: all equal -> 1
    assert ent.input("adoption").normalised == pytest.approx(ent_adoption)
    assert ent.input("growth").normalised == pytest.approx(ent_growth)
    assert ent.input("investment").normalised == pytest.approx(ent_investment)
    assert ent.input(FEASIBILITY).raw is None  # its tasks have no model here
    expected = 100 * (4 * ent_adoption + 1 * ent_growth + 3 * ent_investment + 2 * 0) / 10
    assert ent.score == pytest.approx(expected, abs=0.01)

    # Sentiment analysis (nlp: a technology area, no market figure) needs sentiment and text
    # classification, both the sentiment model: p95 20 ms, 200 MB, on a CPU. The log-scale
    # min-max runs over every use case whose tasks all have a figure.
    found = [f for u in use_cases if isinstance(f := scoring.feasibility_of(u, SPEED), scoring.Feasibility)]
    p95_low, p95_high = min(f.p95_ms for f in found), max(f.p95_ms for f in found)
    mem_low, mem_high = min(f.memory_mb for f in found), max(f.memory_mb for f in found)
    assert (p95_low, p95_high, mem_low) == (20.0, 900.0, 200.0)
    log = math.log10
    latency = 1 - (log(20.0) - log(p95_low)) / (log(p95_high) - log(p95_low))
    memory = 1 - (log(200.0) - log(mem_low)) / (log(mem_high) - log(mem_low))
    feasibility = (latency + memory + 1.0) / 3
    assert feasibility == 1.0
    assert row.input(FEASIBILITY).normalised == pytest.approx(feasibility)
    assert row.input("adoption").missing_reason and row.input("adoption").normalised == 0
    assert row.score == pytest.approx(100 * 2 * feasibility / 10, abs=0.01)
    # An image use case: measured on a GPU, so its CPU part is 0.
    image = next(r for r in ranking.rows if r.use_case_id == "vision-image-classification")
    image_latency = 1 - (log(25.0) - log(p95_low)) / (log(p95_high) - log(p95_low))
    image_memory = 1 - (log(220.0) - log(mem_low)) / (log(mem_high) - log(mem_low))
    assert image.input(FEASIBILITY).normalised == pytest.approx((image_latency + image_memory + 0.0) / 3)


def test_raising_one_weight_moves_the_use_cases_strong_in_it_up(market, use_cases):
    market_only = scoring.rank_use_cases(
        use_cases, market, SPEED, Weights(adoption=10, growth=0, investment=0, feasibility=0)
    )
    assert market_only.rows[0].industry == "finance"  # the highest adoption share (33.9 %)
    feasible_only = scoring.rank_use_cases(
        use_cases, market, SPEED, Weights(adoption=0, growth=0, investment=0, feasibility=10)
    )
    # The fastest, smallest, CPU-only figure: the use cases the sentiment model serves.
    assert feasible_only.rows[0].input(FEASIBILITY).normalised == 1.0
    assert {feasible_only.rows[0].use_case_id, feasible_only.rows[1].use_case_id} == {
        "nlp-text-classification",
        "nlp-sentiment-analysis",
    }
    # Moving investment up brings the industries IDC forecasts spending growth for to the top.
    low = scoring.rank_use_cases(use_cases, market, SPEED, Weights(3, 2, 0, 3))
    high = scoring.rank_use_cases(use_cases, market, SPEED, Weights(3, 2, 10, 3))
    assert low.rows[0].industry not in ("entertainment", "autonomous-driving")
    for row in low.rows:
        if row.industry in ("entertainment", "autonomous-driving"):
            moved = next(r for r in high.rows if r.use_case_id == row.use_case_id)
            assert moved.rank < row.rank
    assert high.rows[0].industry in ("entertainment", "autonomous-driving")


def test_the_sensitivity_view_follows_the_ranking_at_each_weight(market, use_cases):
    weights = Weights()
    view = scoring.sensitivity(use_cases, market, SPEED, weights, "investment")
    assert view.values == tuple(range(11))
    for value, top in zip(view.values, view.tops, strict=True):
        assert top == scoring.rank_use_cases(use_cases, market, SPEED, weights.with_weight("investment", value)).top()
    assert view.tops[0] != view.tops[-1]
    assert all(view.ranks[key][view.values.index(10)] <= 5 for key in view.tops[-1])


def test_bad_weights_are_refused_with_a_message(market, use_cases):
    with pytest.raises(InvalidInputError, match="from 0 to 10"):
        scoring.rank_use_cases(use_cases, market, SPEED, Weights(adoption=11))
    with pytest.raises(InvalidInputError, match="above 0"):
        scoring.rank_use_cases(use_cases, market, SPEED, Weights(0, 0, 0, 0))


def test_the_ranking_is_json_able(market, use_cases):
    import json

    ranking = scoring.rank_use_cases(use_cases, market, SPEED, Weights())
    data = json.loads(json.dumps(ranking.to_dict()))
    assert data["rows"][0]["rank"] == 1 and data["weights"]["adoption"] == 3


def test_a_feasibility_input_names_the_model_its_figure_came_from(market, use_cases):
    ranking = scoring.rank_use_cases(use_cases, market, SPEED, Weights())
    row = next(r for r in ranking.rows if r.use_case_id == "nlp-sentiment-analysis")
    assert f"({SPEED['sentiment'].model})" in row.input(FEASIBILITY).evidence


def test_every_missing_market_input_says_why_and_the_ranking_shows_it(market, use_cases):
    for industry in market.values():
        missing = {name for name in industry_inputs.MARKET_INPUTS if industry.figure(name) is None}
        assert set(industry.missing_reasons) == missing
        assert all(industry.missing_reasons.values())
    # IDC names two industry groups; the reason says so, naming the one no seed industry maps to.
    assert "Business and personal services" in market["healthcare"].missing_reasons["investment"]
    assert "US Census BTOS" in market["customer-service"].missing_reasons["adoption"]
    ranking = scoring.rank_use_cases(use_cases, market, SPEED, Weights())
    education = next(r for r in ranking.rows if r.industry == "education")
    assert education.input("growth").missing_reason == market["education"].missing_reasons["growth"]


def test_the_market_inputs_table_gives_each_figure_or_its_reason(market):
    table = review.market_inputs_table(market, ["finance", "vision", "education", "finance"])
    assert list(table["industry"]) == ["Finance", "Education"]  # technology areas have no market row
    finance = table.iloc[0]
    assert finance["Adoption level"].startswith(f"{market['finance'].adoption.value:g} % of firms")
    assert finance["Money flowing in"] == "missing: " + market["finance"].missing_reasons["investment"]


def test_the_prioritiser_reads_in_chinese_for_a_chinese_reader(use_cases):
    from backend.i18n import use_language

    with use_language("zh"):
        chinese = industry_inputs.industry_inputs(load_market_data())
        ranking = scoring.rank_use_cases(use_cases, chinese, SPEED, Weights())
        table = review.ranking_table(ranking, "zh")
        inputs = review.market_inputs_table(chinese, ["finance", "healthcare"], "zh")
    finance = inputs.iloc[0]
    # Units, organisations, segments and the reasons a figure is missing, in the reader's words.
    assert finance["采用水平"].startswith(f"{chinese['finance'].adoption.value:g} % 的企业: 美国人口普查局")
    assert finance["采用水平"].endswith("金融与保险")
    assert "商业与个人服务；交通与休闲" in finance["资金流入"]
    cells = " ".join(str(cell) for cell in table.to_numpy().ravel())
    assert "个百分点/年" in cells and "% of firms" not in cells and "pp per year" not in cells
    # A task model's measurement names the task as the Models page does.
    assert any("情感分析 (model-for-sentiment)" in label for label, _url in review.citations(ranking))
