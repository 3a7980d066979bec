"""Mapping a user's own column names onto the market schema, so any table can be validated.

A user picks, for each schema column, one of their columns or a value that applies to every row
(e.g. ``dataset = "Q3 customer survey"``). Suggestions come from normalised names and synonyms.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import pandas as pd

from backend.errors import InvalidInputError
from backend.i18n import _
from backend.market.schema import REQUIRED_COLUMNS, SCHEMA_COLUMNS

# Names people give these columns in their own spreadsheets (normalised: lower case, underscores).
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "dataset": ("dataset", "data_set", "survey", "series", "study", "collection"),
    "metric": ("metric", "measure", "indicator", "kpi", "variable"),
    "definition": ("definition", "description", "question", "what", "meaning"),
    "geography": ("geography", "geo", "country", "region", "market", "location", "area", "nation"),
    "segment": ("segment", "industry", "sector", "size", "company_size", "size_class", "function", "category", "group"),
    "year": ("year", "yr", "survey_year", "data_year", "fiscal_year"),
    "value": ("value", "share", "percent", "percentage", "pct", "rate", "amount", "figure", "number"),
    "unit": ("unit", "units", "uom", "unit_of_measure"),
    "source_org": ("source_org", "source", "publisher", "organisation", "organization", "org", "source_organisation"),
    "source_title": ("source_title", "title", "report", "document", "publication", "report_title"),
    "source_url": ("source_url", "url", "link", "href", "web_address", "address"),
    "verification": ("verification", "verified", "quality", "primary_secondary", "source_type"),
    "segment_type": ("segment_type", "segment_kind", "breakdown", "dimension"),
    "qualifier": ("qualifier", "approx", "approximation", "bound"),
    "period": ("period", "date", "month", "quarter", "survey_period", "fieldwork"),
    "series_break": ("series_break", "break", "definition_change"),
    "note": ("note", "notes", "comment", "comments", "remark", "remarks", "caveat"),
    "forecast": ("forecast", "projection", "projected", "is_forecast"),
    "publisher": ("publisher", "forecaster", "producer"),
    "origin_country": ("origin_country", "developer_country", "country_of_origin"),
}


# A segment column named like this says what kind of slice it holds (unless mapped explicitly).
_SEGMENT_KIND_BY_NAME: dict[str, str] = {
    "industry": "industry",
    "sector": "industry",
    "size": "size",
    "company_size": "size",
    "size_class": "size",
    "function": "function",
    "business_function": "function",
}


def normalise(name: str) -> str:
    """Lower case, with spaces, dashes and dots as underscores (``"Source URL"`` -> ``source_url``)."""
    return re.sub(r"[^0-9a-z\u4e00-\u9fff]+", "_", str(name).strip().lower()).strip("_")


@dataclass
class MarketColumns:
    """For each schema column: the user's column feeding it, or a value for every row."""

    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, dict[str, str]]:
        """JSON-able form."""
        return asdict(self)

    def missing_required(self) -> list[str]:
        """Required schema columns with neither a column nor a value."""
        return [
            column
            for column in REQUIRED_COLUMNS
            if column not in self.columns and not str(self.constants.get(column, "")).strip()
        ]


def suggest_mapping(user_columns: list[str]) -> MarketColumns:
    """Guess which of the user's columns feeds each schema column (exact name first, then synonyms).

    Args:
        user_columns: the uploaded table's column names.

    Returns:
        A mapping using each user column at most once; unmatched schema columns are left out.
    """
    by_normal = {normalise(column): column for column in user_columns}
    taken: set[str] = set()
    mapping: dict[str, str] = {}
    for schema_column in SCHEMA_COLUMNS:
        if schema_column in by_normal and by_normal[schema_column] not in taken:
            mapping[schema_column] = by_normal[schema_column]
            taken.add(by_normal[schema_column])
    for schema_column in SCHEMA_COLUMNS:
        if schema_column in mapping:
            continue
        for synonym in _SYNONYMS.get(schema_column, ()):
            candidate = by_normal.get(synonym)
            if candidate is not None and candidate not in taken:
                mapping[schema_column] = candidate
                taken.add(candidate)
                break
    return MarketColumns(columns=mapping)


