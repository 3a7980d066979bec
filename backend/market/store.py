"""Loading the shipped market tables, filtering them, and listing the sources behind any rows."""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from backend.errors import InvalidInputError
from backend.i18n import _
from backend.market.schema import SCHEMA_COLUMNS, ValidationResult, empty_table, validate_table

MARKET_DIR = Path(__file__).resolve().parents[2] / "data" / "market"


def read_market_file(path: Path) -> ValidationResult:
    """Read one shipped CSV as text (no type guessing) and validate it.

    Args:
        path: a ``data/market/*.csv`` file.
    """
    text = path.read_text(encoding="utf-8")
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    return validate_table(frame, require_url=True)


def load_market_data(folder: Path | None = None) -> pd.DataFrame:
    """All shipped market rows, validated and typed, in one table.

    Args:
        folder: where the CSVs live; defaults to ``data/market``.

    Raises:
        InvalidInputError: a shipped file has a bad row (a defect to fix in the data, so it is loud).
    """
    folder = folder or MARKET_DIR
    frames: list[pd.DataFrame] = []
    for path in sorted(folder.glob("*.csv")):
        result = read_market_file(path)
        if not result.ok:
            first = "; ".join(issue.text() for issue in result.issues[:3])
            raise InvalidInputError(
                _("{name} has {issues} invalid row(s): {first}").format(
                    name=path.name, issues=len(result.issues), first=first
                )
            )
        # A stable id per shipped row (file stem and CSV line), so a test can prove every row is shown.
        rows = result.rows.assign(row_id=[f"{path.stem}:{line}" for line in range(2, len(result.rows) + 2)])
        frames.append(rows)
    if not frames:
        return empty_table()
    combined = pd.concat(frames, ignore_index=True)
    extras = [column for column in combined.columns if column not in SCHEMA_COLUMNS]
    combined[extras] = combined[extras].fillna("")
    return combined


@dataclass(frozen=True)
class MarketFilter:
    """What the user chose to see; an empty tuple means "everything"."""

    datasets: tuple[str, ...] = ()
    geographies: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    year_range: tuple[int, int] | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return asdict(self)


@dataclass(frozen=True)
class FilterOptions:
    """The choices a filter offers for a table."""

    datasets: tuple[str, ...]
    geographies: tuple[str, ...]
    segments: tuple[str, ...]
    year_min: int
    year_max: int

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return asdict(self)


def filter_options(frame: pd.DataFrame) -> FilterOptions:
    """Distinct datasets, geographies and segments (models left out: they are not a market slice)."""
    if frame.empty:
        return FilterOptions((), (), (), 0, 0)
    segments = frame.loc[frame["segment_type"] != "model", "segment"]
    return FilterOptions(
        datasets=tuple(sorted(frame["dataset"].unique())),
        geographies=tuple(sorted(frame["geography"].unique())),
        segments=tuple(sorted(segments.unique(), key=lambda s: (s != "All", s))),
        year_min=int(frame["year"].min()),
        year_max=int(frame["year"].max()),
    )


def filter_rows(frame: pd.DataFrame, choice: MarketFilter) -> pd.DataFrame:
    """Rows matching every chosen dimension (an empty choice does not filter).

    A segment choice keeps model rows (their segment is a model name, which the segment filter
    does not offer), so picking "Large" does not silently empty the model-scale chart.
    """
    mask = pd.Series(True, index=frame.index)
    if choice.datasets:
        mask &= frame["dataset"].isin(choice.datasets)
    if choice.geographies:
        mask &= frame["geography"].isin(choice.geographies)
    if choice.segments:
        mask &= frame["segment"].isin(choice.segments) | (frame["segment_type"] == "model")
    if choice.year_range is not None:
        low, high = choice.year_range
        mask &= frame["year"].between(low, high)
    return frame.loc[mask].reset_index(drop=True)


@dataclass(frozen=True)
class Source:
    """One cited page behind a chart."""

    org: str
    title: str
    url: str
    verification: str
    rows: int
    caveats: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return asdict(self)


def sources_of(rows: pd.DataFrame) -> list[Source]:
    """The distinct sources of the given rows, primary first, with how many rows each backs."""
    if rows.empty:
        return []
    keys = ["source_org", "source_title", "source_url", "verification"]
    table = rows.fillna({"source_url": ""})
    if "note" not in table.columns:
        table = table.assign(note="")
    sources = []
    for key, group in table.groupby(keys, sort=False):
        org, title, url, verification = (str(part) for part in key)
        notes = [str(n).strip() for n in group["note"].fillna("") if str(n).strip()]
        caveats = tuple(dict.fromkeys(notes))
        sources.append(Source(org, title, url, verification, len(group), caveats))
    return sorted(sources, key=lambda s: (s.verification != "primary", s.org, s.title))
