"""How fast each series changes: percentage points per year for shares, CAGR for amounts.

Computed from the first and last measured year of one series (same survey, metric, definition and
place), so a definition change or a forecast never enters the rate. Only the rows' own values are
used; nothing is interpolated.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import pandas as pd

from backend.i18n import N_, _
from backend.market.series_labels import data_label, dataset_label, measure_group

# A new definition version or report edition is a new series: growth never crosses either.
SERIES_KEYS: tuple[str, ...] = (
    "dataset",
    "metric",
    "definition",
    "definition_version",
    "edition",
    "geography",
    "segment",
)
_BOUNDS = ("more than", "less than")
# Amounts whose growth is a compound annual rate (counts of models or firms are not compared this way).
MONEY_CURRENCIES: tuple[str, ...] = ("USD", "CNY", "GBP", "EUR")


@dataclass(frozen=True)
class SeriesChange:
    """The change of one series between its first and last measured year."""

    dataset: str
    metric: str
    definition: str
    geography: str
    segment: str
    unit: str
    start_year: int
    start_value: float
    end_year: int
    end_value: float
    start_label: str
    end_label: str
    per_year: float
    per_year_unit: str
    approximate: bool
    row_ids: tuple[str, ...]
    edition: str = ""
    group: str = ""

    def label(self) -> str:
        """Series name for a table or chart axis."""
        place = "" if self.geography in ("World", "") else f" ({data_label('geography', self.geography)})"
        segment = "" if self.segment == "All" else f", {data_label('segment', self.segment)}"
        edition = f" [{self.edition}]" if self.edition else ""
        return f"{dataset_label(self.dataset)}: {data_label('definition', self.definition)}{segment}{place}{edition}"

    def short_label(self) -> str:
        """A one-line name for a chart axis: source, place and slice (the definition goes in the hover)."""
        parts = [dataset_label(self.dataset)]
        if self.geography not in ("World", ""):
            parts.append(data_label("geography", self.geography))
        if self.segment != "All":
            parts.append(data_label("segment", self.segment))
        if self.edition:
            parts.append(self.edition)
        return " · ".join(parts)

    def text(self) -> str:
        """The change in words, e.g. '+4.0 pp per year (2017 to 2025)'."""
        sign = "+" if self.per_year >= 0 else ""
        change = f"{sign}{self.per_year:.1f}"
        words = (
            _("{change} pp per year ({start} to {end})")
            if self.per_year_unit == "pp per year"
            else _("{change} % a year (CAGR) ({start} to {end})")
        ).format(change=change, start=self.start_label, end=self.end_label)
        return _("about {change}").format(change=words) if self.approximate else words

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return asdict(self)


_MONTH = re.compile(r"^(\d{4})-(\d{2})")


def _last_per_year(series: pd.DataFrame) -> pd.DataFrame:
    # Two surveys in one year (McKinsey early and later 2024): the files list them in order, keep the later.
    return series.sort_values("year", kind="stable").groupby("year", sort=True).tail(1)


def _when(row: pd.Series) -> tuple[float, str]:
    """When a value was measured, as a fractional year, and as a label: a month where the period gives one."""
    match = _MONTH.match(str(row.get("period", "") or ""))
    if match and int(match.group(1)) == int(row["year"]):
        return int(match.group(1)) + (int(match.group(2)) - 0.5) / 12, f"{match.group(1)}-{match.group(2)}"
    return int(row["year"]) + 0.5, str(int(row["year"]))


def series_changes(rows: pd.DataFrame) -> list[SeriesChange]:
    """The change per year of every series in ``rows`` with at least two measured years.

    Shares (unit ``percent``) change in percentage points per year; other amounts (USD billion,
    models...) by their compound annual growth rate. Forecast rows and ranges at one year are
    left out; a series whose endpoint is a bound (more/less than) is marked approximate.
    """
    if rows.empty:
        return []
    measured = rows.loc[~rows["forecast"].astype(bool)] if "forecast" in rows.columns else rows
    changes: list[SeriesChange] = []
    measured = measured.assign(**{k: measured[k].fillna("") if k in measured.columns else "" for k in SERIES_KEYS})
    for key, series in measured.groupby(list(SERIES_KEYS), sort=False):
        # A range at one year (low and high end, same period) is not a trend point.
        series = series.loc[~series.duplicated(["year", "period"], keep=False)]
        if series["unit"].nunique() != 1 or series["year"].nunique() < 2:
            continue
        points = _last_per_year(series)
        first, last = points.iloc[0], points.iloc[-1]
        (start, start_label), (end, end_label) = _when(first), _when(last)
        years = end - start
        unit = str(first["unit"])
        if unit == "percent":
            per_year, per_unit = (last["value"] - first["value"]) / years, "pp per year"
        elif first["value"] > 0 and last["value"] > 0 and unit.split(" ")[0] in MONEY_CURRENCIES:
            per_year, per_unit = ((last["value"] / first["value"]) ** (1 / years) - 1) * 100, "CAGR %"
        else:
            continue
        approximate = bool({first.get("qualifier", ""), last.get("qualifier", "")} & set(_BOUNDS + ("about", "nearly")))
        dataset, metric, definition, _version, edition, geography, segment = (str(k) for k in key)
        changes.append(
            SeriesChange(
                dataset,
                metric,
                definition,
                geography,
                segment,
                unit,
                int(first["year"]),
                float(first["value"]),
                int(last["year"]),
                float(last["value"]),
                start_label,
                end_label,
                float(per_year),
                per_unit,
                approximate,
                tuple(str(i) for i in series.get("row_id", pd.Series(dtype=str))),
                edition,
                measure_group(first),
            )
        )
    return changes


def changes_table(changes: list[SeriesChange]) -> pd.DataFrame:
    """The changes as a plain table for the page (text cells; nothing is rendered as markdown).
    Column keys are stable English, marked: a page shows them with ``rename(columns=_)``."""
    columns = [N_("series"), N_("from"), N_("to"), N_("change")]
    return pd.DataFrame(
        [
            dict(
                zip(
                    columns,
                    (
                        change.label(),
                        f"{change.start_label}: {change.start_value:g}",
                        f"{change.end_label}: {change.end_value:g}",
                        change.text(),
                    ),
                    strict=True,
                )
            )
            for change in changes
        ],
        columns=columns,
    )
