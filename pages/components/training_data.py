"""Training data on the new-job screen: the uploads, the column mapping, and the checked dataset.

*Check data* prepares a table or an image zip once and keeps the result in the session under
what it was made from (upload hashes, mapping, split settings). *Start training* submits that
very dataset, or checks again when anything it was made from has changed since, so stale data
is never queued.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from backend import uploads
from backend.columns import guess_label_column, guess_text_column
from backend.i18n import _
from backend.training.classifier import datasets, staging
from backend.training.classifier.datasets import PreparedDataset, TextLabelColumns
from backend.training.classifier.params import IMAGE, TEXT, TrainingParams
from pages.components import checked_data, upload
from pages.components.upload import UploadedBytes, UploadedTable

_PREVIEW_ROWS = 20


@dataclass(frozen=True)
class TextData:
    """A training table, its optional validation table, and how their columns map."""

    table: UploadedTable
    validation: UploadedTable | None
    mapping: TextLabelColumns


def show_column_mapping(table: UploadedTable, key: str) -> TextLabelColumns:
    """Text and label column pickers (guessed by default) and the drop-incomplete-rows choice."""
    frame = table.frame
    columns = [str(c) for c in frame.columns]
    text = guess_text_column(frame)
    label = guess_label_column(frame, text)
    left, right = st.columns(2)
    text_column = left.selectbox(_("Text column"), columns, index=columns.index(text), key=f"{key}.text_column")
    label_column = right.selectbox(_("Label column"), columns, index=columns.index(label), key=f"{key}.label_column")
    drop_incomplete = st.checkbox(_("Drop rows with an empty text or label"), key=f"{key}.drop_incomplete")
    return TextLabelColumns(str(text_column), str(label_column), bool(drop_incomplete))


def show_text_data(key: str) -> TextData | None:
    """The training and validation table uploads, a preview and the column mapping.

    Returns:
        The data, or None while the training table is missing or either table was refused.
    """
    table = upload.show_table_upload(
        f"{key}.table",
        _("Training table"),
        help=_("One row per example: a text column and a label column. Labels can be words or numbers."),
    )
    validation = upload.show_table_upload(
        f"{key}.validation_table",
        _("Validation table (optional)"),
        help=_("Same columns. Without it, a stratified share of the training table is held out."),
    )
    validation_refused = validation is None and st.session_state.get(f"{key}.validation_table") is not None
    if table is None or validation_refused:
        return None
    st.dataframe(table.frame.head(_PREVIEW_ROWS), hide_index=True, height=220)
    st.caption(
        _("{frame:,} rows · first {PREVIEW_ROWS} shown").format(frame=len(table.frame), PREVIEW_ROWS=_PREVIEW_ROWS)
    )
    return TextData(table, validation, show_column_mapping(table, key))


def show_image_zip(key: str) -> UploadedBytes | None:
    """The image zip upload: size checked before reading; None while missing or refused."""
    return upload.show_file_upload(
        f"{key}.zip",
        _("Images (zip)"),
        uploads.ZIP_SUFFIXES,
        uploads.MAX_ZIP_BYTES,
        help=_(
            "One folder per class (cat/1.jpg, dog/2.png…), or any layout plus a CSV with file name and label columns."
        ),
    )


def _made_from(data: TextData | UploadedBytes, params: TrainingParams) -> tuple[object, ...]:
    # Everything the prepared dataset depends on; a file name counts because its suffix picks the format.
    if isinstance(data, UploadedBytes):
        return (IMAGE, data.name, data.digest, params.validation_fraction, params.seed)
    validation = (data.validation.name, data.validation.digest) if data.validation else None
    split = (params.validation_fraction, params.seed, params.max_length)
    return (TEXT, data.table.name, data.table.digest, validation, data.mapping, split)


def check_data(data: TextData | UploadedBytes, params: TrainingParams, key: str) -> PreparedDataset:
    """Check and split a table or an image zip (raises InvalidInputError); remembered for Start."""
    previous = checked_data.forget(key)
    if previous is not None:
        staging.discard_staged(previous)  # this session's earlier image check, never submitted
    if isinstance(data, UploadedBytes):
        prepared = staging.check_image_data(data.name, data.data, params.validation_fraction, params.seed)
    else:
        prepared = datasets.prepare_text_dataset(
            data.table.frame,
            data.mapping,
            data.validation.frame if data.validation else None,
            params.validation_fraction,
            params.seed,
            params.max_length,
        )
    checked_data.remember(key, _made_from(data, params), prepared)
    return prepared


def checked_dataset(data: TextData | UploadedBytes, params: TrainingParams, key: str) -> PreparedDataset:
    """What *Check data* made from exactly this data and these settings, else a new check.

    Checked images can be submitted once (they are moved into the run), so after that they are
    checked again.
    """
    prepared: PreparedDataset | None = checked_data.recall(key, _made_from(data, params))
    if prepared is not None and (prepared.task == TEXT or staging.is_staged(prepared)):
        return prepared
    return check_data(data, params, key)
