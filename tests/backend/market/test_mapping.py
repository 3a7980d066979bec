"""Mapping a user's column names onto the market schema."""

import pandas as pd
import pytest

from backend.errors import InvalidInputError
from backend.market.mapping import MarketColumns, apply_mapping, needs_mapping, normalise, suggest_mapping
from backend.market.schema import REQUIRED_COLUMNS, validate_table

USER_COLUMNS = ["Country", "Industry", "Year", "Share (%)", "Source", "Report", "Link", "Comments"]


def _user_table() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ["Germany", "Retail", "2024", "31", "Our survey", "Pulse Q3", "https://example.com/q3", ""],
            ["France", "Banking", "2024", "44", "Our survey", "Pulse Q3", "https://example.com/q3", "small sample"],
        ],
        columns=USER_COLUMNS,
    )


def test_normalise():
    assert normalise(" Source URL ") == "source_url"
    assert normalise("Share (%)") == "share"
    assert normalise("company-size") == "company_size"


def test_suggestions_use_names_and_synonyms_once():
    mapping = suggest_mapping(USER_COLUMNS)
    assert mapping.columns == {
        "geography": "Country",
        "segment": "Industry",
        "year": "Year",
        "value": "Share (%)",
        "source_org": "Source",
        "source_title": "Report",
        "source_url": "Link",
        "note": "Comments",
    }
    assert sorted(mapping.missing_required()) == ["dataset", "definition", "metric", "unit", "verification"]


def test_exact_schema_names_win_over_synonyms():
    mapping = suggest_mapping(["segment", "industry", "dataset"])
    assert mapping.columns["segment"] == "segment"
    assert mapping.columns["dataset"] == "dataset"


def test_needs_mapping():
    assert needs_mapping(USER_COLUMNS)
    assert not needs_mapping(list(REQUIRED_COLUMNS) + ["extra"])


def test_apply_mapping_with_constants_validates():
    mapping = suggest_mapping(USER_COLUMNS)
    mapping.constants.update(
        dataset="pulse",
        metric="teams_using_ai",
        definition="Share of teams using AI",
        unit="percent",
        verification="primary",
    )
    mapped = apply_mapping(_user_table(), mapping)
    assert list(mapped["geography"]) == ["Germany", "France"]
    assert list(mapped["dataset"]) == ["pulse", "pulse"]
    result = validate_table(mapped)
    assert result.ok, [i.text() for i in result.issues]
    assert result.rows["value"].tolist() == [31.0, 44.0]
    assert result.rows["note"].tolist() == ["", "small sample"]


def test_apply_mapping_refuses_unknown_and_missing():
    with pytest.raises(InvalidInputError, match="no column"):
        apply_mapping(_user_table(), MarketColumns(columns={"year": "Jahr"}))
    with pytest.raises(InvalidInputError, match="Nothing is mapped to: dataset"):
        apply_mapping(_user_table(), suggest_mapping(USER_COLUMNS))


def test_apply_mapping_leaves_the_upload_untouched():
    table = _user_table()
    before = table.copy()
    mapping = suggest_mapping(USER_COLUMNS)
    mapping.constants.update(dataset="d", metric="m", definition="x", unit="percent", verification="primary")
    apply_mapping(table, mapping)
    pd.testing.assert_frame_equal(table, before)


def test_segment_kind_follows_the_mapped_column_name():
    table = pd.DataFrame({"Industry": ["All", "Retail"], "Year": ["2024", "2024"], "Share": ["30", "41"]})
    mapping = suggest_mapping(list(table.columns))
    mapping.constants.update(
        dataset="d",
        metric="m",
        definition="x",
        geography="World",
        unit="percent",
        verification="primary",
        source_org="o",
        source_title="t",
    )
    rows = validate_table(apply_mapping(table, mapping, require_url=False), require_url=False).rows
    assert rows["segment_type"].tolist() == ["all", "industry"]
    mapping.constants["segment_type"] = "other"
    rows = validate_table(apply_mapping(table, mapping, require_url=False), require_url=False).rows
    assert rows["segment_type"].tolist() == ["other", "other"]
