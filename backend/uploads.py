"""Reading user uploads safely: every byte is hostile until validated here.

Text is decoded from UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030 (Chinese Windows
exports); tables come from CSV, TSV, JSONL, JSON or XLSX; archives are extracted without path
tricks, symlinks or bombs; images are opened with a pixel cap and EXIF orientation applied.
Nothing here unpickles anything.
"""

from __future__ import annotations

import codecs
import io
import stat
import zipfile
from pathlib import Path, PurePosixPath

import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

from backend.errors import InvalidInputError

MAX_TABLE_BYTES = 50 * 2**20
MAX_TABLE_ROWS = 200_000
MAX_ZIP_BYTES = 200 * 2**20
MAX_ZIP_FILES = 20_000
MAX_UNZIPPED_BYTES = 1 * 2**30
# Ordinary images and CSVs compress by well under 100x; bombs by thousands.
MAX_COMPRESSION_RATIO = 100
MAX_IMAGE_BYTES = 20 * 2**20
MAX_IMAGE_PIXELS = 40_000_000
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl", ".json", ".xlsx")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
# Spreadsheet apps run cells starting with these as formulas (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def check_size(name: str, size: int, limit: int) -> None:
    """Refuse an upload from its declared size, before reading it."""
    if size <= 0:
        raise InvalidInputError(f"{name} is empty.", "Choose a file with content.")
    if size > limit:
        raise InvalidInputError(
            f"{name} is {size / 2**20:,.1f} MB; the limit is {limit / 2**20:,.0f} MB.",
            "Upload a smaller file or a sample of it.",
        )


