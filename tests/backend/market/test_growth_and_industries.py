"""Growth per series, the industry ranking and coverage of the source documents' industries."""

import pandas as pd
import pytest

from backend.market import figures, growth, industries, selections, store


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return store.load_market_data()


def _change(changes, **where):
    return next(c for c in changes if all(getattr(c, k) == v for k, v in where.items()))


def test_adoption_change_is_points_per_year_from_the_rows(data):
    changes = growth.series_changes(data)
    eurostat = _change(changes, metric="enterprises_using_ai", geography="European Union", segment="All")
    assert (eurostat.start_year, eurostat.end_year) == (2021, 2024), "growth stops at the 2025 definition break"
    assert eurostat.per_year_unit == "pp per year"
    assert eurostat.per_year == pytest.approx((13.48 - 7.65) / 3)
    assert not any(c.geography == "Spain" and c.end_year == 2025 for c in changes), "INE's 2025 list is new too"
    mck = _change(changes, metric="organisations_using_ai", dataset="mckinsey_state_of_ai")
    assert mck.end_value == 88 and mck.start_value == 20
    genai = _change(changes, metric="organisations_regularly_using_genai")
    assert genai.end_value == 71, "of two 2024 surveys, the later one counts"
    census = _change(changes, metric="firms_using_ai", dataset="census_btos", segment="All")
    assert (census.start_label, census.end_label) == ("2023-09", "2024-02")
    assert census.per_year == pytest.approx((5.4 - 3.7) / (5 / 12)), "months count where the period gives them"
    assert "pp per year" in census.text()


def test_money_grows_by_cagr_and_forecasts_never_enter(data):
    changes = growth.series_changes(data)
    corporate = [c for c in changes if c.metric == "corporate_ai_investment"]
    assert len(corporate) == 1, "the 2025 edition's single 2024 value is not joined to the 2024 edition's"
    assert corporate[0].edition == "AI Index 2024" and (corporate[0].start_year, corporate[0].end_year) == (2021, 2023)
    assert corporate[0].per_year == pytest.approx(((189.2 / 337) ** (1 / 2) - 1) * 100)
    stated = data.loc[data["metric"] == "corporate_ai_investment_growth"].iloc[0]
    assert (stated["year"], stated["value"], stated["edition"]) == (2024, 25.5, "AI Index 2025")
    assert not any(c.dataset == "ai_spending_forecasts" and c.metric == "ai_spending" for c in changes)
    assert not any(c.metric == "businesses_using_ai_dcms" and c.segment == "All" for c in changes), (
        "the UK series has one measured year; its 2025 and 2040 values are projections"
    )
    assert not any(c.metric == "notable_ai_models" for c in changes), "counts are not growth rates"


def test_a_range_at_one_year_is_not_a_trend(data):
    census_after_break = data.loc[data["metric"].eq("firms_expecting_ai_use") & data["series_break"]]
    assert growth.series_changes(census_after_break) == []


def test_growth_table_and_chart(data):
    changes = growth.series_changes(data)
    table = growth.changes_table(changes)
    assert list(table.columns) == ["series", "from", "to", "change"] and len(table) == len(changes)
    figure = figures.build_growth_bars(changes)
    assert {t.meta["unit"] for t in figure.data} == {"pp per year", "CAGR %"}
    assert sum(len(t.x) for t in figure.data) == len(changes)
    assert figures.build_growth_bars([]).layout.annotations[0].text.startswith("No rows")


def test_every_document_industry_has_a_figure_or_says_none(data):
    table = industries.coverage(data)
    assert [i.label for i in industries.DOCUMENT_INDUSTRIES] == list(dict.fromkeys(table["industry"]))
    assert industries.missing_industries(data) == ["Customer service", "Smart city"]
    health = table.loc[table["industry"] == "Healthcare"]
    assert {"US Census BTOS 2026", "AMA physicians survey 2024", "China (CAICT, CCID, CNGAI, MIIT) 2023"} <= set(
        health["survey"]
    )
    btos_health = health.loc[health["segment"] == "Health care and social assistance"].iloc[0]
    assert btos_health["value"] == "18%" and btos_health["rank"] == "7 of 19"
    education = table.loc[table["industry"] == "Education"].iloc[0]
    assert education["value"] == "24%"
    transport = table.loc[table["industry"] == "Autonomous driving and transport"].iloc[0]
    assert "no survey measures autonomous-driving" in transport["note"]


