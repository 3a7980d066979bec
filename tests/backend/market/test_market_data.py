"""The shipped market CSVs: schema, a source on every row, and the figures the issue asks for."""

from pathlib import Path

import pandas as pd
import pytest

from backend.market import store
from backend.market.schema import REQUIRED_COLUMNS

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
    assert data["year"].between(2011, 2026).all()


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
    assert _value(data, dataset="eurostat_isoc_eb_ai", geography="European Union", segment="All", year=2024) == [13.5]
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
    assert (eurostat_2025["verification"] == "secondary").all()


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
