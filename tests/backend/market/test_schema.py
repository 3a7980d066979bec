"""Row-level validation of market tables (the rules user uploads and shipped data share)."""

import pandas as pd

from backend.market.schema import REQUIRED_COLUMNS, max_year, validate_table


def _row(**changes) -> dict[str, str]:
    row = {
        "dataset": "internal_survey",
        "metric": "teams_using_ai",
        "definition": "Share of our teams using AI weekly",
        "geography": "World",
        "segment": "All",
        "year": "2024",
        "value": "42",
        "unit": "percent",
        "source_org": "Strategy office",
        "source_title": "Q3 pulse survey",
        "source_url": "https://intranet.example.com/pulse",
        "verification": "primary",
    }
    row.update(changes)
    return row


def _messages(result) -> list[str]:
    return [issue.text() for issue in result.issues]


def test_valid_table_is_typed_and_defaults_filled():
    result = validate_table(pd.DataFrame([_row(), _row(year="2023", value="35.5", segment="Finance")]))
    assert result.ok and len(result.rows) == 2
    assert result.rows["year"].tolist() == [2024, 2023]
    assert result.rows["value"].tolist() == [42.0, 35.5]
    assert result.rows["segment_type"].tolist() == ["all", "other"]
    assert result.rows["series_break"].tolist() == [False, False]


def test_bad_rows_are_reported_by_spreadsheet_row_and_good_rows_kept():
    frame = pd.DataFrame(
        [
            _row(),
            _row(year="twenty"),
            _row(value="abc"),
            _row(value="140"),
            _row(source_org=""),
            _row(verification="maybe"),
            _row(source_url="javascript:alert(1)"),
        ]
    )
    result = validate_table(frame)
    assert len(result.rows) == 1 and result.total_rows == 7
    assert result.rejected_rows == [3, 4, 5, 6, 7, 8]
    messages = _messages(result)
    assert "Row 3, column 'year': 'twenty' is not a whole year such as 2024." in messages
    assert "Row 4, column 'value': 'abc' is not a number." in messages
    assert any(m.startswith("Row 5, column 'value': 140 is not a share between 0 and 100") for m in messages)
    assert any(m.startswith("Row 6, column 'source_org': is empty") for m in messages)
    assert any(m.startswith("Row 7, column 'verification'") for m in messages)
    assert any(m.startswith("Row 8, column 'source_url'") for m in messages)


def test_year_range_is_enforced():
    result = validate_table(pd.DataFrame([_row(year="1900"), _row(year=str(max_year() + 5)), _row(year="2024.0")]))
    assert result.rejected_rows == [2, 3]
    assert result.rows["year"].tolist() == [2024]


def test_values_accept_thousands_separators_and_percent_signs():
    result = validate_table(pd.DataFrame([_row(value="1,234.5", unit="USD million"), _row(value="12%")]))
    assert result.ok
    assert result.rows["value"].tolist() == [1234.5, 12.0]


def test_infinite_and_negative_shares_refused_but_negative_changes_allowed():
    frame = pd.DataFrame([_row(value="inf"), _row(value="-3"), _row(value="-3", unit="percentage points")])
    result = validate_table(frame)
    assert result.rejected_rows == [2, 3]
    assert result.rows["value"].tolist() == [-3.0]


def test_missing_columns_reported_once_for_the_table():
    frame = pd.DataFrame([_row()]).drop(columns=["source_title", "year"])
    result = validate_table(frame)
    assert result.rows.empty
    assert len(result.issues) == 1 and result.issues[0].row is None
    assert "year" in result.issues[0].message and "source_title" in result.issues[0].message


def test_url_optional_only_when_asked():
    frame = pd.DataFrame([_row(source_url="")])
    assert not validate_table(frame).ok
    assert validate_table(frame, require_url=False).ok
    assert validate_table(frame.drop(columns=["source_url"]), require_url=False).ok


def test_exact_duplicate_rows_are_flagged():
    result = validate_table(pd.DataFrame([_row(), _row()]))
    assert _messages(result) == ["Row 3: repeats row 2 exactly."]


def test_optional_columns_are_checked():
    frame = pd.DataFrame(
        [
            _row(series_break="sometimes"),
            _row(qualifier="roughly"),
            _row(segment_type="planet"),
            _row(series_break="yes", qualifier="About"),
        ]
    )
    result = validate_table(frame)
    assert result.rejected_rows == [2, 3, 4]
    assert result.rows["series_break"].tolist() == [True]
    assert result.rows["qualifier"].tolist() == ["about"]


def test_overlong_text_refused_and_extra_columns_kept():
    frame = pd.DataFrame([_row(definition="x" * 301), _row(owner="me")])
    result = validate_table(frame)
    assert result.rejected_rows == [2]
    assert result.rows["owner"].tolist() == ["me"]


def test_result_is_json_able():
    result = validate_table(pd.DataFrame([_row(), _row(value="n/a")]))
    summary = result.to_dict()
    assert summary["valid_rows"] == 1 and summary["rejected_rows"] == [3]
    assert summary["issues"][0] == {"row": 3, "column": "value", "message": "'n/a' is not a number."}
    assert set(REQUIRED_COLUMNS) <= set(result.rows.columns)


def test_forecasts_may_look_ahead_but_must_name_a_publisher():
    ahead = str(max_year() + 5)
    result = validate_table(
        pd.DataFrame(
            [
                _row(year=ahead, forecast="true", publisher="IDC"),
                _row(year=ahead, forecast="true"),
                _row(year=ahead),
                _row(forecast="maybe"),
            ]
        )
    )
    assert len(result.rows) == 1
    assert result.rows["forecast"].tolist() == [True] and result.rows["publisher"].tolist() == ["IDC"]
    messages = _messages(result)
    assert any("Row 3, column 'publisher'" in m and "forecast" in m for m in messages)
    assert any("Row 4, column 'year'" in m and "mark forecasts as forecast" in m for m in messages)
    assert any("Row 5, column 'forecast'" in m for m in messages)


def test_new_optional_columns_default_to_empty():
    result = validate_table(pd.DataFrame([_row()]))
    assert result.ok
    row = result.rows.iloc[0]
    assert not row["forecast"]
    assert row["publisher"] == "" and row["origin_country"] == ""
