"""Which column of an uploaded table holds the texts, the labels or the image file names.

One vocabulary for the whole app: the demos' batch tables, text training tables and the CSV
inside an image zip all guess with these functions, so a column named ``review`` or ``标签`` is
recognised everywhere or nowhere. A guess is only a default for a widget the user can change.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from backend.errors import InvalidInputError
from backend.i18n import _

# Lower-case column names, most likely first.
TEXT_COLUMN_NAMES = (
    "text",
    "review",
    "sentence",
    "content",
    "comment",
    "prompt",
    "question",
    "文本",
    "内容",
    "评论",
)
LABEL_COLUMN_NAMES = ("label", "labels", "class", "category", "target", "sentiment", "标签", "类别")
FILE_COLUMN_NAMES = ("file", "filename", "file_name", "image", "image_path", "path", "文件", "图片")


def _named(columns: Iterable[str], names: tuple[str, ...], exclude: str | None = None) -> str | None:
    lowered: dict[str, str] = {}
    for column in columns:
        if column != exclude:
            lowered.setdefault(column.lower(), column)
    return next((lowered[name] for name in names if name in lowered), None)


def guess_label_column(frame: pd.DataFrame, text_column: str | None = None) -> str:
    """The column most likely to hold class labels (never ``text_column`` when another exists).

    A known name wins (``label``, ``category``, ``标签``…); otherwise the column with the fewest
    distinct values, since classes repeat.
    """
    columns = [str(c) for c in frame.columns]
    named = _named(columns, LABEL_COLUMN_NAMES, exclude=text_column)
    if named is not None:
        return named
    others = [c for c in columns if c != text_column]
    if not others:
        return columns[-1]
    return min(others, key=lambda c: frame[c].nunique())


def guess_text_column(frame: pd.DataFrame) -> str:
    """The column most likely to hold free text.

    A known name wins (``text``, ``review``, ``文本``…); otherwise the column with the longest
    values on average, leaving out a column whose name says it holds labels.
    """
    columns = [str(c) for c in frame.columns]
    named = _named(columns, TEXT_COLUMN_NAMES)
    if named is not None:
        return named
    label = _named(columns, LABEL_COLUMN_NAMES)
    lengths = {c: frame[c].astype(str).str.len().mean() for c in columns if c != label}
    return max(lengths, key=lambda c: lengths[c]) if lengths else columns[0]


def guess_file_column(frame: pd.DataFrame) -> str:
    """The column most likely to hold image file names: a known name, else the first column."""
    columns = [str(c) for c in frame.columns]
    return _named(columns, FILE_COLUMN_NAMES) or columns[0]


def paired_values(frame: pd.DataFrame, first: str, second: str, names: tuple[str, str]) -> tuple[list[str], list[str]]:
    """The rows of two picked columns as text (a text and its label, a source and its reference),
    leaving out rows where either is missing or the first is blank.

    Args:
        frame: the uploaded table.
        first: the column read first (texts, sources).
        second: the column read second (labels, references).
        names: what the two columns are called on the page, for the message.

    Raises:
        InvalidInputError: both pickers name the same column (its values would be scored against
            themselves).
    """
    if first == second:
        raise InvalidInputError(
            _("{first} and {second} are both {column}.").format(first=names[0], second=names[1], column=first),
            _("Pick two different columns."),
        )
    kept = frame[[first, second]].dropna()
    kept = kept[kept[first].astype(str).str.strip() != ""]
    return kept[first].astype(str).tolist(), kept[second].astype(str).tolist()
