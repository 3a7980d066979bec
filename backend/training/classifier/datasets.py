"""Labelled data for training: column mapping, label casting, checks, stratified split.

Every problem is found before a job is queued and reported with the rows or files concerned, so
nothing fails an hour into training with ``KeyError: 'text'``. The prepared data is written into
the run folder (``data/dataset.json``) because the worker is another process.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from backend.i18n import _, ngettext
from backend.training.classifier.params import PARAM_RANGES
from backend.training.common import StoredDataset, raise_if_errors

DATASET_FILE = "dataset.json"
# A class needs a few examples in training and at least one held out for validation.
MIN_EXAMPLES_PER_CLASS = 5
FEW_EXAMPLES_WARNING = 20
MAX_CLASSES = 200
MAX_TEXT_CHARS = 20_000
_ROWS_SHOWN = 8


@dataclass(frozen=True)
class TextLabelColumns:
    """Which columns of an uploaded table hold the texts and the labels, and what to do with gaps.

    Attributes:
        text: the column holding texts (surrounding spaces ignored).
        label: the column holding labels of any type; each distinct value is a class.
        drop_incomplete: drop rows with an empty text or label instead of refusing the file.
    """

    text: str
    label: str
    drop_incomplete: bool = False


@dataclass
class Examples:
    """Inputs (texts, or image paths relative to the data folder) with class indices."""

    inputs: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.inputs)

    def subset(self, indices: list[int] | np.ndarray) -> Examples:
        """The examples at ``indices``, in that order."""
        return Examples([self.inputs[i] for i in indices], [self.labels[i] for i in indices])


@dataclass
class PreparedDataset(StoredDataset):
    """Checked, split data ready for training."""

    file_name = DATASET_FILE

    task: str
    classes: list[str]
    train: Examples
    validation: Examples
    warnings: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    data_dir: str = ""

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> PreparedDataset:
        """The dataset from its JSON fields, the two splits rebuilt as ``Examples``."""
        return cls(**{**data, "train": Examples(**data["train"]), "validation": Examples(**data["validation"])})


def label_text(value: object) -> str:
    """A label of any type as class text: 1.0 -> "1", True -> "true", " pos " -> "pos"; "" if missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _row_list(positions: list[int]) -> str:
    # Row numbers as a spreadsheet shows them: the header is row 1.
    shown = ", ".join(str(p + 2) for p in positions[:_ROWS_SHOWN])
    if len(positions) <= _ROWS_SHOWN:
        return shown
    return _("{shown} and {count} more").format(shown=shown, count=len(positions) - _ROWS_SHOWN)


def check_classes(labels: list[str], errors: list[str], warnings: list[str]) -> None:
    """Append problems with the class distribution to ``errors`` / ``warnings``."""
    counts = Counter(labels)
    if len(counts) < 2:
        only = next(iter(counts), "")
        errors.append(
            _(
                "Only one class ({only}) in the label column: a classifier needs at least 2 classes. "
                "Check that you mapped the right column."
            ).format(only=repr(only))
        )
        return
    if len(counts) > MAX_CLASSES or (len(counts) > 20 and len(counts) > len(labels) / 2):
        errors.append(
            _(
                "The label column has {values:,} different values for {rows:,} rows: it looks like free text "
                "or ids, not classes. Map the column that holds the class of each row."
            ).format(values=len(counts), rows=len(labels))
        )
        return
    rare = sorted((label, n) for label, n in counts.items() if n < MIN_EXAMPLES_PER_CLASS)
    if rare:
        listed = ", ".join(f"{label!r} ({n})" for label, n in rare[:_ROWS_SHOWN])
        errors.append(
            ngettext(
                "{count} class has fewer than {minimum} examples: {listed}. Add examples, merge it with "
                "another class, or remove its rows.",
                "{count} classes have fewer than {minimum} examples: {listed}. Add examples, merge these "
                "classes, or remove their rows.",
                len(rare),
            ).format(count=len(rare), minimum=MIN_EXAMPLES_PER_CLASS, listed=listed)
        )
    few = sorted(label for label, n in counts.items() if MIN_EXAMPLES_PER_CLASS <= n < FEW_EXAMPLES_WARNING)
    if few:
        warnings.append(
            ngettext(
                "{count} class has fewer than {minimum} examples ({listed}); expect noisy results for it.",
                "{count} classes have fewer than {minimum} examples ({listed}); expect noisy results for them.",
                len(few),
            ).format(count=len(few), minimum=FEW_EXAMPLES_WARNING, listed=", ".join(few[:_ROWS_SHOWN]))
        )
    largest, smallest = max(counts.values()), min(counts.values())
    if smallest and largest / smallest >= 10:
        warnings.append(
            _(
                "Classes are imbalanced ({largest} vs {smallest} examples); look at per-class recall, not only "
                "accuracy."
            ).format(largest=largest, smallest=smallest)
        )


