"""The shape of an uploaded table, checked before a parser builds it.

A 200,000-key JSON line or a workbook whose only cell sits at XFD1048576 is a few kilobytes, yet
pandas or openpyxl would spend minutes and gigabytes building it. The checks here read as little as
they can: the header line of a CSV, the first JSON object, an XLSX's zip directory, its
``<dimension>`` element and then its rows by streaming, and they refuse in words naming the limit
and what was found.

JSON and JSONL are parsed here once, record by record, and the records returned are what tables,
chat and preference uploads are built from: one set of refusals, naming the same line numbers.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

from backend.errors import InvalidInputError
from backend.i18n import _

# Training and market tables have a handful of columns; a thousand leaves room for wide exports.
MAX_TABLE_COLUMNS = 1_000
# 200,000 rows of 10 columns: about what fits in Community Cloud's memory as Python strings.
MAX_TABLE_CELLS = 2_000_000
# An .xlsx is a zip of XML parts; an ordinary one has a few dozen.
MAX_XLSX_ENTRIES = 1_000
# openpyxl reads the whole shared-strings part into memory, even in read-only mode.
MAX_XLSX_SHARED_STRINGS_BYTES = 100 * 2**20
# A sheet part, and all parts together, uncompressed (a 50 MB workbook rarely unpacks past 300 MB).
MAX_XLSX_PART_BYTES = 500 * 2**20
# Styles, theme and workbook parts are read whole; real ones take a few MB at most.
MAX_XLSX_OTHER_XML_BYTES = 20 * 2**20
_SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PACKAGE_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CELL_REF = re.compile(r"([A-Z]{1,3})(\d+)$")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]*)(\d*)(?::([A-Z]+)(\d+))?\"")
_HEAD_BYTES = 4096
_UNHELPFUL = "Upload a table with fewer columns (for training: the text and label columns) or a sample of it."


def _size(count: int) -> str:
    return f"{count / 2**20:,.0f} MB" if count >= 2**20 else f"{count / 2**10:,.0f} KB"


def check_columns(name: str, count: int, where: str = "the header") -> None:
    """Refuse a table wider than :data:`MAX_TABLE_COLUMNS`."""
    if count > MAX_TABLE_COLUMNS:
        raise InvalidInputError(
            _("{name} has {count:,} columns in {where}; the limit is {MAX_TABLE_COLUMNS:,}.").format(
                name=name, count=count, where=where, MAX_TABLE_COLUMNS=MAX_TABLE_COLUMNS
            ),
            _UNHELPFUL,
        )


def check_cells(name: str, rows: int, columns: int) -> None:
    """Refuse a table of more than :data:`MAX_TABLE_CELLS` cells (rows x columns)."""
    if rows * columns > MAX_TABLE_CELLS:
        raise InvalidInputError(
            _(
                "{name} has {rows:,} rows x {columns:,} columns = {rows2:,} cells (or more); the limit is "
                "{MAX_TABLE_CELLS:,} cells."
            ).format(name=name, rows=rows, columns=columns, rows2=rows * columns, MAX_TABLE_CELLS=MAX_TABLE_CELLS),
            _("Upload fewer rows or fewer columns."),
        )


# --- JSON ---------------------------------------------------------------------------------------


def _json_keys(value: object) -> int:
    return len(value) if isinstance(value, dict) else 1


_NUL_ESCAPE = re.compile(r"\\u0000", re.IGNORECASE)


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _refuse_nul(name: str, text: str, record: object, where: str) -> None:
    # A raw NUL byte is refused as a binary file; JSON can smuggle one in as "\u0000", which
    # PostgreSQL cannot store and no text needs. The substring test keeps ordinary lines cheap.
    if _NUL_ESCAPE.search(text) and _holds_nul(record):
        raise InvalidInputError(
            _("{name}: {where} holds a NUL character (\\u0000).").format(name=name, where=where),
            _("Remove it and upload the file again."),
        )


ROW_EXAMPLE = '{"text": "…", "label": "…"}'


def _require_row_object(name: str, record: object, where: str, example: str) -> None:
    # pandas makes a column "0" of bare values, or fails on a mix of objects and lists with a
    # TypeError no user can act on: a row is a JSON object, whatever else the file holds.
    if not isinstance(record, dict):
        excerpt = json.dumps(record, ensure_ascii=False)
        raise InvalidInputError(
            _("{name}: {where} is {excerpt}, not a JSON object.").format(
                name=name, where=where, excerpt=excerpt if len(excerpt) <= 40 else excerpt[:40] + "…"
            ),
            _("Each row must be one object of column names and values, such as {example}.").format(example=example),
        )


def _too_many_rows(name: str, max_rows: int) -> InvalidInputError:
    return InvalidInputError(
        _("{name} has more than {max_rows:,} rows.").format(name=name, max_rows=max_rows), _("Upload a sample.")
    )


def read_jsonl_records(name: str, text: str, max_rows: int, example: str = ROW_EXAMPLE) -> list[dict[str, Any]]:
    """Every JSON line as an object, each checked for width, NULs and the running size as it is read.

    The one reader of JSON lines from an upload: tables and chat or preference data alike get the
    same refusals naming the same line numbers, and the records parsed here are what the caller
    builds from (parsing again with pandas would hold a second copy of the file).

    Args:
        example: a row as the caller expects one, shown when a line is not an object.

    Raises:
        InvalidInputError: a line is not JSON or not an object, holds a NUL, or the table would be
            too wide or too large.
    """
    records: list[dict[str, Any]] = []
    keys: set[str] = set()
    # "\n" only: str.splitlines would also split inside strings holding U+2028.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as error:
            raise InvalidInputError(
                _("{name} could not be read as a table: line {number} is not JSON ({error}).").format(
                    name=name, number=number, error=str(error)[:120]
                )
            ) from error
        if not isinstance(record, dict) or _NUL_ESCAPE.search(line):
            where = _("line {number}").format(number=number)
            _require_row_object(name, record, where, example)
            _refuse_nul(name, line, record, where)
        check_columns(name, _json_keys(record), f"line {number}")
        keys.update(record)
        check_columns(name, len(keys), f"lines 1-{number} together")
        records.append(record)
        check_cells(name, len(records), max(len(keys), 1))
        if len(records) > max_rows:
            raise _too_many_rows(name, max_rows)
    return records


def read_json_document(
    name: str, text: str, max_rows: int, example: str = ROW_EXAMPLE
) -> list[dict[str, Any]] | dict[str, Any]:
    """A JSON table: a list of row objects, or one object of columns, checked for width, NULs and size.

    The first record is decoded alone first, so a very wide one is refused in milliseconds before
    the whole document is parsed.

    Raises:
        InvalidInputError: not JSON, a record that is not an object, a NUL, too wide or too large.
    """
    stripped = text.lstrip()
    if stripped.startswith("["):
        inner = stripped[1:].lstrip()
        if inner.startswith("{"):
            try:
                first, _end = json.JSONDecoder().raw_decode(inner)
            except (ValueError, RecursionError):
                first = None  # the whole document's parse below names the error
            if isinstance(first, dict):
                check_columns(name, len(first), "the first record")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise InvalidInputError(
            _("{name} could not be read as a table: it is not JSON ({error}).").format(
                name=name, error=str(error)[:120] or type(error).__name__
            )
        ) from error
    _refuse_nul(name, text, document, _("the file"))
    if isinstance(document, list):
        keys: set[str] = set()
        for index, record in enumerate(document, start=1):
            _require_row_object(name, record, _("record {index}").format(index=index), example)
            keys.update(record)
            check_columns(name, len(keys), f"records 1-{index} together")
        check_cells(name, len(document), max(len(keys), 1))
        if len(document) > max_rows:
            raise _too_many_rows(name, max_rows)
        return document
    if not isinstance(document, dict):
        _require_row_object(name, document, _("the whole file"), example)
    check_columns(name, len(document), "the top-level object")
    rows = max((len(v) for v in document.values() if isinstance(v, (dict, list))), default=1)
    check_cells(name, rows, len(document))
    if rows > max_rows:
        raise _too_many_rows(name, max_rows)
    return document


# --- XLSX ---------------------------------------------------------------------------------------


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


class _BoundedReader:
    """A zip member's stream that refuses to give more than ``limit`` bytes (headers can lie)."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, name: str):
        self._stream = archive.open(info)
        self._left = limit
        self._message = f"{name}: {info.filename} unpacks past {_size(limit)}: refused."

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(1 << 16 if size is None or size < 0 else size)
        self._left -= len(chunk)
        if self._left < 0:
            raise InvalidInputError(self._message, _("Save a smaller workbook or export the sheet as CSV."))
        return chunk

    def close(self) -> None:
        self._stream.close()


