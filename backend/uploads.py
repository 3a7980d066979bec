"""Reading user uploads safely: every byte is hostile until validated here.

Text is decoded from UTF-8 (with or without BOM), UTF-16 or UTF-32 with BOM, or the legacy encoding
of Chinese, Taiwanese or Japanese Windows exports (GB18030, Big5, Shift-JIS: ``text_encodings``); tables come from CSV, TSV, JSONL, JSON or XLSX; archives are extracted without path
tricks, symlinks or bombs; images are opened with a pixel cap and EXIF orientation applied.
Nothing here unpickles anything.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

from backend import table_checks, text_encodings
from backend.errors import InputTooLargeError, InvalidInputError, disk_full_error, is_disk_full
from backend.i18n import _
from backend.zip_names import archive_encoding, check_not_encrypted, collision_key, member_name

MAX_TABLE_BYTES = 50 * 2**20
MAX_TABLE_ROWS = 200_000
# Image-folder zips are the largest uploads; .streamlit/config.toml's server.maxUploadSize matches
# this figure, because Streamlit holds every upload in memory (2.7 GB in all on Community Cloud).
MAX_ZIP_BYTES = 100 * 2**20
MAX_ZIP_FILES = 20_000
MAX_UNZIPPED_BYTES = 1 * 2**30
# Ordinary images and CSVs compress by well under 100x; bombs by thousands.
MAX_COMPRESSION_RATIO = 100
# Small members (a 100 KB CSV of repeated rows) may compress far better than that and are harmless.
_RATIO_EXEMPT_BYTES = 2**20
MAX_IMAGE_BYTES = 20 * 2**20
MAX_IMAGE_PIXELS = 40_000_000
# A whole image batch, counted from the files' headers before anything is decoded: twelve 40 MP
# images would take about 1.4 GB once decoded, so a batch may hold about five at full size.
MAX_BATCH_PIXELS = 200_000_000
# Images are downscaled to this long side before the model (about 2x the usual 224-512 px inputs),
# so a batch of N images holds N small images, never N full-size ones.
MODEL_IMAGE_SIDE = 1024
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl", ".json", ".xlsx")
ZIP_SUFFIXES = (".zip",)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
# Spreadsheet apps run cells starting with these as formulas (CSV injection), also after leading
# spaces, and Excel and WPS treat the full-width and small forms typed on Chinese and Japanese
# keyboards (＝＋－＠, ﹦﹢﹣﹫) the same way.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\ufe66", "\ufe62", "\ufe63", "\ufe6b")
# Whitespace a spreadsheet skips before looking for a formula sign (tabs and CRs were prefixes).
_FORMULA_LEADING_SPACE = " \t\r\n\u00a0\u3000"
_DELIMITERS = (",", "\t", ";", "|")
# Share of non-ASCII lines that must be valid UTF-8 before an undecodable line means "mixed
# encodings" rather than "GB18030": random GB18030 lines pass as UTF-8 only a few percent of the time.
_MIXED_UTF8_SHARE = 0.2


class Upload(Protocol):
    """What the backend needs of an uploaded file (Streamlit's ``UploadedFile`` fits)."""

    name: str
    size: int

    def read(self, size: int = -1, /) -> bytes: ...


def check_size(name: str, size: int, limit: int) -> None:
    """Refuse an upload from its declared size, before reading it."""
    if size <= 0:
        raise InvalidInputError(_("{name} is empty.").format(name=name), _("Choose a file with content."))
    if size > limit:
        raise InputTooLargeError(
            _("{name} is {size:,.1f} MB; the limit is {limit:,.0f} MB.").format(
                name=name, size=size / 2**20, limit=limit / 2**20
            ),
            _("Upload a smaller file or a sample of it."),
        )


def check_count(count: int, most: int, none_given: str, too_many: str) -> None:
    """Refuse a set of uploads or inputs that is empty or holds more than ``most``.

    Args:
        count: how many there are.
        most: how many there may be.
        none_given: the message for none, translated.
        too_many: the message for too many, translated, with the count and the limit in it.

    Raises:
        InvalidInputError: none, or too many (the hint: send fewer at once).
    """
    if not count:
        raise InvalidInputError(none_given)
    if count > most:
        raise InvalidInputError(too_many, _("Send fewer at once."))


def check_whole_number(value: object, low: int, high: int, message: str) -> int:
    """``value`` when it is a whole number from ``low`` to ``high`` (a bool is not one).

    Raises:
        InvalidInputError: anything else, with ``message`` (translated, the value and range in it).
    """
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidInputError(message)
    return value


def check_declared_sizes(files: list[tuple[str, int]], most_files: int, each_limit: int) -> None:
    """Refuse a multi-file upload from its files' declared sizes, before any of them is read.

    Raises:
        InvalidInputError: no files, more than ``most_files``, or one empty or over ``each_limit``.
    """
    check_count(
        len(files),
        most_files,
        _("No files were uploaded."),
        _("{files} files were uploaded; the limit is {most_files}.").format(files=len(files), most_files=most_files),
    )
    for name, size in files:
        check_size(name, size, each_limit)


def upload_limit_mb(limit: int) -> int:
    """A byte limit as the whole megabytes Streamlit's uploader takes (rounded up, at least 1).

    The browser side counts a megabyte as 10**6 bytes (1024**2 only on some platforms), so the
    limit is rounded up in those units: a file the page accepts (say 50 MiB, 52.4 MB) is never
    refused by the uploader first. The exact limit is still checked when the bytes are read.
    """
    return max(1, -(-limit // 10**6))


def read_upload(upload: Upload | BinaryIO, limit: int, name: str | None = None) -> bytes:
    """Read an upload's bytes after checking its declared size, never more than ``limit``.

    The declared size is checked first, so a huge file is refused without being read; reading
    stops one byte past the limit, so a file that under-declares its size is refused too.

    Args:
        upload: an object with ``read`` (and ``name``/``size`` when it has them).
        limit: the most bytes accepted for this kind of file.
        name: the name shown in messages (default: the upload's own name).

    Raises:
        InvalidInputError: empty, or larger than ``limit``.
    """
    label = name or str(getattr(upload, "name", "") or "the file")
    declared = getattr(upload, "size", None)
    if isinstance(declared, int):
        check_size(label, declared, limit)
    if hasattr(upload, "seek"):
        upload.seek(0)  # a page may have read it on an earlier rerun
    data = upload.read(limit + 1)
    check_size(label, len(data), limit)
    return data


def _first_bad_line(data: bytes) -> tuple[int, int, int]:
    """(first undecodable line number, non-ASCII UTF-8 lines, undecodable lines)."""
    first_bad, good, bad = 0, 0, 0
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad += 1
            first_bad = first_bad or number
        else:
            good += 1
    return first_bad, good, bad


def _decode_without_bom_nul(data: bytes, name: str) -> str:
    # UTF-16 saved without a BOM puts a NUL beside every ASCII character, always on the same side
    # of the pair; NULs anywhere else mean a binary file with a text extension.
    even_nuls, odd_nuls = data[0::2].count(0), data[1::2].count(0)
    half = max(len(data) // 2, 1)
    if odd_nuls >= 0.3 * half and even_nuls <= 0.1 * odd_nuls:
        encoding = "utf-16-le"
    elif even_nuls >= 0.3 * half and odd_nuls <= 0.1 * even_nuls:
        encoding = "utf-16-be"
    else:
        raise InvalidInputError(
            _("{name} contains NUL bytes: it is a binary file, not text.").format(name=name),
            _("Upload a CSV or text file."),
        )
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise InvalidInputError(
            _("{name} is not readable text (it looks like UTF-16 but is not).").format(name=name)
        ) from error


def _decode_with_bom(data: bytes, codec: str, shown: str, name: str) -> str:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as error:
        raise InvalidInputError(
            _("{name} says it is {encoding} but is not valid {encoding}.").format(name=name, encoding=shown)
        ) from error
    if "\x00" in text:
        raise InvalidInputError(
            _("{name} contains NUL bytes: it is a binary file, not text.").format(name=name),
            _("Upload a CSV or text file."),
        )
    return text


def decode_text(data: bytes, name: str = "the file") -> str:
    """Decode bytes as UTF-8 (BOM or not), UTF-16 or UTF-32 with a BOM, or GB18030, Big5 or Shift-JIS.

    Raises:
        InvalidInputError: none of these encodings fits.
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        # Before UTF-16: UTF-32's little-endian BOM starts with UTF-16's, and read as UTF-16 the
        # text came out with a NUL between every two characters.
        return _decode_with_bom(data, "utf-32", "UTF-32", name)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_with_bom(data, "utf-16", "UTF-16", name)
    if b"\x00" in data:
        return _decode_without_bom_nul(data, name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    first_bad, good, bad = _first_bad_line(data)
    if good and good >= _MIXED_UTF8_SHARE * (good + bad):
        raise InvalidInputError(
            _("{name} mixes text encodings: line {first_bad} is not UTF-8, but other lines are.").format(
                name=name, first_bad=first_bad
            ),
            _("Open it in an editor, save it as UTF-8, and upload it again."),
        )
    decoded = text_encodings.decode_legacy(data)
    if decoded is None:
        raise InvalidInputError(
            _("{name} is not UTF-8, GB18030, Big5 or Shift-JIS text (it may mix encodings or be binary).").format(
                name=name
            ),
            _("Save it as UTF-8 (in Excel: Save As → CSV UTF-8) and upload it again."),
        )
    return decoded.text


def _check_archive(archive: zipfile.ZipFile, name: str) -> None:
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_FILES:
        raise InvalidInputError(
            _("{name} holds {infos:,} files; the limit is {MAX_ZIP_FILES:,}.").format(
                name=name, infos=len(infos), MAX_ZIP_FILES=MAX_ZIP_FILES
            )
        )
    for info in infos:
        check_not_encrypted(info, name, info.filename)
        if info.file_size > _RATIO_EXEMPT_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            raise InvalidInputError(
                _("{name}: {filename} would unpack {file_size:,.0f}x: refused as a zip bomb.").format(
                    name=name, filename=info.filename, file_size=info.file_size / max(info.compress_size, 1)
                ),
                _("Upload an archive of ordinary files."),
            )
    total = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos) or 1
    if total > MAX_UNZIPPED_BYTES or total / packed > MAX_COMPRESSION_RATIO:
        raise InvalidInputError(
            _("{name} would unpack to {total:,.0f} MB ({total2:,.0f}x its size): refused as a zip bomb.").format(
                name=name, total=total / 2**20, total2=total / packed
            ),
            _("Upload an archive of ordinary files."),
        )


def _field_count(line: str, delimiter: str) -> int:
    try:
        return len(next(csv.reader([line], delimiter=delimiter), []))
    except csv.Error:  # a field past the csv module's size limit: not this delimiter
        return 0


# A line and its ending, split where io.StringIO(newline="") splits: "\r\n", "\r" or "\n".
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _lines(text: str) -> Iterator[str]:
    """The text's lines with their endings, one at a time, for the csv module.

    Not io.StringIO: reading one copies the whole text at 4 bytes a character first (about
    200 MB more for a 50 MB table, even to read the header line).
    """
    return (match.group() for match in _LINE.finditer(text))


def _guess_delimiter(text: str) -> str:
    # The header line decides: it is the line least likely to hold free text, and counting
    # fields with the csv module respects quoted headers.
    header = next((line for line in _lines(text) if line.strip()), "")
    counts = {d: _field_count(header, d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 1 else ","


def _read_delimited(text: str, delimiter: str, name: str) -> pd.DataFrame:
    """Strict CSV: a row with more fields than the header is an error, not a silent shift."""
    reader = csv.reader(_lines(text), delimiter=delimiter)
    rows: list[list[str | None]] = []
    try:
        header = next(reader)
        width = len(header)
        # Refused from the header line alone, before any data row is read.
        table_checks.check_columns(name, width)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > width:
                raise InvalidInputError(
                    _("{name}: line {line_num} has {row} fields but the header has {width}.").format(
                        name=name, line_num=reader.line_num, row=len(row), width=width
                    ),
                    _("Quote text that contains the separator, or fix that line."),
                )
            if len(rows) >= MAX_TABLE_ROWS:
                raise InvalidInputError(
                    _("{name} has more than {MAX_TABLE_ROWS:,} rows.").format(name=name, MAX_TABLE_ROWS=MAX_TABLE_ROWS),
                    _("Upload a sample."),
                )
            table_checks.check_cells(name, len(rows) + 1, width)
            rows.append([cell if cell != "" else None for cell in row] + [None] * (width - len(row)))
    except csv.Error as error:
        raise InvalidInputError(
            _("{name} could not be read as CSV near line {line_num}: {error}.").format(
                name=name, line_num=reader.line_num, error=error
            ),
            _("Check the quotes on that line; a single cell may hold at most 131,072 characters."),
        ) from error
    columns = [cell.strip() or f"column {index + 1}" for index, cell in enumerate(header)]
    return pd.DataFrame(rows, columns=columns, dtype="str")


def _table_from_text(text: str, suffix: str, name: str) -> pd.DataFrame:
    if not text.strip():
        raise InvalidInputError(
            _("{name} is empty.").format(name=name), _("Choose a file with a header row and data rows.")
        )
    if suffix not in (".json", ".jsonl"):
        delimiter = "\t" if suffix == ".tsv" else _guess_delimiter(text)
        return _read_delimited(text, delimiter, name)
    if suffix == ".jsonl":
        document = table_checks.read_jsonl_records(name, text, MAX_TABLE_ROWS)
    else:
        document = table_checks.read_json_document(name, text, MAX_TABLE_ROWS)
    if isinstance(document, list):
        # Built from the records already parsed: pandas' read_json would parse the text again and
        # peak at about twice the memory. Values keep their JSON types; text is never read as a date.
        return pd.DataFrame(document)
    try:
        # An object of columns ({"text": {"0": "a"}, ...}): pandas knows its orientations.
        return pd.read_json(io.StringIO(text), dtype=False, convert_dates=False)
    except (ValueError, RecursionError) as error:
        raise InvalidInputError(
            _("{name} could not be read as a table: {error}").format(name=name, error=str(error)[:200])
        ) from error


def read_table(name: str, data: bytes) -> pd.DataFrame:
    """Parse an uploaded table; column names are trimmed and must be unique.

    Args:
        name: the uploaded file's name (its suffix picks the format).
        data: the file's bytes.

    Raises:
        InvalidInputError: wrong format, encoding, empty, header only, too many rows.
    """
    check_size(name, len(data), MAX_TABLE_BYTES)
    suffix = PurePosixPath(name.lower()).suffix
    if suffix not in TABLE_SUFFIXES:
        raise InvalidInputError(
            _("{name}: unsupported file type.").format(name=name),
            _("Use one of {value}.").format(value=", ".join(TABLE_SUFFIXES)),
        )
    if suffix == ".xlsx":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                _check_archive(archive, name)
                table_checks.check_xlsx(name, archive, MAX_TABLE_ROWS)
            frame = pd.read_excel(io.BytesIO(data), engine="openpyxl", dtype=str, nrows=MAX_TABLE_ROWS + 1)
        except (zipfile.BadZipFile, ValueError, KeyError, OSError) as error:
            raise InvalidInputError(_("{name} is not a readable .xlsx workbook.").format(name=name)) from error
    else:
        frame = _table_from_text(decode_text(data, name), suffix, name)
    # Whatever the format, the frame itself must be within bounds too.
    table_checks.check_columns(name, len(frame.columns))
    table_checks.check_cells(name, len(frame), len(frame.columns))
    frame.columns = [str(column).strip().lstrip("\ufeff") for column in frame.columns]
    if frame.columns.duplicated().any():
        duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise InvalidInputError(
            _("{name} repeats column names: {value}.").format(name=name, value=", ".join(duplicated))
        )
    if frame.empty:
        raise InvalidInputError(_("{name} has a header but no data rows.").format(name=name))
    if len(frame) > MAX_TABLE_ROWS:
        raise InvalidInputError(
            _("{name} has more than {MAX_TABLE_ROWS:,} rows.").format(name=name, MAX_TABLE_ROWS=MAX_TABLE_ROWS),
            _("Upload a sample."),
        )
    return frame


def escape_formula(value: object) -> object:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe."""
    if isinstance(value, str) and (
        value.lstrip(_FORMULA_LEADING_SPACE).startswith(_FORMULA_PREFIXES) or value[:1] in ("\t", "\r")
    ):
        return "'" + value
    return value


def to_safe_csv(frame: pd.DataFrame) -> bytes:
    """CSV bytes for download: formulas escaped, UTF-8 with BOM so Excel shows Chinese right."""
    safe = frame.copy()
    safe.columns = [escape_formula(str(c)) for c in safe.columns]
    for column in safe.columns:
        if isinstance(safe[column].dtype, pd.CategoricalDtype):
            safe[column] = safe[column].astype(object)
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(escape_formula)
    # CRLF rows (RFC 4180) make the writer quote any cell holding \r or \n, so no cell splits a row.
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def _safe_member_path(info: zipfile.ZipInfo, name: str, encoding: str) -> PurePosixPath | None:
    filename = member_name(info, name, encoding)
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise InvalidInputError(
            _("{name} contains a symbolic link ({filename}): refused.").format(name=name, filename=filename)
        )
    path = PurePosixPath(filename.replace("\\", "/"))
    if info.is_dir() or filename.endswith("/"):
        return None
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise InvalidInputError(
            _("{name} tries to write outside its folder ({filename}): refused.").format(name=name, filename=filename)
        )
    if any(part.startswith("__MACOSX") or part == ".DS_Store" for part in path.parts):
        return None
    return path


def _members_to_extract(archive: zipfile.ZipFile, name: str) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """Every member to write with its decoded path; refuses two members that land on one file."""
    members: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    seen: dict[str, str] = {}
    infos = archive.infolist()
    encoding = archive_encoding(infos)
    for info in infos:
        member = _safe_member_path(info, name, encoding)
        if member is None:
            continue
        # PurePosixPath already folds "a//b" and "a/./b" into "a/b".
        key = collision_key(str(member))
        if key in seen:
            same = seen[key] == str(member)
            raise InvalidInputError(
                (
                    _("{name} holds two entries named {entry}: nothing was extracted.")
                    if same
                    else _(
                        "{name} holds entries that would overwrite each other: {entry} and {other}: "
                        "nothing was extracted."
                    )
                ).format(name=name, entry=seen[key], other=member),
                _("Give every file its own name (names that differ only in upper/lower case count as the same).")
                if not same
                else _("Create the archive again from the folder, without adding files twice."),
            )
        seen[key] = str(member)
        members.append((info, member))
    return members


def extract_zip(name: str, data: bytes, destination: Path) -> list[Path]:
    """Extract an uploaded zip into ``destination`` safely; returns the files written.

    Refuses path traversal, absolute paths, symlinks, too many files, encrypted members, names in
    an unidentifiable encoding, members that would overwrite each other, and archives that unpack
    past the size or ratio limits (counted while writing, since headers can lie). Names written
    without the UTF-8 flag (Chinese Windows tools write GBK) are decoded as their authors meant.
    """
    check_size(name, len(data), MAX_ZIP_BYTES)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        raise InvalidInputError(_("{name} is not a zip archive.").format(name=name)) from error
    destination.mkdir(parents=True, exist_ok=True)
    root = destination.resolve()
    written: list[Path] = []
    try:
        with archive:
            _check_archive(archive, name)
            members = _members_to_extract(archive, name)
            _extract_members(archive, name, root, len(data), members, written)
    except (InvalidInputError, zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as error:
        # Nothing half-extracted stays behind: the caller's folder looks as it did before.
        for path in written:
            path.unlink(missing_ok=True)
        if isinstance(error, InvalidInputError):
            raise
        if is_disk_full(error, destination):
            raise disk_full_error(f"{name} could not be extracted", error) from error
        raise InvalidInputError(
            _("{name} is damaged or uses an unsupported zip feature ({error}): nothing was extracted.").format(
                name=name, error=type(error).__name__
            ),
            _("Create the archive again with a standard zip tool."),
        ) from error
    if not written:
        raise InvalidInputError(_("{name} holds no files.").format(name=name))
    return written


def _extract_members(
    archive: zipfile.ZipFile,
    name: str,
    root: Path,
    packed_bytes: int,
    members: list[tuple[zipfile.ZipInfo, PurePosixPath]],
    written: list[Path],
) -> None:
    budget = min(MAX_UNZIPPED_BYTES, max(packed_bytes, 1) * MAX_COMPRESSION_RATIO)
    for info, member in members:
        target = (root / member).resolve()
        if root not in target.parents:
            raise InvalidInputError(
                _("{name} tries to write outside its folder ({member}): refused.").format(name=name, member=member)
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        written.append(target)
        with archive.open(info) as source, target.open("wb") as sink:
            while chunk := source.read(1 << 16):
                budget -= len(chunk)
                if budget < 0:
                    raise InvalidInputError(
                        _("{name} unpacks to more than its limit: refused as a zip bomb.").format(name=name)
                    )
                sink.write(chunk)


def _unreadable(name: str, error: BaseException) -> InvalidInputError:
    if isinstance(error, Image.DecompressionBombError):
        return InvalidInputError(
            _("{name} declares more pixels than it is safe to decode (a decompression bomb).").format(name=name),
            _("Resize it and try again."),
        )
    return InvalidInputError(
        _("{name} is not an image this app can read.").format(name=name), _("Use PNG, JPEG, WebP or BMP.")
    )


def image_size(data: bytes, name: str = "the image", max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[int, int]:
    """An uploaded image's (width, height) from its header, checked without decoding the pixels.

    Raises:
        InvalidInputError: not an image, too large a file, or too many pixels (decompression bomb).
    """
    check_size(name, len(data), MAX_IMAGE_BYTES)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > max_pixels:
                raise InputTooLargeError(
                    _("{name} is {width}x{height} pixels; the limit is {max_pixels:,.0f} megapixels.").format(
                        name=name, width=width, height=height, max_pixels=max_pixels / 1e6
                    ),
                    _("Resize it and try again."),
                )
            # Checks the file's structure (PNG chunk checksums) without decoding the pixels.
            probe.verify()
    except InvalidInputError:
        raise
    except (Image.DecompressionBombError, UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise _unreadable(name, error) from error
    return width, height


def open_image(
    data: bytes, name: str = "the image", max_pixels: int = MAX_IMAGE_PIXELS, max_side: int | None = None
) -> Image.Image:
    """Open an uploaded image as RGB with EXIF orientation applied.

    With ``max_side``, the image is shrunk while it is decoded (JPEG's draft mode, then PIL's
    reduce) to at most that many pixels on its long side, so only one full-size image is ever
    held, and only for the moment of decoding.

    Raises:
        InvalidInputError: not an image, too large a file, or too many pixels (decompression bomb).
    """
    image_size(data, name, max_pixels)
    try:
        image = Image.open(io.BytesIO(data))
        if max_side is not None:
            # thumbnail() uses draft() for JPEG and reduce() before resampling; the aspect ratio
            # stays, so the EXIF rotation below keeps the long side within max_side.
            image.thumbnail((max_side, max_side))
        image.load()
        oriented = ImageOps.exif_transpose(image)
        return oriented if oriented.mode == "RGB" else oriented.convert("RGB")
    except (Image.DecompressionBombError, UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise _unreadable(name, error) from error


class CheckedText(str):
    """A text :func:`check_text` already stripped and bounded: the page checks a text box once and
    the inference functions it hands the text to take it as it is."""

    __slots__ = ()


def check_text(text: str, max_chars: int, what: str = "The text") -> str:
    """Strip and bound a text box's content; a :class:`CheckedText` within ``max_chars`` passes as it is."""
    if isinstance(text, CheckedText) and len(text) <= max_chars:
        return text
    return CheckedText(_clean_text(text, max_chars, what))


def _clean_text(text: str, max_chars: int, what: str) -> str:
    cleaned = (text or "").replace("\x00", "").strip()
    if not cleaned:
        raise InvalidInputError(_("{what} is empty.").format(what=what), _("Type or paste something first."))
    if len(cleaned) > max_chars:
        raise InvalidInputError(
            _("{what} has {cleaned:,} characters; the limit is {max_chars:,}.").format(
                what=what, cleaned=len(cleaned), max_chars=max_chars
            ),
            _("Shorten it."),
        )
    return cleaned