def decode_text(data: bytes, name: str = "the file") -> str:
    """Decode bytes as UTF-8 (BOM or not), UTF-16 with a BOM, or GB18030.

    Raises:
        InvalidInputError: none of these encodings fits.
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise InvalidInputError(f"{name} says it is UTF-16 but is not valid UTF-16.") from error
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as error:
        raise InvalidInputError(
            f"{name} is not UTF-8 or GB18030 text (it may mix encodings or be binary).",
            "Save it as UTF-8 (in Excel: Save As → CSV UTF-8) and upload it again.",
        ) from error


def _check_archive(archive: zipfile.ZipFile, name: str) -> None:
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_FILES:
        raise InvalidInputError(f"{name} holds {len(infos):,} files; the limit is {MAX_ZIP_FILES:,}.")
    total = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos) or 1
    if total > MAX_UNZIPPED_BYTES or total / packed > MAX_COMPRESSION_RATIO:
        raise InvalidInputError(
            f"{name} would unpack to {total / 2**20:,.0f} MB ({total / packed:,.0f}x its size): refused as a zip bomb.",
            "Upload an archive of ordinary files.",
        )


def _table_from_text(text: str, suffix: str, name: str) -> pd.DataFrame:
    if not text.strip():
        raise InvalidInputError(f"{name} is empty.", "Choose a file with a header row and data rows.")
    buffer = io.StringIO(text)
    try:
        if suffix in (".jsonl",):
            frame = pd.read_json(buffer, lines=True, dtype=False)
        elif suffix == ".json":
            frame = pd.read_json(buffer, dtype=False)
        else:
            separator = "\t" if suffix == ".tsv" else None
            frame = pd.read_csv(
                buffer,
                sep=separator,
                engine="python",
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                nrows=MAX_TABLE_ROWS + 1,
            )
    except (ValueError, pd.errors.ParserError) as error:
        raise InvalidInputError(f"{name} could not be read as a table: {str(error)[:200]}") from error
    return frame


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
        raise InvalidInputError(f"{name}: unsupported file type.", f"Use one of {', '.join(TABLE_SUFFIXES)}.")
    if suffix == ".xlsx":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                _check_archive(archive, name)
            frame = pd.read_excel(io.BytesIO(data), engine="openpyxl", dtype=str, nrows=MAX_TABLE_ROWS + 1)
        except (zipfile.BadZipFile, ValueError, KeyError, OSError) as error:
            raise InvalidInputError(f"{name} is not a readable .xlsx workbook.") from error
    else:
        frame = _table_from_text(decode_text(data, name), suffix, name)
    frame.columns = [str(column).strip().lstrip("\ufeff") for column in frame.columns]
    if frame.columns.duplicated().any():
        duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise InvalidInputError(f"{name} repeats column names: {', '.join(duplicated)}.")
    if frame.empty:
        raise InvalidInputError(f"{name} has a header but no data rows.")
    if len(frame) > MAX_TABLE_ROWS:
        raise InvalidInputError(f"{name} has more than {MAX_TABLE_ROWS:,} rows.", "Upload a sample.")
    return frame


def escape_formula(value: object) -> object:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def to_safe_csv(frame: pd.DataFrame) -> bytes:
    """CSV bytes for download: formulas escaped, UTF-8 with BOM so Excel shows Chinese right."""
    safe = frame.copy()
    safe.columns = [escape_formula(str(c)) for c in safe.columns]
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(escape_formula)
    return safe.to_csv(index=False).encode("utf-8-sig")


def _safe_member_path(info: zipfile.ZipInfo, name: str) -> PurePosixPath | None:
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise InvalidInputError(f"{name} contains a symbolic link ({info.filename}): refused.")
    path = PurePosixPath(info.filename.replace("\\", "/"))
    if info.is_dir():
        return None
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise InvalidInputError(f"{name} tries to write outside its folder ({info.filename}): refused.")
    if any(part.startswith("__MACOSX") or part == ".DS_Store" for part in path.parts):
        return None
    return path


def extract_zip(name: str, data: bytes, destination: Path) -> list[Path]:
    """Extract an uploaded zip into ``destination`` safely; returns the files written.

    Refuses path traversal, absolute paths, symlinks, too many files, and archives that unpack
    past the size or ratio limits (counted while writing, since headers can lie).
    """
    check_size(name, len(data), MAX_ZIP_BYTES)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        raise InvalidInputError(f"{name} is not a zip archive.") from error
    destination.mkdir(parents=True, exist_ok=True)
    root = destination.resolve()
    written: list[Path] = []
    budget = min(MAX_UNZIPPED_BYTES, max(len(data), 1) * MAX_COMPRESSION_RATIO)
    with archive:
        _check_archive(archive, name)
        for info in archive.infolist():
            member = _safe_member_path(info, name)
            if member is None:
                continue
            target = (root / member).resolve()
            if root not in target.parents:
                raise InvalidInputError(f"{name} tries to write outside its folder ({info.filename}): refused.")
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, target.open("wb") as sink:
                while chunk := source.read(1 << 16):
                    budget -= len(chunk)
                    if budget < 0:
                        raise InvalidInputError(f"{name} unpacks to more than its limit: refused as a zip bomb.")
                    sink.write(chunk)
            written.append(target)
    if not written:
        raise InvalidInputError(f"{name} holds no files.")
    return written


def open_image(data: bytes, name: str = "the image", max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Open an uploaded image as RGB with EXIF orientation applied.

    Raises:
        InvalidInputError: not an image, too large a file, or too many pixels (decompression bomb).
    """
    check_size(name, len(data), MAX_IMAGE_BYTES)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > max_pixels:
                raise InvalidInputError(
                    f"{name} is {width}x{height} pixels; the limit is {max_pixels / 1e6:,.0f} megapixels.",
                    "Resize it and try again.",
                )
            probe.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
    except InvalidInputError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise InvalidInputError(f"{name} is not an image this app can read.", "Use PNG, JPEG, WebP or BMP.") from error
    return ImageOps.exif_transpose(image).convert("RGB")


def check_text(text: str, max_chars: int, what: str = "The text") -> str:
    """Strip and bound a text box's content."""
    cleaned = (text or "").replace("\x00", "").strip()
    if not cleaned:
        raise InvalidInputError(f"{what} is empty.", "Type or paste something first.")
    if len(cleaned) > max_chars:
        raise InvalidInputError(f"{what} has {len(cleaned):,} characters; the limit is {max_chars:,}.", "Shorten it.")
    return cleaned