def test_near_matches_say_so_and_primary_figures_reach_the_documents_industries(data):
    table = industries.coverage(data)
    manufacturing = table.loc[table["industry"] == "Manufacturing"]
    spain = manufacturing.loc[manufacturing["survey"] == "Spain INE 2025"].iloc[0]
    assert (spain["value"], spain["verification"]) == ("17.52%", "primary")
    assert "not manufacturing alone" in spain["note"]
    driving = table.loc[table["industry"] == "Autonomous driving and transport"]
    l2 = driving.loc[driving["segment"] == industries.L2_CARS]
    assert len(l2) == 4 and l2["note"].str.contains("L2 driver assistance").all()
    finance = table.loc[(table["industry"] == "Finance") & (table["verification"] == "primary")]
    assert {"Statistics Canada 2025", "Sector surveys (finance, health, teachers) 2024"} <= set(finance["survey"])
    health = table.loc[(table["industry"] == "Healthcare") & (table["verification"] == "primary")]
    assert set(health["value"]) == {"66%", "71%", "31.5%"}, "ASTP/ONC data brief and the hospital survey study"
    assert (health["note"] == "Hospitals as organisations, not all health care providers").all()
    media = table.loc[table["industry"] == "Media and entertainment"]
    assert (media["note"] == "Sectors that include media; none measures media alone").all()


def test_industry_filtered_away_is_named_not_dropped(data):
    only_ibm = store.filter_rows(data, store.MarketFilter(datasets=("ibm_global_ai_adoption_index",)))
    table = industries.coverage(only_ibm)
    assert len(table) == len(industries.DOCUMENT_INDUSTRIES)
    assert (table["survey"] == "no comparable figure").all()


def test_industry_ranking_ranks_within_each_survey_and_marks_document_industries(data):
    rows = industries.industry_rows(data)
    assert (rows["unit"] == "percent").all()
    figure = figures.build_industry_ranking(rows)
    census = next(t for t in figure.data if t.meta["dataset"] == "census_btos")
    assert list(census.x) == sorted(census.x), "ranked: bars sorted by value"
    labels = [label.replace("<br>", " ") for label in census.y]
    assert "◆ Health care and social assistance (Healthcare)" in labels
    assert "Construction" in labels, "other sectors stay, unmarked"
    assert "◆ Agriculture, forestry, fishing and hunting (farms excluded) (Agriculture)" in labels
    assert "All (overall)" in labels
    assert sum(len(t.y) for t in figure.data) == len(rows)


def test_every_shipped_row_is_charted_or_listed(data):
    """What the page draws (all selections) plus the "other figures" table is every row."""
    charted = [
        industries.industry_rows(data),
        selections.adoption_over_time(data),
        selections.stated_rates(data),
        selections.investment_over_time(data),
        selections.investment_by_country(data),
        selections.investment_by_focus_area(data),
        selections.spending_forecasts(data),
        selections.local_markets(data),
        selections.model_counts(data),
        *(selections.adoption_by_segment(data, kind) for kind in selections.SEGMENT_KINDS),
        *(selections.model_scale(data, metric) for metric in selections.MODEL_SCALE_METRICS),
        data.loc[data["row_id"].isin({i for c in growth.series_changes(data) for i in c.row_ids})],
    ]
    other = selections.not_charted(data, charted)
    shown = set().union(*(set(rows["row_id"]) for rows in charted))
    assert shown | set(other["row_id"]) == set(data["row_id"])
    assert len(other) <= 14, "most rows are on a chart"
    assert len(shown) >= 0.9 * len(data)


