"""The market-table schema and row-level validation, shared by the shipped CSVs and user uploads.

A table is tidy: one value per row, with what was measured, where, when, and who says so.
Validation never raises on bad rows: it keeps the good ones and describes each bad one, so a user
can fix their file without losing the rest.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from datetime import date

import pandas as pd

from backend.i18n import N_

REQUIRED_COLUMNS: tuple[str, ...] = (
    "dataset",
    "metric",
    "definition",
    "geography",
    "segment",
    "year",
    "value",
    "unit",
    "source_org",
    "source_title",
    "source_url",
    "verification",
)
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "segment_type",
    "qualifier",
    "period",
    "series_break",
    "note",
    "forecast",
    "publisher",
    "origin_country",
    "measure",
    "size_threshold",
    "population",
    "definition_version",
    "edition",
)
# What an adoption share counts. Shares of different units (firms vs people vs hospitals) never
# share an axis; the shipped adoption rows must use one of these (uploads may leave it empty).
MEASURES: tuple[str, ...] = (
    "firms",
    "respondents' organisations",
    "IT professionals' companies",
    "respondents",
    "hospitals",
    "physicians",
    "teachers",
    "new passenger cars",
    "money",
)
# Columns holding true/false; the rest (but year and value) are text.
FLAG_COLUMNS: tuple[str, ...] = ("series_break", "forecast")
SCHEMA_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
TEXT_COLUMNS: tuple[str, ...] = tuple(c for c in SCHEMA_COLUMNS if c not in ("year", "value") + FLAG_COLUMNS)

# What each column means, for the upload page and the template (data/README.md says the same);
# marked for translation, shown with ``_()``.
COLUMN_HELP: dict[str, str] = {
    "dataset": N_("Which collection the row belongs to, e.g. 'q3_customer_survey'. Charts colour by it."),
    "metric": N_("Machine name of what is measured, e.g. 'teams_using_ai'."),
    "definition": N_("What exactly was measured, in words. Shown as the series label."),
    "geography": N_("'World', a region, or a country."),
    "segment": N_("'All', or the slice: an industry, size class, business function..."),
    "year": N_("The survey or data year, e.g. 2024."),
    "value": N_("The number, in the unit below (12.5 or 12.5%)."),
    "unit": N_("'percent' for shares (0-100), or e.g. 'USD billion', 'percentage points'."),
    "source_org": N_("Who produced the figure."),
    "source_title": N_("Title of the report or page it comes from."),
    "source_url": N_("Address of that page (http or https). Optional for uploads."),
    "verification": N_("'primary' (the producer's own page) or 'secondary' (a third-party summary)."),
    "segment_type": N_(
        "Optional: all, industry, size, function, technology, focus_area, sector, model, region, other."
    ),
    "qualifier": N_("Optional: about, nearly, more than, less than, implied."),
    "period": N_("Optional: finer timing, e.g. 2024-02 or 2024-02/2024-03."),
    "series_break": N_("Optional: true where the definition changed from earlier rows."),
    "note": N_("Optional: caveats such as sample size."),
    "forecast": N_("Optional: true for a projected value (a forecast), not a measured one; needs a publisher."),
    "publisher": N_("Optional: who made the estimate or forecast (e.g. IDC), when source_org is a summariser."),
    "origin_country": N_("Optional: the country a row is about when geography is 'World' (e.g. a model's developer)."),
    "measure": N_("Optional: what a share counts, e.g. firms, respondents' organisations, hospitals, physicians."),
    "size_threshold": N_("Optional: which firms the population includes by size, e.g. '10+ employees', 'any size'."),
    "population": N_("Optional: who was surveyed: country, size threshold and sectors covered."),
    "definition_version": N_("Optional: which version of the question or list; a new version starts a new series."),
    "edition": N_(
        "Optional: the report edition a value comes from (e.g. AI Index 2025); editions are separate series."
    ),
}
VERIFICATIONS: tuple[str, ...] = ("primary", "secondary")
SEGMENT_TYPES: tuple[str, ...] = (
    "all",
    "industry",
    "size",
    "function",
    "technology",
    "focus_area",
    "sector",
    "model",
    "region",
    "other",
)
QUALIFIERS: tuple[str, ...] = ("", "about", "nearly", "more than", "less than", "implied")
# Units whose values are shares of a whole, so anything outside 0-100 is a typo.
SHARE_UNITS: tuple[str, ...] = ("percent", "%")
MIN_YEAR = 1950
MAX_FORECAST_YEAR = 2100
# Long free text in an upload is either a mistake or an attack on the page; notes get more room.
_MAX_TEXT_CHARS = 300
_MAX_NOTE_CHARS = 1000
_TRUE = ("true", "yes", "1", "y")
_FALSE = ("false", "no", "0", "n", "")
_URL = re.compile(r"^https?://[^\s<>\"']+$", re.IGNORECASE)
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def max_year() -> int:
    """The latest year a row may refer to: next year (surveys announce expectations)."""
    return date.today().year + 1


@dataclass(frozen=True)
class RowIssue:
    """One problem in one row (``row`` counts the header as row 1, as a spreadsheet does)."""

    row: int | None
    column: str
    message: str

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return asdict(self)

    def text(self) -> str:
        """The issue as one sentence for a user."""
        where = f"Row {self.row}" if self.row is not None else "The table"
        return f"{where}, column '{self.column}': {self.message}" if self.column else f"{where}: {self.message}"


@dataclass
class ValidationResult:
    """The valid rows, typed, and every issue found in the rest."""

    rows: pd.DataFrame
    issues: list[RowIssue] = field(default_factory=list)
    total_rows: int = 0

    @property
    def ok(self) -> bool:
        """True when every row passed."""
        return not self.issues

    @property
    def rejected_rows(self) -> list[int]:
        """Spreadsheet row numbers that were left out."""
        return sorted({issue.row for issue in self.issues if issue.row is not None})

    def to_dict(self) -> dict[str, object]:
        """JSON-able summary (the rows themselves stay a DataFrame)."""
        return {
            "total_rows": self.total_rows,
            "valid_rows": len(self.rows),
            "rejected_rows": self.rejected_rows,
            "issues": [issue.to_dict() for issue in self.issues],
        }


def empty_table() -> pd.DataFrame:
    """A typed table with the schema's columns and no rows."""
    return _typed(pd.DataFrame({column: pd.Series(dtype=object) for column in SCHEMA_COLUMNS}))


