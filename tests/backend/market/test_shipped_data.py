"""The shipped market CSVs: schema, a source on every row, and the figures the issue asks for."""

from pathlib import Path

import pandas as pd
import pytest

from backend.market import store
from backend.market.schema import MEASURES, REQUIRED_COLUMNS

FILES = sorted(store.MARKET_DIR.glob("*.csv"))


def test_market_folder_has_every_dataset():
    names = {path.stem for path in FILES}
    assert {
        "mckinsey_state_of_ai",
        "eurostat_isoc_eb_ai",
        "census_btos",
        "ai_index_investment",
        "epoch_notable_models",
    } <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_shipped_file_validates(path: Path):
    result = store.read_market_file(path)
    assert result.ok, [issue.text() for issue in result.issues]
    assert len(result.rows) == result.total_rows > 0


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_row_has_a_source_and_verification(path: Path):
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert set(REQUIRED_COLUMNS) <= set(raw.columns)
    for column in ("source_org", "source_title", "source_url"):
        assert (raw[column].str.strip() != "").all(), f"{path.name}: empty {column}"
    assert raw["source_url"].str.match(r"^https?://\S+$").all()
    assert set(raw["verification"]) <= {"primary", "secondary"}
    assert (raw["dataset"] == path.stem).all(), "the file name is the dataset name"


def test_loaded_data_is_typed():
    data = store.load_market_data()
    assert str(data["year"].dtype) == "Int64"
    assert data["value"].dtype == float
    assert data["series_break"].dtype == bool
    assert data["forecast"].dtype == bool
    measured = data.loc[~data["forecast"]]
    assert measured["year"].between(2011, 2026).all()
    assert data.loc[data["forecast"], "year"].between(2024, 2040).all()
    assert data["row_id"].is_unique


def _value(data, **where) -> list[float]:
    mask = pd.Series(True, index=data.index)
    for column, value in where.items():
        mask &= data[column] == value
    return sorted(data.loc[mask, "value"].tolist())


def test_key_figures_match_the_source_collection():
    data = store.load_market_data()
    mck = dict(dataset="mckinsey_state_of_ai", metric="organisations_using_ai")
    assert _value(data, **mck, year=2017) == [20]
    assert _value(data, **mck, year=2024) == [72, 78]
    assert _value(data, **mck, year=2025) == [88]
    assert _value(data, dataset="ai_index_investment", metric="corporate_ai_investment", year=2024) == [252.3]
    assert _value(data, metric="private_ai_investment", geography="United States", year=2024) == [109.1]
    assert _value(data, metric="private_genai_investment", year=2024) == [33.9]
    assert _value(data, dataset="eurostat_isoc_eb_ai", geography="European Union", segment="All", year=2024) == [13.48]
    eu_total = dict(
        dataset="eurostat_isoc_eb_ai", metric="enterprises_using_ai", geography="European Union", segment="All"
    )
    # Read on Eurostat's own data (its API response): the Dec-2025 release rounds them to 7.7% and 8.1%.
    assert _value(data, **eu_total, year=2021) == [7.65]
    assert _value(data, **eu_total, year=2023) == [8.06]
    assert _value(data, **eu_total, year=2025) == [19.95]
    assert _value(data, dataset="eurostat_isoc_eb_ai", segment="Large", year=2023) == [30.4]
    assert _value(data, metric="training_compute", segment="GPT-3 175B (davinci)") == [3.14e23]
    assert _value(data, metric="parameters", segment="Switch") == [1.571e12]


def test_secondary_rows_are_marked_as_the_collection_says():
    data = store.load_market_data()
    secondary = data.loc[data["verification"] == "secondary"]
    assert (secondary["dataset"] == "mckinsey_state_of_ai").any()
    mck_2025 = data.loc[(data["metric"] == "organisations_using_ai") & (data["year"] == 2025)]
    assert (mck_2025["verification"] == "secondary").all()
    focus = data.loc[data["metric"] == "private_ai_investment_by_focus_area"]
    assert len(focus) == 3 and (focus["verification"] == "secondary").all()
    eurostat_2025 = data.loc[(data["dataset"] == "eurostat_isoc_eb_ai") & (data["year"] == 2025)]
    from_summary = eurostat_2025["source_url"].str.contains("yanbaoke|wam.ae|angelbohorquez05")
    assert (eurostat_2025.loc[from_summary, "verification"] == "secondary").all()
    assert (eurostat_2025.loc[~from_summary, "verification"] == "primary").all(), "Eurostat's own page is primary"


def test_census_question_change_is_a_series_break():
    btos = store.load_market_data().query("dataset == 'census_btos'")
    before = btos.loc[btos["year"] <= 2024]
    after = btos.loc[btos["year"] >= 2026]
    assert not before["series_break"].any()
    assert after["series_break"].all()
    assert set(before["definition"]).isdisjoint(after["definition"]), "a changed question is a different series"


