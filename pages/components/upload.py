"""The one way pages take a file from the user: size checked before reading, parsed once, errors shown.

Every table upload (demo batch tabs, training and validation tables, market tables) and the image
zip of training go through here, so they accept the same suffixes, refuse an oversized file from
its declared size before reading it, parse a given content once (cached by its SHA-256) and show
a refused file's reason the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from backend import uploads
from backend.errors import InvalidInputError
from backend.i18n import _
from pages.components.errors import show_error

# Enough for a page's training and validation tables plus a few demo tables; each entry is a
# parsed table of at most MAX_TABLE_BYTES.
_CACHED_TABLES = 8


@dataclass(frozen=True)
class UploadedBytes:
    """An accepted upload: its name, bytes and their SHA-256 (identifies the content across reruns)."""

    name: str
    data: bytes
    digest: str


@dataclass(frozen=True)
class UploadedTable:
    """A parsed table upload: file name, table and the SHA-256 of the bytes it was read from."""

    name: str
    frame: pd.DataFrame
    digest: str


def _describe(suffixes: Sequence[str], limit: int) -> str:
    kinds = ", ".join(suffix.lstrip(".").upper() for suffix in suffixes)
    return _("{kinds}; up to {size:,.0f} MB.").format(kinds=kinds, size=limit / 2**20)


def show_file_upload(
    key: str,
    label: str,
    suffixes: Sequence[str],
    limit: int,
    help: str | None = None,  # noqa: A002 - Streamlit's name for the tooltip
    empty_message: str | None = None,
) -> UploadedBytes | None:
    """A file uploader whose file is refused (with a message) when over ``limit``, before reading.

    Args:
        key: the uploader's widget key, e.g. ``finetune.zip``.
        label: the uploader's label.
        suffixes: accepted suffixes with their dot, e.g. ``uploads.TABLE_SUFFIXES``.
        limit: most bytes accepted.
        help: the tooltip; the accepted kinds and the size limit are appended.
        empty_message: shown as an info while nothing is uploaded.

    Returns:
        The accepted file, or None while nothing is uploaded or after showing why it was refused.
    """
    upload = st.file_uploader(
        label,
        type=[suffix.lstrip(".") for suffix in suffixes],
        key=key,
        help=" ".join(part for part in (help, _describe(suffixes, limit)) if part),
        # The browser refuses a larger file before sending it; the server's upload budget
        # (pages/components/upload_budget.py) bounds what a client that skips this check can send.
        max_upload_size=uploads.upload_limit_mb(limit),
    )
    if upload is None:
        if empty_message:
            st.info(empty_message, icon=":material/upload_file:")
        return None
    try:
        data = uploads.read_upload(upload, limit)
    except InvalidInputError as error:
        show_error(error)
        return None
    return UploadedBytes(upload.name, data, _digest(key, upload.file_id, data))


def _digest(key: str, file_id: str, data: bytes) -> str:
    # Every widget change reruns the page; hash a 100 MB zip once per upload, not once per rerun.
    remembered = st.session_state.get(f"{key}.sha256")
    if remembered is not None and remembered[0] == file_id:
        return remembered[1]
    digest = hashlib.sha256(data).hexdigest()
    st.session_state[f"{key}.sha256"] = (file_id, digest)
    return digest


@st.cache_data(show_spinner=False, max_entries=_CACHED_TABLES)
def _read_table(name: str, digest: str, _data: bytes) -> pd.DataFrame:
    # Keyed by name (its suffix picks the format) and content hash; the bytes are not hashed again.
    return uploads.read_table(name, _data)


def show_table_upload(
    key: str,
    label: str,
    help: str | None = None,  # noqa: A002 - Streamlit's name for the tooltip
    empty_message: str | None = None,
) -> UploadedTable | None:
    """A table uploader (CSV, TSV, TXT, JSONL, JSON, XLSX) whose file is parsed once per content.

    Args:
        key: the uploader's widget key, e.g. ``sentiment.batch_file``.
        label: the uploader's label.
        help: the tooltip; the accepted kinds and the size limit are appended.
        empty_message: shown as an info while nothing is uploaded.

    Returns:
        The parsed table, or None while nothing is uploaded or after showing why it was refused
        (too large, wrong encoding, broken rows...).
    """
    upload = show_file_upload(key, label, uploads.TABLE_SUFFIXES, uploads.MAX_TABLE_BYTES, help, empty_message)
    if upload is None:
        return None
    try:
        frame = _read_table(upload.name, upload.digest, upload.data)
    except InvalidInputError as error:
        show_error(error)
        return None
    return UploadedTable(upload.name, frame, upload.digest)