def _iter_end_elements(reader: _BoundedReader, tags: tuple[str, ...]) -> Iterator[ElementTree.Element]:
    """Elements with one of ``tags``, as each ends; every element is dropped once it ends."""
    parser = ElementTree.XMLPullParser(events=("start", "end"))
    stack: list[ElementTree.Element] = []
    try:
        while chunk := reader.read(1 << 16):
            parser.feed(chunk)
            for event, element in parser.read_events():
                if event == "start":
                    stack.append(element)
                    continue
                stack.pop()
                if element.tag in tags:
                    yield element
                # Dropping each element as it ends keeps memory flat however long the sheet is.
                element.clear()
                if stack:
                    stack[-1].remove(element)
    finally:
        reader.close()


def _first_sheet(archive: zipfile.ZipFile, names: set[str]) -> list[str]:
    """The worksheet part pandas reads (the workbook's first sheet), or every worksheet if unsure."""
    every = sorted(n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml"))
    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml")[: 8 * 2**20])
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels")[: 8 * 2**20])
    except (KeyError, ElementTree.ParseError, zipfile.BadZipFile):
        return every
    sheet = workbook.find(f"{_SHEET_NS}sheets/{_SHEET_NS}sheet")
    rel_id = sheet.get(f"{_REL_NS}id") if sheet is not None else None
    for rel in rels.iter(f"{_PACKAGE_REL_NS}Relationship"):
        if rel.get("Id") == rel_id:
            target = (rel.get("Target") or "").lstrip("/")
            target = target if target.startswith("xl/") else f"xl/{target}"
            return [target] if target in names else every
    return every


def _check_dimension(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> None:
    """The sheet's declared used range, read from its first few kilobytes: refuses in milliseconds."""
    with archive.open(info) as stream:
        head = stream.read(_HEAD_BYTES)
    match = _DIMENSION.search(head)
    if not match or not match.group(3):
        return
    first_column, first_row, last_column, last_row = (part.decode("ascii") for part in match.groups())
    columns = _column_number(last_column) - _column_number(first_column or "A") + 1
    rows = int(last_row) - int(first_row or 1) + 1
    used = f"its sheet's used range {first_column}{first_row}:{last_column}{last_row}"
    check_columns(name, columns, used)
    check_cells(name, rows, columns)


def _check_sheet_rows(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, max_rows: int) -> None:
    """The sheet's real rows and columns, streamed: the declared range may lie."""
    reader = _BoundedReader(archive, info, MAX_XLSX_PART_BYTES, name)
    rows = columns = row_cells = 0
    for element in _iter_end_elements(reader, (f"{_SHEET_NS}c", f"{_SHEET_NS}row")):
        if element.tag == f"{_SHEET_NS}c":
            match = _CELL_REF.match(element.get("r") or "")
            row_cells = _column_number(match.group(1)) if match else row_cells + 1
            columns = max(columns, row_cells)
            continue
        number = element.get("r") or ""
        rows = max(rows + 1, int(number) if number.isdigit() else 0)
        row_cells = 0
        check_columns(name, columns, f"its sheet (by row {rows:,})")
        check_cells(name, max(rows - 1, 1), max(columns, 1))  # the header row is not a data row
        if rows > max_rows + 1:
            raise InvalidInputError(
                _("{name} has more than {max_rows:,} rows.").format(name=name, max_rows=max_rows), _("Upload a sample.")
            )


def _check_shared_strings(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> None:
    if info.file_size > MAX_XLSX_SHARED_STRINGS_BYTES:
        raise InvalidInputError(
            _("{name}: its shared strings ({filename}) declare {size}; the limit is {size2}.").format(
                name=name,
                filename=info.filename,
                size=_size(info.file_size),
                size2=_size(MAX_XLSX_SHARED_STRINGS_BYTES),
            ),
            _("Export the sheet as CSV, or upload a sample."),
        )
    reader = _BoundedReader(archive, info, MAX_XLSX_SHARED_STRINGS_BYTES, name)
    for count, _item in enumerate(_iter_end_elements(reader, (f"{_SHEET_NS}si",)), start=1):
        if count > MAX_TABLE_CELLS:
            raise InvalidInputError(
                _("{name} holds more than {MAX_TABLE_CELLS:,} distinct texts; the limit is that many cells.").format(
                    name=name, MAX_TABLE_CELLS=MAX_TABLE_CELLS
                ),
                _("Export the sheet as CSV, or upload a sample."),
            )


def check_xlsx(name: str, archive: zipfile.ZipFile, max_rows: int) -> None:
    """Check an .xlsx as the zip it is, before openpyxl or pandas reads it.

    Entry count, each part's declared size, the shared strings (declared and real size, number of
    texts), and the first sheet's dimension and real rows and columns, read by streaming.

    Raises:
        InvalidInputError: any limit passed, or XML that is not well-formed.
    """
    infos = archive.infolist()
    if len(infos) > MAX_XLSX_ENTRIES:
        raise InvalidInputError(
            _("{name} holds {infos:,} parts; a workbook has at most {MAX_XLSX_ENTRIES:,}.").format(
                name=name, infos=len(infos), MAX_XLSX_ENTRIES=MAX_XLSX_ENTRIES
            )
        )
    total = sum(info.file_size for info in infos)
    if total > MAX_XLSX_PART_BYTES:
        raise InvalidInputError(
            _("{name} declares {size} unpacked; the limit is {size2}.").format(
                name=name, size=_size(total), size2=_size(MAX_XLSX_PART_BYTES)
            ),
            _("Export the sheet as CSV, or upload a sample."),
        )
    for info in infos:
        lowered = info.filename.lower()
        is_other_xml = lowered.endswith((".xml", ".rels")) and not (
            lowered.startswith("xl/worksheets/") or lowered.endswith("sharedstrings.xml")
        )
        if is_other_xml and info.file_size > MAX_XLSX_OTHER_XML_BYTES:
            raise InvalidInputError(
                _("{name}: {filename} declares {size} unpacked; the limit for that part is {size2}.").format(
                    name=name, filename=info.filename, size=_size(info.file_size), size2=_size(MAX_XLSX_OTHER_XML_BYTES)
                ),
                _("Save the workbook again from Excel, or export the sheet as CSV."),
            )
    names = {info.filename for info in infos}
    try:
        # The usual name; workbooks may name the part differently, so any spelling of it counts.
        for info in infos:
            if info.filename.lower().endswith("sharedstrings.xml"):
                _check_shared_strings(archive, info, name)
        for sheet in _first_sheet(archive, names):
            info = archive.getinfo(sheet)
            _check_dimension(archive, info, name)
            _check_sheet_rows(archive, info, name, max_rows)
    except ElementTree.ParseError as error:
        raise InvalidInputError(
            _("{name} is not a readable .xlsx workbook (damaged XML: {error}).").format(name=name, error=error)
        ) from error
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise InvalidInputError(
            _("{name} is not a readable .xlsx workbook (a damaged part: {error}).").format(
                name=name, error=type(error).__name__
            )
        ) from error