def test_each_adoption_line_names_its_change(data):
    groups = dict(selections.by_measure_group(selections.adoption_over_time(data)))
    figure = figures.build_adoption_over_time(groups["Firms, 10+ employees"])
    names = [t.name.replace("<br>", " ") for t in figure.data if not (t.meta or {}).get("legend_key")]
    eurostat = next(n for n in names if n.startswith("Eurostat"))
    # The line's years are in its name, so the change says them once: a one-line entry on a phone.
    assert eurostat == "Eurostat · 2021–2024 · +1.9\u00a0pp/yr"
    figure = figures.build_adoption_over_time(groups["Firms, size threshold not stated"])
    forecast = next(t for t in figure.data if (t.meta or {}).get("forecast"))
    assert "pp/yr" not in forecast.name, "a forecast line states no measured change"


def test_stated_rates_one_panel_per_unit(data):
    rows = selections.stated_rates(data)
    figure = figures.build_stated_rates(rows)
    assert [t.meta["unit"] for t in figure.data] == list(dict.fromkeys(rows["unit"]))
    assert sum(len(t.x) for t in figure.data) == len(rows)
    cagr = next(t for t in figure.data if t.meta["unit"] == "percent CAGR")
    assert all("FORECAST by IDC" in point[2] for point in cagr.customdata)


def test_every_seed_industry_shows_its_best_figure_or_none_with_proxies_and_why(data):
    from backend.market.series_labels import best_figures_markdown, proxies_markdown

    table = industries.best_figures(data)
    assert list(table["industry"]) == [industry.label for industry in industries.DOCUMENT_INDUSTRIES]
    finance = table.loc[table["industry"] == "Finance"].iloc[0]
    assert finance["best comparable figure"].startswith("Statistics Canada, Finance and insurance: 30.6% in 2025")
    healthcare = table.loc[table["industry"] == "Healthcare"].iloc[0]
    assert healthcare["best comparable figure"] == "no comparable figure"
    # Each proxy series once, its values in year order, with what it counts.
    assert (
        "AMA physicians survey, Healthcare: 38% (2023), 66% (2024) (physicians, secondary)"
        in healthcare["nearest proxies"]
    )
    assert "Different units" in healthcare["why the proxies do not compare"]
    shown = best_figures_markdown(table)
    for _, row in table.iterrows():
        assert f"**{row['industry']}: " in shown.replace("\\", "")
    assert shown.count("Nearest proxies:") == len(table)
    assert shown.count("no comparable figure") == (table["best comparable figure"] == "no comparable figure").sum()
    # The answer a projector shows: one line an industry; the proxies are the detail a click away.
    headline = best_figures_markdown(table, proxies=False)
    assert headline.count("\n") == len(table) - 1 and "Nearest proxies" not in headline
    detail = proxies_markdown(table)
    assert detail.count("Nearest proxies:") == len(table) and "**Healthcare:**" in detail


def test_eurostat_activities_give_manufacturing_a_comparable_figure_and_energy_retail_transport_proxies(data):
    table = industries.best_figures(data).set_index("industry")
    manufacturing = table.loc["Manufacturing", "best comparable figure"]
    assert manufacturing.startswith("Eurostat, Manufacturing: 17.27% in 2025"), manufacturing
    # The 2025 value is after the definition break, so no change is quoted across it.
    assert "from" not in manufacturing.split(";")[0]
    energy = table.loc["Energy"]
    assert energy["best comparable figure"] == "no comparable figure", "a re-keyed copy is secondary"
    assert (
        "Eurostat, Electricity, gas, steam and air conditioning supply: 18.43% (2023), 25.68% (2024), 33.57% (2025)"
        " (firms, secondary)" in energy["nearest proxies"]
    )
    retail = table.loc["Retail and e-commerce (recommendation)", "nearest proxies"]
    assert "Eurostat, Wholesale and retail trade; repair of motor vehicles and motorcycles: 6.74% (2023)" in retail
    transport = table.loc["Autonomous driving and transport", "nearest proxies"]
    assert "Eurostat, Transportation and storage: 5.26% (2023), 8.13% (2024), 11.15% (2025)" in transport