def _clean_text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(value).replace("\x00", "").strip()


def _parse_year(text: str) -> int | None:
    try:
        number = float(text)
    except ValueError:
        return None
    if not math.isfinite(number) or number != int(number):
        return None
    return int(number)


def _parse_value(text: str) -> float | None:
    cleaned = text.replace(" ", "").removesuffix("%")
    if _THOUSANDS.match(cleaned):
        cleaned = cleaned.replace(",", "")
    try:
        number = float(cleaned)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _row_issues(record: dict[str, str], row: int, require_url: bool) -> tuple[list[RowIssue], dict[str, object]]:
    issues: list[RowIssue] = []
    typed: dict[str, object] = dict(record)

    def issue(column: str, message: str) -> None:
        issues.append(RowIssue(row, column, message))

    for column in REQUIRED_COLUMNS:
        if column == "source_url" and not require_url:
            continue
        if not record[column]:
            issue(
                column,
                "is empty; every row needs a value here" + (" (who says so?)" if column.startswith("source") else "."),
            )
    for column in TEXT_COLUMNS:
        limit = _MAX_NOTE_CHARS if column == "note" else _MAX_TEXT_CHARS
        if len(record[column]) > limit:
            issue(column, f"has {len(record[column]):,} characters; the limit is {limit:,}.")

    for column in FLAG_COLUMNS:
        flag = record[column].lower()
        if flag not in _TRUE + _FALSE:
            issue(column, f"'{record[column][:40]}' must be true or false (or empty).")
        typed[column] = flag in _TRUE
    if typed["forecast"] and not record["publisher"]:
        issue("publisher", "is empty; a forecast row must name who made the forecast.")

    # A forecast may look decades ahead; a measured value cannot be later than next year.
    latest = MAX_FORECAST_YEAR if typed["forecast"] else max_year()
    year = _parse_year(record["year"]) if record["year"] else None
    if record["year"] and year is None:
        issue("year", f"'{record['year'][:40]}' is not a whole year such as 2024.")
    elif year is not None and not MIN_YEAR <= year <= latest:
        issue(
            "year",
            f"{year} is outside {MIN_YEAR}-{latest}" + ("." if typed["forecast"] else " (mark forecasts as forecast)."),
        )
    typed["year"] = year

    value = _parse_value(record["value"]) if record["value"] else None
    if record["value"] and value is None:
        issue("value", f"'{record['value'][:40]}' is not a number.")
    elif value is not None and record["unit"].lower() in SHARE_UNITS and not 0 <= value <= 100:
        issue("value", f"{value:g} is not a share between 0 and 100 (unit is '{record['unit']}').")
    typed["value"] = value

    verification = record["verification"].lower()
    if verification and verification not in VERIFICATIONS:
        issue("verification", f"'{record['verification'][:40]}' must be 'primary' or 'secondary'.")
    typed["verification"] = verification

    url = record["source_url"]
    if url and not _URL.match(url):
        issue("source_url", f"'{url[:60]}' is not a web address starting with http:// or https://.")

    qualifier = record["qualifier"].lower()
    if qualifier not in QUALIFIERS:
        issue("qualifier", f"'{record['qualifier'][:40]}' must be empty or one of: {', '.join(QUALIFIERS[1:])}.")
    typed["qualifier"] = qualifier

    segment_type = record["segment_type"].lower() or ("all" if record["segment"].lower() == "all" else "other")
    if segment_type not in SEGMENT_TYPES:
        issue("segment_type", f"'{record['segment_type'][:40]}' must be one of: {', '.join(SEGMENT_TYPES)}.")
    typed["segment_type"] = segment_type
    return issues, typed


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    typed = frame.copy()
    for column in typed.columns:
        if column == "year":
            typed[column] = pd.to_numeric(typed[column]).astype("Int64")
        elif column == "value":
            typed[column] = pd.to_numeric(typed[column]).astype(float)
        elif column in FLAG_COLUMNS:
            typed[column] = typed[column].astype(bool)
        else:
            typed[column] = typed[column].astype(object)
    return typed.reset_index(drop=True)