def stratified_split(labels: list[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (train, validation) with every class represented in both in its share."""
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(label, []).append(index)
    train: list[int] = []
    validation: list[int] = []
    for members in by_class.values():
        shuffled = rng.permutation(members).tolist()
        held_out = min(len(shuffled) - 1, max(1, round(len(shuffled) * fraction)))
        validation.extend(shuffled[:held_out])
        train.extend(shuffled[held_out:])
    return sorted(train), sorted(validation)


def _read_mapped_rows(
    frame: pd.DataFrame, mapping: TextLabelColumns, errors: list[str], warnings: list[str], what: str
) -> tuple[list[str], list[str]]:
    text_column, label_column = mapping.text.strip(), mapping.label.strip()
    missing_columns = [c for c in (text_column, label_column) if c not in frame.columns]
    if missing_columns:
        available = ", ".join(repr(str(c)) for c in frame.columns)
        errors.append(
            _("{what} has no column {column}; its columns are {available}.").format(
                what=what, column=repr(missing_columns[0]), available=available
            )
        )
        return [], []
    if text_column == label_column:
        errors.append(_("The text column and the label column must be different columns."))
        return [], []
    texts, labels, incomplete = [], [], []
    for position, (text_value, label_value) in enumerate(zip(frame[text_column], frame[label_column], strict=True)):
        text = (
            "" if text_value is None or (isinstance(text_value, float) and math.isnan(text_value)) else str(text_value)
        )
        text = text.replace("\x00", "").strip()
        label = label_text(label_value)
        if not text or not label:
            incomplete.append(position)
            continue
        texts.append(text)
        labels.append(label)
    if incomplete:
        if mapping.drop_incomplete:
            warnings.append(
                ngettext(
                    "Dropped {count} row of {what} with an empty text or label (row {rows}).",
                    "Dropped {count} rows of {what} with an empty text or label (rows {rows}).",
                    len(incomplete),
                ).format(count=len(incomplete), what=what, rows=_row_list(incomplete))
            )
        else:
            errors.append(
                ngettext(
                    "{count} row of {what} has an empty or missing text or label (row {rows}). Fill it in, "
                    "or choose to drop incomplete rows.",
                    "{count} rows of {what} have an empty or missing text or label (rows {rows}). Fill them "
                    "in, or choose to drop incomplete rows.",
                    len(incomplete),
                ).format(count=len(incomplete), what=what, rows=_row_list(incomplete))
            )
    too_long = [i for i, t in enumerate(texts) if len(t) > MAX_TEXT_CHARS]
    if too_long:
        errors.append(
            ngettext(
                "{count} text in {what} is longer than {limit:,} characters; split or shorten it.",
                "{count} texts in {what} are longer than {limit:,} characters; split or shorten them.",
                len(too_long),
            ).format(count=len(too_long), what=what, limit=MAX_TEXT_CHARS)
        )
    return texts, labels


def _drop_duplicates(
    texts: list[str], labels: list[str], errors: list[str], warnings: list[str]
) -> tuple[list[str], list[str]]:
    seen: dict[str, str] = {}
    conflicts: set[str] = set()
    kept_texts, kept_labels, repeats = [], [], 0
    for text, label in zip(texts, labels, strict=True):
        if text in seen:
            if seen[text] != label:
                conflicts.add(text)
            repeats += 1
            continue
        seen[text] = label
        kept_texts.append(text)
        kept_labels.append(label)
    if conflicts:
        sample = "; ".join(repr(t[:60]) for t in sorted(conflicts)[:3])
        errors.append(
            ngettext(
                "{count} text appears with different labels ({sample}). Give each text one label.",
                "{count} texts appear with different labels (e.g. {sample}). Give each text one label.",
                len(conflicts),
            ).format(count=len(conflicts), sample=sample)
        )
    elif repeats:
        warnings.append(
            ngettext(
                "Removed {count} duplicate row so it cannot sit in both training and validation.",
                "Removed {count} duplicate rows so they cannot sit in both training and validation.",
                repeats,
            ).format(count=repeats)
        )
    return kept_texts, kept_labels


def _length_warnings(texts: list[str], max_length: int, warnings: list[str]) -> None:
    # About 4 characters per token for English; Chinese is closer to 1, so this under-warns there.
    limit_chars = max_length * 4
    longer = sum(len(t) > limit_chars for t in texts)
    if longer > len(texts) / 4:
        warnings.append(
            _(
                "{longer} of {total} texts are likely longer than {max_length} tokens and will be cut; raise "
                "max length if their ends matter."
            ).format(longer=longer, total=len(texts), max_length=max_length)
        )


def _read_validation(
    frame: pd.DataFrame, mapping: TextLabelColumns, index: dict[str, int], train_texts: set[str], warnings: list[str]
) -> Examples:
    """The uploaded validation table's examples; every label must be a training class."""
    errors: list[str] = []
    texts, labels = _read_mapped_rows(frame, mapping, errors, warnings, _("the validation file"))
    unknown = sorted(set(labels) - set(index))
    if unknown:
        errors.append(
            _("The validation file has labels not in the training file: {labels}.").format(
                labels=", ".join(map(repr, unknown[:8]))
            )
        )
    raise_if_errors(errors)
    overlap = len(set(texts) & train_texts)
    if overlap:
        warnings.append(
            ngettext(
                "{count} validation text also appears in the training file; scores will look better than they are.",
                "{count} validation texts also appear in the training file; scores will look better than they are.",
                overlap,
            ).format(count=overlap)
        )
    return Examples(texts, [index[label] for label in labels])


def prepare_text_dataset(
    frame: pd.DataFrame,
    mapping: TextLabelColumns,
    validation_frame: pd.DataFrame | None = None,
    validation_fraction: float = PARAM_RANGES["validation_fraction"].default,
    seed: int = PARAM_RANGES["seed"].default,
    max_length: int = PARAM_RANGES["max_length"].default,
) -> PreparedDataset:
    """Map, cast, check and split an uploaded table for text classification.

    Args:
        frame: the training table (from ``backend.uploads.read_table``).
        mapping: the text and label columns, and whether rows missing either are dropped.
        validation_frame: an uploaded validation table with the same columns; when None, a
            stratified ``validation_fraction`` of ``frame`` is held out.
        validation_fraction: held-out share when no validation table is given.
        seed: random seed of the split.
        max_length: the token limit, used to warn about truncation.

    Raises:
        InvalidInputError: listing every problem found (missing columns or values, one class,
            rare classes, conflicting duplicates, unknown validation labels).
    """
    errors: list[str] = []
    warnings: list[str] = []
    texts, labels = _read_mapped_rows(frame, mapping, errors, warnings, _("the file"))
    raise_if_errors(errors)
    texts, labels = _drop_duplicates(texts, labels, errors, warnings)
    check_classes(labels, errors, warnings)
    raise_if_errors(errors)
    classes = sorted(set(labels))
    index = {label: i for i, label in enumerate(classes)}
    examples = Examples(texts, [index[label] for label in labels])
    if validation_frame is None:
        train_idx, validation_idx = stratified_split(examples.labels, validation_fraction, seed)
        train, validation = examples.subset(train_idx), examples.subset(validation_idx)
    else:
        train, validation = examples, _read_validation(validation_frame, mapping, index, set(texts), warnings)
    _length_warnings(texts, max_length, warnings)
    counts = Counter(labels)
    summary = {
        "rows": int(len(frame)),
        "used_rows": len(texts),
        "classes": {label: counts[label] for label in classes},
        "train_size": len(train),
        "validation_size": len(validation),
        # In the words of whoever checks the data (the page, and the model card in the job's language).
        "validation_source": _("uploaded file")
        if validation_frame is not None
        else _("{share:.0%} stratified split").format(share=validation_fraction),
        "mean_text_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "text_column": mapping.text.strip(),
        "label_column": mapping.label.strip(),
    }
    return PreparedDataset("text", classes, train, validation, warnings, summary)