def test_epoch_rows_keep_confidence_and_organisation():
    epoch = store.load_market_data().query("dataset == 'epoch_notable_models' and segment_type == 'model'")
    assert set(epoch["confidence"]) == {"Confident", "Likely", "Speculative"}
    assert (epoch["organization"] != "").all()
    assert pd.to_datetime(epoch["period"], format="%Y-%m-%d").dt.year.tolist() == epoch["year"].tolist()
    assert "GPT-4" not in set(epoch.loc[epoch["metric"] == "parameters", "segment"]), "not given by Epoch"


def test_audit_fixes_are_in_the_data():
    data = store.load_market_data()
    by_industry = data.loc[data["metric"] == "respondents_using_genai_by_industry"]
    assert len(by_industry) == 3
    assert (by_industry["year"] == 2023).all() and (by_industry["period"] == "2023-04-11/2023-04-21").all()
    assert by_industry["definition"].str.contains("respondents").all()
    assert not (data["metric"] == "genai_exposure_by_industry").any()
    owid = data.loc[data["metric"] == "companies_using_ai_by_region"]
    assert (owid["verification"] == "secondary").all()
    eu_2025 = (
        (data["metric"] == "enterprises_using_ai") & (data["geography"] == "European Union") & (data["year"] == 2025)
    )
    producer = data.loc[eu_2025 & data["segment"].isin(["All", "Large"])]
    assert producer["source_url"].str.startswith("https://ec.europa.eu/eurostat/").all()
    ibm = data.loc[data["dataset"] == "ibm_global_ai_adoption_index"]
    assert (ibm.loc[ibm["geography"] == "World", "source_url"].str.contains("newsroom.ibm.com")).all()
    models = data.loc[(data["segment_type"] == "model") & (data["dataset"] == "epoch_notable_models")]
    assert (models["origin_country"] != "").all()
    assert set(models.loc[models["segment"].isin(["Qwen2.5-72B", "DeepSeek-V3"]), "origin_country"]) == {"China"}


def test_industry_forecast_and_china_rows_exist():
    data = store.load_market_data()
    census = data.loc[(data["dataset"] == "census_btos") & (data["segment_type"] == "industry")]
    assert len(census) >= 19
    assert _value(data, dataset="census_btos", segment="Health care and social assistance") == [18.0]
    assert _value(data, dataset="census_btos", segment="Educational services") == [24.0]
    forecasts = data.loc[data["forecast"]]
    assert {"IDC", "Gartner"} <= set(forecasts["publisher"])
    assert (forecasts["publisher"] != "").all()
    assert _value(data, metric="ai_spending", year=2028) == [632]
    assert _value(data, dataset="china_ai_industry", metric="ai_industry_size") == [900]
    assert _value(data, metric="physicians_using_ai") == [38, 66]
    corporate = data.loc[data["metric"] == "corporate_ai_investment"]
    assert sorted(corporate["year"]) == [2021, 2022, 2023, 2024]


def test_industry_figures_from_national_statistics_and_sector_bodies():
    """Issue 13 item 2: adoption by industry from primary sources where a public series exists."""
    data = store.load_market_data()
    ine = dict(dataset="ine_ict_enterprises", metric="enterprises_using_ai", geography="Spain")
    assert _value(data, **ine, segment="All") == [9.6, 12.4, 21.14]
    assert _value(data, **ine, year=2025, segment_type="industry") == [11.44, 17.52, 25.72]
    statcan = dict(dataset="statcan_ai_use", metric="businesses_using_ai", geography="Canada")
    assert _value(data, **statcan, segment="Information and cultural industries") == [20.9, 26, 35.6]
    assert _value(data, **statcan, segment="Finance and insurance") == [10.9, 30.6]
    assert _value(data, dataset="sector_ai_surveys", segment="Financial services") == [58, 75]
    assert _value(data, metric="hospitals_using_predictive_ai") == [66, 71]
    assert _value(data, dataset="eurostat_isoc_eb_ai", segment="Information and communication", year=2024) == [48.72]
    national = data.loc[data["dataset"].isin(["ine_ict_enterprises", "statcan_ai_use"])]
    assert (national["verification"] == "primary").all(), "read from INE's and Statistics Canada's own pages"
    assert national["source_url"].str.match(r"^https://(www\.)?(ine\.es|www150\.statcan\.gc\.ca)/").all()
    copies = data.loc[data["source_url"].str.contains("sipoch.com|news21th|datiak12|techmonitor|mydrivers|asiae")]
    assert (copies["verification"] == "secondary").all(), "copies and summaries are never primary"