def validate_table(frame: pd.DataFrame, *, require_url: bool = True) -> ValidationResult:
    """Check a market table row by row; keep valid rows (typed) and describe every problem.

    Args:
        frame: the table, with schema column names (map a user's columns first with
            :func:`backend.market.mapping.apply_mapping`). Extra columns are kept as text.
        require_url: whether every row needs a ``source_url`` (the shipped data does; an internal
            review table may cite a document without an address).

    Returns:
        The valid rows with ``year`` as Int64, ``value`` as float and ``series_break`` as bool,
        and one :class:`RowIssue` per problem, with spreadsheet row numbers.
    """
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if not require_url and "source_url" in missing:
        missing.remove("source_url")
    if missing:
        issue = RowIssue(None, "", f"missing column(s): {', '.join(missing)}. Map your columns to the schema first.")
        return ValidationResult(empty_table(), [issue], len(frame))

    extras = [column for column in frame.columns if column not in SCHEMA_COLUMNS]
    issues: list[RowIssue] = []
    kept: list[dict[str, object]] = []
    seen: dict[tuple[str, ...], int] = {}
    for position, raw in enumerate(frame.to_dict(orient="records")):
        row = position + 2
        record = {column: _clean_text(raw.get(column)) for column in SCHEMA_COLUMNS}
        row_issues, typed = _row_issues(record, row, require_url)
        key = tuple(record[column] for column in SCHEMA_COLUMNS)
        if not row_issues and key in seen:
            row_issues.append(RowIssue(row, "", f"repeats row {seen[key]} exactly."))
        seen.setdefault(key, row)
        issues.extend(row_issues)
        if not row_issues:
            typed.update({column: _clean_text(raw.get(column)) for column in extras})
            kept.append(typed)
    rows = pd.DataFrame(kept, columns=list(SCHEMA_COLUMNS) + extras) if kept else empty_table()
    return ValidationResult(_typed(rows), issues, len(frame))