# A short table a user types in seconds: (segment or country or industry...), year, value.
_SLICE_NAMES: dict[str, tuple[str, str]] = {
    "segment": ("segment", "other"),
    "industry": ("segment", "industry"),
    "sector": ("segment", "industry"),
    "size": ("segment", "size"),
    "company_size": ("segment", "size"),
    "function": ("segment", "function"),
    "country": ("geography", ""),
    "region": ("geography", ""),
    "geography": ("geography", ""),
    "market": ("geography", ""),
}


def quick_columns(user_columns: list[str], source: str, table_name: str = "") -> MarketColumns | None:
    """Everything but the source filled in for a short table of slice, year and value.

    A table with a year column, a value column and a slice column (segment, industry, sector,
    size, function, country or region) charts with only the source's name typed: the slice
    becomes the segment (or the geography), the value column's name the definition, and the rest
    gets a default the user can change in the full mapping.

    Args:
        user_columns: the table's column names.
        source: who the figures come from, as the user typed it ("" leaves it to be typed).
        table_name: the uploaded file's name, used as the source title.

    Returns:
        The mapping, or None when the table is not of that shape.
    """
    suggested = suggest_mapping(user_columns).columns
    by_normal = {normalise(column): column for column in user_columns}
    slices = [(by_normal[name], target, kind) for name, (target, kind) in _SLICE_NAMES.items() if name in by_normal]
    if "year" not in suggested or "value" not in suggested or not slices:
        return None
    column, target, kind = slices[0]
    value_name = suggested["value"]
    name = source.strip()
    mapping = MarketColumns(
        columns={"year": suggested["year"], "value": value_name, target: column},
        constants={
            "dataset": name or "my data",
            "metric": normalise(value_name) or "value",
            "definition": f"{value_name} ({name})" if name else str(value_name),
            "unit": "percent" if "%" in str(value_name) or "percent" in normalise(value_name) else "value",
            "source_org": name,
            "source_title": table_name or name,
            "verification": "primary",
        },
    )
    if target == "segment":
        mapping.constants["geography"] = "World"
        mapping.constants["segment_type"] = kind
    else:
        mapping.constants["segment"] = "All"
    for optional in ("unit", "note", "period", "source_url", "segment_type"):
        if optional in suggested and suggested[optional] not in mapping.columns.values():
            mapping.columns[optional] = suggested[optional]
            mapping.constants.pop(optional, None)
    return mapping


def needs_mapping(user_columns: list[str]) -> bool:
    """True unless the table already uses every required schema name."""
    return not set(REQUIRED_COLUMNS) <= set(user_columns)


def apply_mapping(frame: pd.DataFrame, mapping: MarketColumns, *, require_url: bool = True) -> pd.DataFrame:
    """Build a schema-named table from the user's table; nothing in ``frame`` is changed.

    Args:
        frame: the uploaded table.
        mapping: schema column -> user column, and schema column -> constant value.
        require_url: whether ``source_url`` must be mapped (see ``validate_table``).

    Raises:
        InvalidInputError: a mapped column is not in the table, or a required column has neither a
            column nor a value.
    """
    unknown = sorted({user for user in mapping.columns.values() if user not in frame.columns})
    if unknown:
        raise InvalidInputError(
            _("The table has no column(s) named {value}.").format(value=", ".join(repr(u) for u in unknown)),
            _("Pick columns from the uploaded file."),
        )
    missing = [c for c in mapping.missing_required() if require_url or c != "source_url"]
    if missing:
        raise InvalidInputError(
            _("Nothing is mapped to: {value}.").format(value=", ".join(missing)),
            _("Pick one of your columns for each, or type a value that applies to every row."),
        )
    mapped = pd.DataFrame(index=frame.index)
    for schema_column in SCHEMA_COLUMNS:
        if schema_column in mapping.columns:
            mapped[schema_column] = frame[mapping.columns[schema_column]]
        elif str(mapping.constants.get(schema_column, "")).strip():
            mapped[schema_column] = str(mapping.constants[schema_column]).strip()
        else:
            mapped[schema_column] = ""
    kind = _SEGMENT_KIND_BY_NAME.get(normalise(mapping.columns.get("segment", "")))
    if kind and "segment_type" not in mapping.columns and not str(mapping.constants.get("segment_type", "")).strip():
        overall = mapped["segment"].astype(str).str.strip().str.lower() == "all"
        mapped["segment_type"] = mapped["segment_type"].where(overall, kind)
    return mapped.reset_index(drop=True)
