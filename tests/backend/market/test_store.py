"""Loading, filtering and source lists of market tables."""

import pandas as pd
import pytest

from backend.errors import InvalidInputError
from backend.market import store
from backend.market.store import MarketFilter


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return store.load_market_data()


def test_filter_options_cover_the_data(data):
    options = store.filter_options(data)
    assert "census_btos" in options.datasets
    assert {"Denmark", "European Union", "World"} <= set(options.geographies)
    assert options.segments[0] == "All"
    assert "GPT-4" not in options.segments, "models are not a market segment"
    assert (options.year_min, options.year_max) == (2011, 2040), "forecasts reach 2040"


def test_empty_filter_keeps_everything(data):
    assert len(store.filter_rows(data, MarketFilter())) == len(data)


def test_filters_combine(data):
    chosen = store.filter_rows(
        data, MarketFilter(datasets=("eurostat_isoc_eb_ai",), geographies=("Denmark",), year_range=(2024, 2024))
    )
    assert chosen["value"].tolist() == [27.6]


def test_segment_filter_keeps_models(data):
    chosen = store.filter_rows(data, MarketFilter(segments=("Large",)))
    assert set(chosen.loc[chosen["segment_type"] != "model", "segment"]) == {"Large"}
    assert (chosen["dataset"] == "epoch_notable_models").any()


def test_sources_of_lists_each_page_once_primary_first(data):
    rows = data.loc[data["dataset"] == "eurostat_isoc_eb_ai"]
    sources = store.sources_of(rows)
    flags = [s.verification for s in sources]
    assert flags == sorted(flags) and {"primary", "secondary"} == set(flags), "primary first"
    assert sum(s.rows for s in sources) == len(rows)
    assert all(s.url.startswith("https://") for s in sources)
    assert sources[0].to_dict()["org"] == "Eurostat"
    assert store.sources_of(rows.iloc[0:0]) == []


def test_bad_shipped_file_fails_loudly(tmp_path):
    good = next(store.MARKET_DIR.glob("census_btos.csv")).read_text(encoding="utf-8")
    lines = good.splitlines()
    (tmp_path / "broken.csv").write_text("\n".join([lines[0], lines[1].replace(",primary", ",unchecked")]))
    with pytest.raises(InvalidInputError, match="broken.csv has 1 invalid row"):
        store.load_market_data(tmp_path)


def test_empty_folder_gives_an_empty_typed_table(tmp_path):
    assert store.load_market_data(tmp_path).empty
