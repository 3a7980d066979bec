"""Batch mode over an uploaded table: pick a text column, run a task, add result columns.

Rows whose text is empty or too long are kept in the output with a note instead of being dropped,
so a user's table never silently loses rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from backend.errors import InvalidInputError
from backend.i18n import N_, _
from backend.inference.footer import RunFooter

NOTE_COLUMN = "note"
MAX_BATCH_ROWS = 5_000
# The columns a batch run adds, by their stable keys (in stored runs and code), with the headers people
# read on the page and in the CSV they download. The uploaded table's own columns keep their names.
RESULT_HEADERS: dict[str, str] = {
    "file": N_("file"),  # an image batch's one input column: the name of each uploaded image
    "label": N_("label"),
    "score": N_("score"),
    "truncated": N_("truncated"),
    "width": N_("width"),
    "height": N_("height"),
    "translation": N_("translation"),
    "sentences": N_("sentences"),
    "reply": N_("reply"),
    "new_tokens": N_("new tokens"),
    NOTE_COLUMN: N_("note"),
}
# Where the uploaded table already had a column of that name, the result's key says so.
_CLASHING_RESULT = " (result)"


@dataclass(frozen=True)
class TextColumn:
    """The usable texts of one column: ``texts[i]`` came from row ``rows[i]``."""

    texts: list[str]
    rows: list[int]
    notes: dict[int, str] = field(default_factory=dict)


@dataclass
class TableRun:
    """A batch run: the input table with result columns added, and what it cost."""

    table: pd.DataFrame
    footer: RunFooter
    skipped: int

    def to_dict(self) -> dict[str, object]:
        """JSON-able form (rows as records)."""
        return {
            "rows": self.table.to_dict(orient="records"),
            "footer": self.footer.to_dict(),
            "skipped": self.skipped,
        }


def read_text_column(frame: pd.DataFrame, column: str, max_chars: int, max_rows: int = MAX_BATCH_ROWS) -> TextColumn:
    """Take the texts of ``column``, noting empty and over-long rows instead of failing.

    Args:
        frame: the uploaded table.
        column: the column holding the texts.
        max_chars: longest text processed; longer ones are noted and skipped.
        max_rows: most rows one batch run takes (one worker job; it should end in minutes).

    Raises:
        InvalidInputError: the column is missing, the table is too long, or no row has text.
    """
    if column not in frame.columns:
        raise InvalidInputError(
            _("The table has no column {column!r}.").format(column=column),
            _("Columns: {value}.").format(value=", ".join(map(str, frame.columns))),
        )
    if len(frame) > max_rows:
        raise InvalidInputError(
            _("The table has {frame:,} rows; batch mode here takes up to {max_rows:,}.").format(
                frame=len(frame), max_rows=max_rows
            ),
            _("Upload a sample."),
        )
    texts: list[str] = []
    rows: list[int] = []
    notes: dict[int, str] = {}
    for position, value in enumerate(frame[column].tolist()):
        text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value).strip()
        if not text:
            notes[position] = _("empty text: skipped")
        elif len(text) > max_chars:
            notes[position] = _("{chars:,} characters, over the {limit:,} limit: skipped").format(
                chars=len(text), limit=max_chars
            )
        else:
            texts.append(text)
            rows.append(position)
    if not texts:
        raise InvalidInputError(
            _("Column {column!r} has no text to process.").format(column=column),
            _("Pick the column that holds the text."),
        )
    return TextColumn(texts=texts, rows=rows, notes=notes)


def result_header(column: str) -> str:
    """A result column's header in the current language; any other column's name as it is."""
    key, clash = (column.removesuffix(_CLASHING_RESULT), True) if column.endswith(_CLASHING_RESULT) else (column, False)
    if key not in RESULT_HEADERS:
        return column
    header = _(RESULT_HEADERS[key])
    return _("{header} (result)").format(header=header) if clash else header


def shown_table(table: pd.DataFrame) -> pd.DataFrame:
    """A run's table as the page shows it and its CSV gives it: result columns headed in the reader's
    language, in the same order, the cells untouched (labels, scores and notes as the run made them)."""
    # A name the run added again with " (result)" is the uploaded table's own column.
    uploaded = {column.removesuffix(_CLASHING_RESULT) for column in table.columns if column.endswith(_CLASHING_RESULT)}
    return table.rename(columns={column: result_header(column) for column in table.columns if column not in uploaded})


def with_results(frame: pd.DataFrame, column: TextColumn, results: dict[str, list[object]]) -> pd.DataFrame:
    """A copy of ``frame`` with one new column per entry of ``results`` and a note column.

    ``results[name][i]`` belongs to row ``column.rows[i]``; skipped rows get empty cells.
    """
    output = frame.reset_index(drop=True).copy()
    for name, values in results.items():
        cells: list[object] = [None] * len(output)
        for row, value in zip(column.rows, values, strict=True):
            cells[row] = value
        output[name if name not in frame.columns else f"{name}{_CLASHING_RESULT}"] = cells
    output[NOTE_COLUMN if NOTE_COLUMN not in frame.columns else f"{NOTE_COLUMN}{_CLASHING_RESULT}"] = [
        column.notes.get(row, "") for row in range(len(output))
    ]
    return output