def test_every_share_says_what_was_counted_among_whom_and_by_which_definition():
    data = store.load_market_data()
    shares = data.loc[data["unit"] == "percent"]
    assert set(shares["measure"]) <= set(MEASURES)
    for column in ("measure", "size_threshold", "population", "definition_version"):
        assert (shares[column].str.strip() != "").all(), f"a percent row without {column}"
    by_dataset = shares.groupby("dataset")["measure"].agg(set).to_dict()
    assert by_dataset["ama_physician_ai"] == {"physicians"}
    assert by_dataset["ibm_global_ai_adoption_index"] == {"IT professionals' companies"}
    assert {"hospitals", "teachers", "firms"} <= by_dataset["sector_ai_surveys"]
    korea = shares.loc[shares["dataset"] == "korea_ai_adoption"]
    assert (korea["size_threshold"] == "50+ employees").all() and korea["definition"].str.contains("50+").all()
    farms = shares.loc[(shares["dataset"] == "census_btos") & shares["segment"].str.startswith("Agriculture")].iloc[0]
    assert "farms excluded" in farms["segment"] and "except farms" in farms["note"]


def test_one_labelling_rule_primary_only_on_the_producers_page_or_a_verbatim_copy():
    data = store.load_market_data()
    gartner = data.loc[data["source_url"].str.contains("dayofdubai.com")]
    assert len(gartner) == 10 and (gartner["verification"] == "secondary").all(), "a rewrite is secondary"
    openstats = data.loc[data["source_url"].str.contains("openstats.eu")]
    wam = data.loc[data["source_url"].str.contains("wam.ae")]
    assert len(openstats) == 9 and (openstats["verification"] == "secondary").all()
    assert (wam["verification"] == "secondary").all(), "the 2024 and 2025 Eurostat copies get the same label"
    gallup = data.loc[data["source_url"].str.contains("aistoriz.com")].iloc[0]
    sas = data.loc[data["source_url"].str.contains("koreaherald")]
    assert gallup["verification"] == "primary" and (sas["verification"] == "primary").all(), "verbatim copies alike"


def test_definition_breaks_and_editions_are_data():
    data = store.load_market_data()
    totals = data.loc[(data["metric"] == "enterprises_using_ai") & (data["segment"] == "All")]
    eu = totals.loc[totals["geography"] == "European Union"].set_index("year")
    spain = totals.loc[totals["dataset"] == "ine_ict_enterprises"].set_index("year")
    for table in (eu, spain):
        assert bool(table.loc[2025, "series_break"]) and not table.loc[2024, "series_break"]
        assert table.loc[2025, "definition_version"] != table.loc[2024, "definition_version"]
    index = data.loc[data["dataset"] == "ai_index_investment"]
    assert (index["edition"] != "").all()
    corporate = index.loc[index["metric"] == "corporate_ai_investment"].set_index("year")["edition"].to_dict()
    assert corporate == {2021: "AI Index 2024", 2022: "AI Index 2024", 2023: "AI Index 2024", 2024: "AI Index 2025"}


def test_industry_split_of_spending_and_spains_2023_activities_are_added():
    data = store.load_market_data()
    idc = data.loc[data["metric"].isin(["ai_spending_share_by_industry", "ai_spending_cagr_by_industry"])]
    assert idc["forecast"].all() and (idc["publisher"] == "IDC").all()
    assert dict(zip(idc["segment"], idc["value"], strict=True)) == {
        "Financial services": 20.0,
        "Financial services, software and information services, and retail (together)": 45.0,
        "Business and personal services": 32.8,
        "Transportation and leisure": 31.7,
    }
    spain = data.loc[(data["dataset"] == "ine_ict_enterprises") & (data["year"] == 2023) & (data["segment"] != "All")]
    assert dict(zip(spain["segment"], spain["value"], strict=True)) == {
        "Industry": 8.94,
        "Construction": 4.68,
        "Services": 11.17,
    }


def test_eurostat_activities_and_sizes_read_on_eurostats_own_data_are_primary():
    data = store.load_market_data()
    eu = dict(dataset="eurostat_isoc_eb_ai", metric="enterprises_using_ai", geography="European Union")
    assert _value(data, **eu, segment="Manufacturing") == [6.79, 6.93, 10.57, 17.27]
    assert _value(data, **eu, segment="Information and communication") == [25.37, 29.53, 48.72, 62.52]
    assert _value(data, **eu, year=2025, segment_type="size") == [17.0, 30.36, 55.03]
    api = data.loc[data["source_url"].str.contains("IA_Italy_Companies")]
    assert len(api) == 12 and (api["verification"] == "primary").all()
    assert api["source_org"].str.contains("reproduced by").all(), "a verbatim copy names who reproduced it"
    copy = data.loc[data["source_url"].str.contains("angelbohorquez05")]
    assert len(copy) == 11 and (copy["verification"] == "secondary").all(), "a re-keyed table is secondary"
    after_break = data.loc[
        (data["dataset"] == "eurostat_isoc_eb_ai") & (data["year"] == 2025) & (data["metric"] == "enterprises_using_ai")
    ]
    assert after_break["series_break"].all()


def test_no_note_says_a_sentence_twice():
    import re

    repeated = []
    for _, row in store.load_market_data().iterrows():
        sentences = [s.strip() for s in re.split(r"(?<=\.)\s+", str(row["note"])) if len(s.strip()) > 20]
        if len(sentences) != len(set(sentences)):
            repeated.append(f"{row['dataset']} {row['segment']} {row['year']}")
    assert repeated == []
