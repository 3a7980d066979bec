"""Hostile uploads: every file and text box is refused with a clear message or read correctly."""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import stat
import struct
import tomllib
import zipfile
import zlib
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image, ImageFile

from backend import table_checks, uploads
from backend.errors import InputTooLargeError, InvalidInputError
from tests.support.paths import PROJECT_ROOT

# --- text encodings ---------------------------------------------------------------------------

CHINESE_CSV = "text,label\n我非常喜欢这个产品,positive\n这是最差的服务,negative\n"


@pytest.mark.parametrize(
    "encoded",
    [
        CHINESE_CSV.encode("utf-8"),
        codecs.BOM_UTF8 + CHINESE_CSV.encode("utf-8"),
        CHINESE_CSV.encode("utf-16"),  # with BOM
        codecs.BOM_UTF16_BE + CHINESE_CSV.encode("utf-16-be"),
        CHINESE_CSV.encode("utf-16-le"),  # no BOM: every other byte of ASCII is NUL
        CHINESE_CSV.encode("gb18030"),
        # UTF-32's little-endian BOM starts with UTF-16's: read as UTF-16, NULs ran through every cell.
        CHINESE_CSV.encode("utf-32"),
        codecs.BOM_UTF32_BE + CHINESE_CSV.encode("utf-32-be"),
    ],
    ids=["utf8", "utf8-bom", "utf16-bom", "utf16be-bom", "utf16le-no-bom", "gb18030", "utf32-bom", "utf32be-bom"],
)
def test_every_supported_encoding_reads_the_same_table(encoded):
    frame = uploads.read_table("reviews.csv", encoded)
    assert list(frame.columns) == ["text", "label"]
    assert frame["text"].tolist() == ["我非常喜欢这个产品", "这是最差的服务"]
    assert frame["label"].tolist() == ["positive", "negative"]


# The same reviews as Taiwanese (Big5) and Japanese (Shift-JIS) Windows save them: both also decode
# as GB18030 without an error, into wrong characters (這個 became 硂).
TRADITIONAL_CSV = "text,label\n這個產品很好用,正面\n品質太差了，不推薦,負面\n"
JAPANESE_CSV = "text,label\nこの製品はとても使いやすい,良い\n品質が悪すぎる,悪い\n"
SIMPLIFIED_CSV = "text,label\n这个产品很好用,正面\n质量太差了，不推荐,负面\n"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (TRADITIONAL_CSV, "big5"),
        (JAPANESE_CSV, "shift_jis"),
        (SIMPLIFIED_CSV, "gbk"),
        (CHINESE_CSV, "gbk"),
        (TRADITIONAL_CSV, "utf-8"),
        (JAPANESE_CSV, "utf-8"),
    ],
)
@pytest.mark.parametrize("suffix", [".csv", ".txt"])
def test_big5_shift_jis_gbk_and_utf8_tables_read_as_written(text, encoding, suffix):
    data = text.encode(encoding)
    frame = uploads.read_table("reviews" + suffix, data)
    rows = [line.split(",") for line in text.splitlines()[1:]]
    assert frame.to_numpy().tolist() == rows


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("正面", "gbk"),
        ("很好", "gbk"),
        ("正面", "big5"),
        ("很好", "big5"),
        ("猫", "shift_jis"),
        ("日本語", "shift_jis"),
    ],
)
def test_even_a_word_or_two_decodes_in_its_own_encoding(text, encoding):
    assert uploads.decode_text(text.encode(encoding), "short.txt") == text


def test_mixed_encodings_are_refused_with_the_line_number():
    data = "text,label\n我非常喜欢,positive\n很好的服务,positive\n".encode() + "这是最差的服务,negative\n".encode(
        "gb18030"
    )
    with pytest.raises(InvalidInputError, match="mixes text encodings: line 4"):
        uploads.read_table("mixed.csv", data)


def test_latin1_text_is_refused_with_advice_to_save_as_utf8():
    with pytest.raises(InvalidInputError) as caught:
        uploads.read_table("latin.csv", "text,label\ncafé au lait,pos\n".encode("latin-1"))
    assert "UTF-8" in caught.value.user_text()


def test_binary_file_with_a_csv_extension_is_refused():
    with pytest.raises(InvalidInputError, match="binary"):
        uploads.read_table("photo.csv", bytes(range(256)) * 40)


def test_invalid_utf16_after_a_bom_is_refused():
    with pytest.raises(InvalidInputError, match="UTF-16"):
        uploads.decode_text(codecs.BOM_UTF16_LE + b"\x00\xd8", "broken.txt")  # lone surrogate


def test_nul_characters_after_a_utf16_bom_are_refused_as_binary():
    with pytest.raises(InvalidInputError, match="contains NUL bytes"):
        uploads.read_table("photo.csv", "text,label\nhi\x00there,pos\n".encode("utf-16"))


def test_bom_is_never_part_of_the_first_column_name():
    frame = uploads.read_table("bom.csv", codecs.BOM_UTF8 + b" text ,label\nhi,pos\n")
    assert list(frame.columns) == ["text", "label"]


# --- empty, header-only and malformed tables -------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"   \n\n  ", "is empty"),
        (codecs.BOM_UTF8, "is empty"),
        (b"text,label\n", "header but no data rows"),
        (b"text,label\n,\n , \n", "header but no data rows"),
    ],
    ids=["zero-bytes", "whitespace", "bom-only", "header-only", "blank-rows-only"],
)
def test_empty_and_header_only_files_are_refused(data, message):
    with pytest.raises(InvalidInputError, match=message):
        uploads.read_table("data.csv", data)


def test_every_line_ending_and_a_quoted_line_break_read_as_rows_and_cells():
    data = b'text,label\r\n"two\r\nlines",a\rold mac,b\nunix,c\nlast line,d'

    frame = uploads.read_table("endings.csv", data)

    assert frame["text"].tolist() == ["two\r\nlines", "old mac", "unix", "last line"]
    assert frame["label"].tolist() == ["a", "b", "c", "d"]


def test_a_large_csv_is_read_without_copying_its_text_at_four_bytes_a_character():
    # io.StringIO would hold the whole text as UCS-4 while the csv module reads it: 4x the
    # file on top of the rows (about 7x in all; reading line by line, about 3x).
    import tracemalloc

    data = (
        "text,label\n" + "".join(f"{'word ' * 48}{i},{'good' if i % 2 else 'bad'}\n" for i in range(20_000))
    ).encode()
    tracemalloc.start()
    try:
        frame = uploads.read_table("big.csv", data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert len(frame) == 20_000
    assert peak < 4.5 * len(data), f"reading took {peak / len(data):.1f}x the file's size"


def test_single_column_csv_is_one_column_not_split_on_letters():
    frame = uploads.read_table("texts.csv", b"text\nhello there\nworld peace\n")
    assert list(frame.columns) == ["text"]
    assert frame["text"].tolist() == ["hello there", "world peace"]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("semi.csv", "text;label\nbonjour, ça va;pos\nnon;neg\n".encode()),
        ("tabs.tsv", b"text\tlabel\nbonjour, ca va\tpos\nnon\tneg\n"),
        ("pipes.txt", b"text|label\nbonjour, ca va|pos\nnon|neg\n"),
        ("quoted.csv", b'text,label\n"bonjour, ca va",pos\nnon,neg\n'),
    ],
)
def test_separators_are_detected_from_the_header(name, data):
    frame = uploads.read_table(name, data)
    assert frame["text"].tolist()[1] == "non"
    assert frame["label"].tolist() == ["pos", "neg"]
    assert frame["text"].tolist()[0].startswith("bonjour")


def test_quoted_newlines_stay_inside_their_cell():
    frame = uploads.read_table("multi.csv", b'text,label\n"line one\nline two",pos\n')
    assert frame["text"].tolist() == ["line one\nline two"]


def test_row_with_more_fields_than_the_header_is_refused_not_shifted():
    with pytest.raises(InvalidInputError, match="line 3 has 4 fields but the header has 2"):
        uploads.read_table("ragged.csv", b"text,label\ngood,pos\nbad,neg,extra,more\n")


def test_short_rows_are_padded_with_missing_values_and_blank_lines_skipped():
    frame = uploads.read_table("short.csv", b"text,label\nonly text\n\nboth,pos\n")
    assert frame["text"].tolist() == ["only text", "both"]
    assert frame["label"].isna().tolist() == [True, False]


def test_column_names_are_trimmed_and_duplicates_refused():
    with pytest.raises(InvalidInputError, match="repeats column names: text"):
        uploads.read_table("dup.csv", b"text, text \na,b\n")


def test_blank_header_cells_get_a_name():
    frame = uploads.read_table("blank.csv", b"text,\nhello,pos\n")
    assert list(frame.columns) == ["text", "column 2"]


def test_too_many_rows_are_refused(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_TABLE_ROWS", 3)
    data = b"text\n" + b"row\n" * 4
    with pytest.raises(InvalidInputError, match="more than 3 rows"):
        uploads.read_table("long.csv", data)


def test_a_single_enormous_cell_is_refused():
    data = b"text,label\n" + b"a" * 300_000 + b",pos\n"
    with pytest.raises(InvalidInputError, match="line"):
        uploads.read_table("huge-cell.csv", data)


def test_oversized_table_is_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_TABLE_BYTES", 1000)
    with pytest.raises(InvalidInputError, match="the limit is"):
        uploads.read_table("big.csv", b"text\n" + b"x" * 2000)


@pytest.mark.parametrize("name", ["model.pkl", "script.py", "archive.zip", "noextension"])
def test_unsupported_file_types_are_refused(name):
    with pytest.raises(InvalidInputError, match="unsupported file type"):
        uploads.read_table(name, b"text\nhello\n")


def test_json_lines_and_json_tables_are_read():
    lines = uploads.read_table(
        "data.jsonl", '{"text": "你好", "label": "pos"}\n{"text": "bad", "label": "neg"}\n'.encode()
    )
    records = uploads.read_table("data.json", b'[{"text": "a", "label": 1}, {"text": "b", "label": 0}]')
    assert lines["text"].tolist() == ["你好", "bad"]
    assert records["label"].tolist() == [1, 0]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("bad.jsonl", b'{"text": "ok"}\nnot json at all\n'),
        ("deep.json", b"[" * 50_000 + b"]" * 50_000),
    ],
)
def test_malformed_json_is_refused(name, data):
    with pytest.raises(InvalidInputError, match="could not be read as a table"):
        uploads.read_table(name, data)


@pytest.mark.parametrize(
    ("name", "data", "where"),
    [
        # pandas raised a TypeError on an object line followed by a list line.
        ("mixed.jsonl", b'{"prompt": "a", "chosen": "b", "rejected": "c"}\n[1, 2]\n', "line 2 is [1, 2]"),
        # pandas made a column named "0" of bare values.
        ("numbers.jsonl", b"1\n2\n3\n", "line 1 is 1"),
        ("records.json", b'[{"text": "a"}, "just text"]', 'record 2 is "just text"'),
        ("scalar.json", b"42", "the whole file is 42"),
    ],
)
def test_json_rows_that_are_not_objects_are_refused_naming_the_row(name, data, where):
    with pytest.raises(InvalidInputError, match="not a JSON object") as refused:
        uploads.read_table(name, data)
    assert f"{name}: {where}, not a JSON object." in refused.value.message


def _xlsx_bytes(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_workbook_is_read_as_text_columns():
    frame = uploads.read_table("sheet.xlsx", _xlsx_bytes([[" text ", "label"], ["你好", 1], ["bye", 0]]))
    assert list(frame.columns) == ["text", "label"]
    assert frame["text"].tolist() == ["你好", "bye"]


def test_garbage_with_an_xlsx_name_is_refused():
    with pytest.raises(InvalidInputError, match="not a readable .xlsx"):
        uploads.read_table("sheet.xlsx", b"PK\x03\x04 definitely not a workbook")


def test_xlsx_zip_bomb_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (8 * 2**20))
    with pytest.raises(InvalidInputError, match="zip bomb"):
        uploads.read_table("bomb.xlsx", buffer.getvalue())


# --- declared size, reading limits, stored names -------------------------------------------


class _FakeUpload:
    """An upload whose declared size may lie and whose reads are recorded."""

    def __init__(self, data: bytes, declared: int, name: str = "data.csv") -> None:
        self.name = name
        self.size = declared
        self._buffer = io.BytesIO(data)
        self.read_sizes: list[int] = []

    def seek(self, position: int) -> int:
        return self._buffer.seek(position)

    def read(self, size: int = -1) -> bytes:
        self.read_sizes.append(size)
        return self._buffer.read(size)


def test_one_gigabyte_upload_is_refused_from_its_declared_size_without_reading():
    upload = _FakeUpload(b"", declared=2**30, name="huge.csv")
    with pytest.raises(InvalidInputError, match="huge.csv is 1,024.0 MB; the limit is 50 MB"):
        uploads.read_upload(upload, uploads.MAX_TABLE_BYTES)
    assert upload.read_sizes == []


def test_upload_that_understates_its_size_is_refused_after_reading_one_byte_past_the_limit():
    upload = _FakeUpload(b"x" * 5000, declared=10)
    with pytest.raises(InvalidInputError, match="the limit is"):
        uploads.read_upload(upload, 1000)
    assert upload.read_sizes == [1001]


def test_ordinary_upload_is_read_whole_even_after_an_earlier_read():
    upload = _FakeUpload(b"text\nhello\n", declared=11)
    upload.read()
    assert uploads.read_upload(upload, 1000) == b"text\nhello\n"


def test_empty_upload_is_refused():
    with pytest.raises(InvalidInputError, match="is empty"):
        uploads.read_upload(_FakeUpload(b"", declared=0), 1000)


def test_streamlit_upload_limit_is_set_deliberately():
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    limit_mb = config["server"]["maxUploadSize"]
    per_kind = [uploads.MAX_TABLE_BYTES, uploads.MAX_ZIP_BYTES, uploads.MAX_IMAGE_BYTES]
    # The server cap equals the largest per-kind limit: larger would hold useless bytes in
    # memory, smaller would replace our messages with Streamlit's generic one.
    assert limit_mb * 2**20 == max(per_kind)
    assert limit_mb <= 200


# --- CSV formula injection on export ---------------------------------------------------------


def test_exported_csv_escapes_formulas_in_cells_and_headers():
    frame = pd.DataFrame(
        {
            "=HYPERLINK(1)": ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "plain"],
            "score": [1.5, -2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        }
    )
    frame["category"] = pd.Categorical(["=1", "a", "a", "a", "a", "a", "a"])
    data = uploads.to_safe_csv(frame)
    assert data.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["'=HYPERLINK(1)", "score", "category"]
    cells = [row[0] for row in rows[1:]]
    assert cells == ["'=cmd|' /C calc'!A0", "'+1+1", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "plain"]
    assert [row[1] for row in rows[1:3]] == ["1.5", "-2.0"]  # numbers are never formulas
    assert rows[1][2] == "'=1"


def test_escape_formula_leaves_other_values_alone():
    assert uploads.escape_formula(5) == 5
    assert uploads.escape_formula(None) is None
    assert uploads.escape_formula("a=b") == "a=b"


def test_export_round_trip_keeps_chinese_text():
    frame = pd.DataFrame({"text": ["你好"], "label": ["positive"]})
    assert uploads.read_table("back.csv", uploads.to_safe_csv(frame))["text"].tolist() == ["你好"]


# --- archives --------------------------------------------------------------------------------


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_ordinary_zip_is_extracted_and_mac_metadata_skipped(tmp_path):
    data = _zip({"cats/a.png": b"1", "dogs/b.png": b"2", "__MACOSX/cats/._a.png": b"x", "cats/.DS_Store": b"x"})
    written = uploads.extract_zip("pets.zip", data, tmp_path / "out")
    assert sorted(p.name for p in written) == ["a.png", "b.png"]
    assert _files_under(tmp_path / "out") == ["cats/a.png", "dogs/b.png"]


@pytest.mark.parametrize("member", ["../evil.txt", "ok/../../evil.txt", "/tmp/evil.txt", "C:/evil.txt", "..\\evil.txt"])
def test_zip_slip_is_refused_and_nothing_is_written(tmp_path, member):
    destination = tmp_path / "inside" / "out"
    data = _zip({"fine.txt": b"fine", member: b"pwned"})
    with pytest.raises(InvalidInputError, match="outside its folder"):
        uploads.extract_zip("slip.zip", data, destination)
    assert _files_under(tmp_path) == []


def test_symlink_member_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("link")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(InvalidInputError, match="symbolic link"):
        uploads.extract_zip("links.zip", buffer.getvalue(), tmp_path / "out")
    assert not (tmp_path / "out" / "link").exists()


def test_symlink_already_in_the_destination_cannot_redirect_writes(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    destination = tmp_path / "out"
    destination.mkdir()
    os.symlink(outside, destination / "escape")
    with pytest.raises(InvalidInputError, match="outside its folder"):
        uploads.extract_zip("redirect.zip", _zip({"escape/evil.txt": b"pwned"}), destination)
    assert list(outside.iterdir()) == []


def test_declared_zip_bomb_is_refused_before_writing(tmp_path):
    data = _zip({"zeros.bin": b"\0" * (20 * 2**20)})
    assert len(data) < 100_000
    with pytest.raises(InvalidInputError, match="zip bomb"):
        uploads.extract_zip("bomb.zip", data, tmp_path / "out")
    assert _files_under(tmp_path) == []


def test_archive_past_the_total_unpacked_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_UNZIPPED_BYTES", 1000)
    with pytest.raises(InvalidInputError, match="zip bomb"):
        uploads.extract_zip("big.zip", _zip({"a.txt": os.urandom(2000)}, zipfile.ZIP_STORED), tmp_path / "out")


def test_archive_with_too_many_files_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_ZIP_FILES", 3)
    with pytest.raises(InvalidInputError, match="holds 4 files"):
        uploads.extract_zip("many.zip", _zip({f"{i}.txt": b"x" for i in range(4)}), tmp_path / "out")


def _understate_sizes(data: bytes, member: str, fake_size: int) -> bytes:
    """Rewrite a one-member zip so both headers claim ``fake_size`` uncompressed bytes."""
    patched = bytearray(data)
    name = member.encode()
    local = patched.index(b"PK\x03\x04" + b"")
    struct.pack_into("<I", patched, local + 22, fake_size)
    central = patched.index(b"PK\x01\x02")
    assert patched[central + 46 : central + 46 + len(name)] == name
    struct.pack_into("<I", patched, central + 24, fake_size)
    return bytes(patched)


def test_zip_bomb_with_lying_headers_is_refused_and_nothing_is_left(tmp_path):
    payload = b"\0" * (10 * 2**20)
    honest = _zip({"small.txt": b"a few bytes", "zeros.bin": payload})
    # Rebuild with only the bomb so the header offsets are simple, then make its headers lie.
    lying = _understate_sizes(_zip({"zeros.bin": payload}), "zeros.bin", 20_000)
    with zipfile.ZipFile(io.BytesIO(lying)) as archive:
        assert archive.infolist()[0].file_size == 20_000  # passes the declared-ratio check
    destination = tmp_path / "out"
    with pytest.raises(InvalidInputError, match="damaged|zip bomb"):
        uploads.extract_zip("liar.zip", lying, destination)
    assert _files_under(tmp_path) == []
    with pytest.raises(InvalidInputError, match="zip bomb"):
        uploads.extract_zip("honest.zip", honest, destination)


def test_partial_extraction_is_removed_when_a_later_member_is_refused(tmp_path):
    data = _zip({"a/first.txt": b"first", "a/second.txt": b"second", "../evil.txt": b"x"})
    with pytest.raises(InvalidInputError):
        uploads.extract_zip("late.zip", data, tmp_path / "out")
    assert _files_under(tmp_path) == []


def test_corrupt_member_gives_a_message_not_a_traceback(tmp_path):
    data = bytearray(_zip({"a.txt": b"hello world " * 100}))
    start = data.index(b"PK\x03\x04") + 30 + len("a.txt")
    data[start : start + 8] = b"\xff" * 8  # scramble the compressed stream
    with pytest.raises(InvalidInputError, match="damaged"):
        uploads.extract_zip("corrupt.zip", bytes(data), tmp_path / "out")
    assert _files_under(tmp_path) == []


def test_file_and_folder_with_the_same_name_give_a_message(tmp_path):
    with pytest.raises(InvalidInputError):
        uploads.extract_zip("clash.zip", _zip({"a": b"file", "a/b.txt": b"nested"}), tmp_path / "out")


@pytest.mark.parametrize(("data", "message"), [(b"not a zip", "not a zip archive"), (_zip({}), "holds no files")])
def test_non_archives_and_empty_archives_are_refused(tmp_path, data, message):
    with pytest.raises(InvalidInputError, match=message):
        uploads.extract_zip("x.zip", data, tmp_path / "out")


# --- images ----------------------------------------------------------------------------------


def _png(width: int = 4, height: int = 3, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def _with_declared_size(png: bytes, width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (with a correct chunk CRC)."""
    data = bytearray(png)
    ihdr = data.index(b"IHDR")
    struct.pack_into(">II", data, ihdr + 4, width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17])) & 0xFFFFFFFF
    struct.pack_into(">I", data, ihdr + 17, crc)
    return bytes(data)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "1"])
def test_images_of_every_mode_open_as_rgb(mode):
    image = uploads.open_image(_png(mode=mode), "x.png")
    assert (image.mode, image.size) == ("RGB", (4, 3))


def test_exif_orientation_is_applied():
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.new("RGB", (40, 20)).save(buffer, format="JPEG", exif=exif)
    assert uploads.open_image(buffer.getvalue(), "phone.jpg").size == (20, 40)


@pytest.mark.parametrize(("width", "height"), [(8000, 8000), (20_000, 20_000)], ids=["over-our-cap", "over-pil-cap"])
def test_decompression_bomb_images_are_refused_before_decoding(width, height):
    bomb = _with_declared_size(_png(), width, height)
    with pytest.raises(InvalidInputError, match="megapixels|decompression bomb"):
        uploads.open_image(bomb, "bomb.png")


@pytest.mark.parametrize(
    "data",
    [b"I am text pretending to be a PNG", b"%PDF-1.7 ...", _png()[:40], b"\x89PNG\r\n\x1a\n" + b"\0" * 50],
    ids=["text", "pdf", "truncated", "header-only"],
)
def test_non_images_with_image_names_are_refused(data):
    with pytest.raises(InvalidInputError, match="not an image this app can read"):
        uploads.open_image(data, "holiday.png")


def test_image_size_reads_the_header_without_decoding(monkeypatch):
    data = _png(30, 20)
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self))
    assert uploads.image_size(data, "x.png") == (30, 20)
    assert not decoded


@pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
def test_open_image_shrinks_to_max_side_keeping_the_aspect(image_format):
    buffer = io.BytesIO()
    Image.new("RGB", (3000, 1500), (200, 30, 30)).save(buffer, format=image_format)
    image = uploads.open_image(buffer.getvalue(), "big", max_side=1024)
    assert (image.mode, image.size) == ("RGB", (1024, 512))
    assert uploads.open_image(_png(), "small.png", max_side=1024).size == (4, 3)


def test_exif_orientation_is_applied_after_shrinking():
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (2000, 1000)).save(buffer, format="JPEG", exif=exif)
    assert uploads.open_image(buffer.getvalue(), "phone.jpg", max_side=500).size == (250, 500)


def test_oversized_image_file_is_refused(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_IMAGE_BYTES", 10)
    with pytest.raises(InvalidInputError, match="the limit is"):
        uploads.open_image(_png(), "big.png")


# --- text boxes ------------------------------------------------------------------------------


def test_enormous_text_is_refused_with_its_length():
    with pytest.raises(InvalidInputError, match="1,000,000 characters; the limit is 2,000"):
        uploads.check_text("x" * 1_000_000, 2000)


@pytest.mark.parametrize("text", ["", "   \n\t", "\x00\x00", None])
def test_empty_text_is_refused(text):
    with pytest.raises(InvalidInputError, match="is empty"):
        uploads.check_text(text, 100, "The prompt")


def test_text_at_the_limit_is_kept_without_nul_bytes():
    assert uploads.check_text("  a\x00b" + "c" * 98 + "  ", 100) == "ab" + "c" * 98


def test_size_refusals_have_their_own_error_type():
    with pytest.raises(InputTooLargeError, match="the limit is"):
        uploads.check_size("big.csv", 2 * 2**20, 2**20)
    with pytest.raises(InvalidInputError, match="is empty") as empty:
        uploads.check_size("empty.csv", 0, 2**20)
    assert not isinstance(empty.value, InputTooLargeError)


# --- archive names, encryption and duplicates -------------------------------------------------


class _RawNameInfo(zipfile.ZipInfo):
    """A member whose name bytes are written as given, without the UTF-8 flag (as old tools do)."""

    def __init__(self, raw: bytes, extra: bytes = b""):
        super().__init__(raw.decode("cp437"))  # how zipfile itself reads a name without the flag
        self.raw = raw
        self.extra = extra

    def _encodeFilenameFlags(self):  # noqa: N802 - zipfile's own name
        return self.raw, self.flag_bits & ~0x800


def _raw_zip(members: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, content in members:
            archive.writestr(info, content)
    return buffer.getvalue()


def test_gbk_names_from_chinese_windows_tools_become_the_right_folder_names(tmp_path):
    data = _raw_zip(
        [(_RawNameInfo("正面/好评 1.png".encode("gbk")), b"1"), (_RawNameInfo("负面/差评.png".encode("gbk")), b"2")]
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert not archive.infolist()[0].flag_bits & 0x800
        assert archive.namelist()[0] != "正面/好评 1.png"  # what zipfile alone would have made of it
    uploads.extract_zip("评论图片.zip", data, tmp_path / "out")
    assert _files_under(tmp_path / "out") == ["正面/好评 1.png", "负面/差评.png"]


@pytest.mark.parametrize(
    ("names", "encoding"),
    [
        (["貓/照片 1.png", "狗/照片 2.png"], "big5"),
        (["猫/写真 1.png", "犬/写真 2.png"], "shift_jis"),
        (["猫/照片 1.png", "狗/照片 2.png"], "gbk"),
    ],
)
def test_big5_and_shift_jis_names_become_the_right_folder_names(tmp_path, names, encoding):
    data = _raw_zip([(_RawNameInfo(name.encode(encoding)), b"1") for name in names])
    uploads.extract_zip("pets.zip", data, tmp_path / "out")
    assert _files_under(tmp_path / "out") == sorted(names)


def test_utf8_names_without_the_flag_are_read_as_utf8(tmp_path):
    data = _raw_zip([(_RawNameInfo("café/ünïcode 正面.png".encode()), b"1")])
    uploads.extract_zip("mac.zip", data, tmp_path / "out")
    assert _files_under(tmp_path / "out") == ["café/ünïcode 正面.png"]


def test_unicode_path_extra_field_wins_over_the_code_page_name(tmp_path):
    raw = "猫/1.png".encode("gbk")
    utf8 = "猫/1.png".encode()
    extra = struct.pack("<HHBI", 0x7075, 5 + len(utf8), 1, zlib.crc32(raw)) + utf8
    uploads.extract_zip("7zip.zip", _raw_zip([(_RawNameInfo(raw, extra), b"1")]), tmp_path / "out")
    assert _files_under(tmp_path / "out") == ["猫/1.png"]


@pytest.mark.parametrize("raw", [b"\x80\xff/1.png", b"ok/\x01\x02.png", b"\x1b[31mred.png"])
def test_names_in_an_unknown_encoding_or_with_controls_are_refused_with_the_reason(tmp_path, raw):
    data = _raw_zip([(_RawNameInfo(b"fine.png"), b"0"), (_RawNameInfo(raw), b"1")])
    with pytest.raises(InvalidInputError, match="not UTF-8, GB18030, Big5 or Shift-JIS text") as caught:
        uploads.extract_zip("odd.zip", data, tmp_path / "out")
    assert "\x1b" not in caught.value.user_text()
    assert _files_under(tmp_path) == []


def _mark_encrypted(data: bytes, member: str) -> bytes:
    """Set the 'encrypted' flag (bit 0) of ``member`` in its local and central headers."""
    patched = bytearray(data)
    name = member.encode()
    for signature, flags_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        start = 0
        while (start := patched.find(signature, start)) >= 0:
            if patched[start + name_at : start + name_at + len(name)] == name:
                patched[start + flags_at] |= 0x1
            start += 4
    return bytes(patched)


def test_encrypted_members_are_refused_with_the_reason(tmp_path):
    data = _mark_encrypted(_zip({"open/1.png": b"0", "secret/1.png": b"ciphertext"}), "secret/1.png")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.getinfo("secret/1.png").flag_bits & 0x1
    with pytest.raises(InvalidInputError, match="encrypted"):
        uploads.extract_zip("locked.zip", data, tmp_path / "out")
    assert _files_under(tmp_path) == []


def test_encrypted_xlsx_members_are_refused_with_the_reason():
    data = _mark_encrypted(_zip({"xl/workbook.xml": b"<workbook/>"}), "xl/workbook.xml")
    with pytest.raises(InvalidInputError, match="encrypted"):
        uploads.read_table("book.xlsx", data)


def test_exact_duplicate_names_are_refused(tmp_path):
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = _raw_zip([(zipfile.ZipInfo("cats/1.png"), b"first"), (zipfile.ZipInfo("cats/1.png"), b"second")])
    with pytest.raises(InvalidInputError, match="two entries named cats/1.png"):
        uploads.extract_zip("twice.zip", data, tmp_path / "out")
    assert _files_under(tmp_path) == []


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Cats/1.png", "cats/1.png"),  # one file on Windows and macOS
        ("cats//1.png", "cats/1.png"),
        ("cats/./1.png", "cats/1.png"),
        ("cats\\1.png", "cats/1.png"),
        ("caf\u00e9/1.png", "cafe\u0301/1.png"),  # NFC and NFD (macOS) spellings of café
    ],
)
def test_names_that_collide_on_extraction_are_refused(tmp_path, first, second):
    data = _zip({first: b"first", second: b"second"})
    with pytest.raises(InvalidInputError, match="overwrite each other|two entries named"):
        uploads.extract_zip("collide.zip", data, tmp_path / "out")
    assert _files_under(tmp_path) == []


def test_nfd_names_are_extracted_in_nfc(tmp_path):
    uploads.extract_zip("mac.zip", _zip({"cafe\u0301/1.png": b"1"}), tmp_path / "out")
    assert _files_under(tmp_path / "out") == ["caf\u00e9/1.png"]


@pytest.mark.parametrize(
    "cell",
    [" =1+1", "  +cmd", "\u00a0-2", "\u3000@SUM(A1)", "＝HYPERLINK(1)", "＋1", "－1", "＠x", " ＝1", "\n=1", "﹦1"],
)
def test_formulas_after_spaces_and_in_full_width_forms_are_escaped(cell):
    assert uploads.escape_formula(cell) == "'" + cell
    rows = list(csv.reader(io.StringIO(uploads.to_safe_csv(pd.DataFrame({"a": [cell]})).decode("utf-8-sig"))))
    assert rows[1] == ["'" + cell]


@pytest.mark.parametrize("cell", ["a = b", "  plain", "全角＝在中间", "e-mail", "2026-12-01"])
def test_text_that_only_contains_formula_signs_is_left_alone(cell):
    assert uploads.escape_formula(cell) == cell


# --- table shape: columns and cells, checked before parsing ------------------------------------

_WIDE = 200_000


def _wide_header(separator: str) -> bytes:
    return separator.join(f"c{i}" for i in range(_WIDE)).encode()


@pytest.mark.parametrize(("name", "separator"), [("wide.csv", ","), ("wide.tsv", "\t"), ("wide.txt", ";")])
def test_wide_delimited_header_is_refused_from_the_header_line(name, separator):
    # The second line is malformed: a refusal naming the columns shows no data row was parsed.
    data = _wide_header(separator) + b'\n"unterminated\n'
    with pytest.raises(InvalidInputError) as caught:
        uploads.read_table(name, data)
    assert caught.value.message == f"{name} has 200,000 columns in the header; the limit is 1,000."


def test_table_at_the_column_limit_is_read():
    header = ",".join(f"c{i}" for i in range(table_checks.MAX_TABLE_COLUMNS))
    frame = uploads.read_table("limit.csv", f"{header}\n{','.join('x' * 1000)}\n".encode())
    assert frame.shape == (1, table_checks.MAX_TABLE_COLUMNS)


def test_wide_first_json_line_is_refused_before_the_rest_is_read():
    line = json.dumps({f"k{i}": i for i in range(_WIDE)})
    with pytest.raises(InvalidInputError) as caught:
        uploads.read_table("wide.jsonl", f"{line}\nnot json\n".encode())
    assert caught.value.message == "wide.jsonl has 200,000 columns in line 1; the limit is 1,000."


def test_json_lines_whose_keys_add_up_past_the_limit_are_refused():
    lines = "\n".join(json.dumps({f"k{line}_{i}": i for i in range(400)}) for line in range(3))
    with pytest.raises(InvalidInputError, match="1,200 columns in lines 1-3 together; the limit is 1,000"):
        uploads.read_table("drift.jsonl", lines.encode())


def test_wide_first_json_record_is_refused_before_the_document_is_parsed():
    record = json.dumps({f"k{i}": i for i in range(_WIDE)})
    with pytest.raises(InvalidInputError) as caught:
        uploads.read_table("wide.json", f"[{record}, {{broken".encode())
    assert caught.value.message == "wide.json has 200,000 columns in the first record; the limit is 1,000."


def test_wide_json_columns_object_is_refused():
    document = json.dumps({f"k{i}": {"0": i} for i in range(5_000)})
    with pytest.raises(InvalidInputError, match="5,000 columns in the top-level object"):
        uploads.read_table("columns.json", document.encode())


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("cells.csv", b"a,b,c\n" + b"1,2,3\n" * 5),
        ("cells.jsonl", b'{"a": 1, "b": 2, "c": 3}\n' * 5),
        ("cells.json", b"[" + b",".join([b'{"a": 1, "b": 2, "c": 3}'] * 5) + b"]"),
    ],
)
def test_rows_times_columns_are_bounded(monkeypatch, name, data):
    monkeypatch.setattr(table_checks, "MAX_TABLE_CELLS", 12)
    with pytest.raises(InvalidInputError, match=r"x 3 columns = 1[2-5] cells \(or more\); the limit is 12 cells"):
        uploads.read_table(name, data)


def _rewrite_xlsx(data: bytes, part: str, edit) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            target.writestr(info.filename, edit(content) if info.filename == part else content)
    return buffer.getvalue()


def test_xlsx_with_a_cell_in_the_last_column_is_refused_from_its_dimension():
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active["A1"] = "text"
    workbook.active["XFD1048576"] = "far away"
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(InvalidInputError) as caught:
        uploads.read_table("far.xlsx", buffer.getvalue())
    assert caught.value.message == (
        "far.xlsx has 16,384 columns in its sheet's used range A1:XFD1048576; the limit is 1,000."
    )


def test_xlsx_whose_dimension_lies_is_checked_row_by_row():
    data = _xlsx_bytes([["text", "label"], ["a", "b"]])
    sheet = "xl/worksheets/sheet1.xml"

    def far_cell(xml: bytes) -> bytes:
        xml = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:B2"/>', xml)
        return xml.replace(
            b"</sheetData>", b'<row r="3"><c r="ZZZ3" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
        )

    with pytest.raises(InvalidInputError, match="18,278 columns in its sheet"):
        uploads.read_table("liar.xlsx", _rewrite_xlsx(data, sheet, far_cell))


def test_xlsx_rows_times_columns_are_bounded(monkeypatch):
    monkeypatch.setattr(table_checks, "MAX_TABLE_CELLS", 10)
    data = _xlsx_bytes([["text", "label"]] + [["a", "b"]] * 8)
    with pytest.raises(InvalidInputError, match="the limit is 10 cells"):
        uploads.read_table("cells.xlsx", data)


def _with_shared_strings(data: bytes, count: int) -> bytes:
    items = b"".join(b"<si><t>text %d</t></si>" % i for i in range(count))
    xml = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' + items + b"</sst>"
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", xml)
    return buffer.getvalue()


def test_xlsx_shared_strings_are_bounded_by_size(monkeypatch):
    data = _with_shared_strings(_xlsx_bytes([["text", "label"], ["a", "b"]]), 50)
    monkeypatch.setattr(table_checks, "MAX_XLSX_SHARED_STRINGS_BYTES", 200)
    with pytest.raises(
        InvalidInputError, match=r"shared strings \(xl/sharedStrings.xml\) declare \d+ KB; the limit is 0 KB"
    ):
        uploads.read_table("strings.xlsx", data)


def test_xlsx_shared_strings_are_bounded_by_count(monkeypatch):
    data = _with_shared_strings(_xlsx_bytes([["text", "label"], ["a", "b"]]), 50)
    monkeypatch.setattr(table_checks, "MAX_TABLE_CELLS", 20)
    with pytest.raises(InvalidInputError, match="more than 20 distinct texts"):
        uploads.read_table("strings.xlsx", data)


def test_xlsx_with_too_many_parts_is_refused(monkeypatch):
    monkeypatch.setattr(table_checks, "MAX_XLSX_ENTRIES", 3)
    with pytest.raises(InvalidInputError, match="parts; a workbook has at most 3"):
        uploads.read_table("parts.xlsx", _xlsx_bytes([["text"], ["a"]]))


def test_xlsx_part_that_unpacks_past_its_declared_size_is_refused():
    data = _xlsx_bytes([["text", "label"]] + [[f"row {i}", "pos"] for i in range(200)])
    sheet = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        real = archive.getinfo(sheet).file_size
    patched = bytearray(data)
    name = sheet.encode()
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        start = 0
        while (start := patched.find(signature, start)) >= 0:
            if patched[start + name_at : start + name_at + len(name)] == name:
                struct.pack_into("<I", patched, start + size_at, real // 10)
            start += 4
    with pytest.raises(InvalidInputError, match="not a readable .xlsx"):
        uploads.read_table("lying.xlsx", bytes(patched))


def test_xlsx_with_a_damaged_sheet_stream_gives_a_message_not_a_traceback():
    data = bytearray(_xlsx_bytes([["text", "label"]] + [[f"row {i}", "pos"] for i in range(200)]))
    name = b"xl/worksheets/sheet1.xml"
    local = 0
    while data[local + 30 : local + 30 + len(name)] != name:
        local = data.index(b"PK\x03\x04", local + 4)
    name_length, extra_length = struct.unpack_from("<HH", data, local + 26)
    start = local + 30 + name_length + extra_length
    data[start + 20 : start + 60] = b"\xff" * 40  # scramble the compressed stream
    with pytest.raises(InvalidInputError, match="not a readable .xlsx"):
        uploads.read_table("damaged.xlsx", bytes(data))


def test_json_lines_may_hold_unicode_line_separators_inside_strings():
    frame = uploads.read_table(
        "sep.jsonl", '{"text": "a\u2028b", "label": "x"}\n{"text": "c", "label": "y"}\n'.encode()
    )
    assert frame["text"].tolist() == ["a\u2028b", "c"]


def test_xlsx_with_an_outsized_styles_part_is_refused(monkeypatch):
    monkeypatch.setattr(table_checks, "MAX_XLSX_OTHER_XML_BYTES", 1000)
    with pytest.raises(
        InvalidInputError, match=r"xl/\w+/?\w*\.xml declares \d+ KB unpacked; the limit for that part is 1 KB"
    ):
        uploads.read_table("styles.xlsx", _xlsx_bytes([["text"], ["a"]]))


def test_xlsx_declaring_too_much_in_all_is_refused(monkeypatch):
    monkeypatch.setattr(table_checks, "MAX_XLSX_PART_BYTES", 5000)
    with pytest.raises(InvalidInputError, match=r"declares \d+ KB unpacked; the limit is 5 KB"):
        uploads.read_table("total.xlsx", _xlsx_bytes([["text"], ["a"]]))


def test_an_uploaders_limit_never_refuses_a_file_the_page_accepts():
    # The browser counts a megabyte as 10**6 bytes: a 50 MiB table is 52.4 of its megabytes.
    for limit in (uploads.MAX_TABLE_BYTES, uploads.MAX_IMAGE_BYTES, 1, 10**6, 10**6 + 1):
        assert uploads.upload_limit_mb(limit) * 10**6 >= limit
        assert uploads.upload_limit_mb(limit) * 2**20 >= limit
    assert uploads.upload_limit_mb(uploads.MAX_TABLE_BYTES) == 53


def test_a_nul_character_escaped_in_json_is_refused_naming_its_line():
    lines = b'{"text": "fine", "label": "pos"}\n{"text": "a\\u0000b", "label": "neg"}\n'
    with pytest.raises(InvalidInputError) as refused:
        uploads.read_table("nul.jsonl", lines)
    assert refused.value.message == "nul.jsonl: line 2 holds a NUL character (\\u0000)."
    with pytest.raises(InvalidInputError, match="the file holds a NUL character"):
        uploads.read_table("nul.json", b'[{"text": "ok"}, {"text": "x", "label": {"deep": ["\\u0000"]}}]')
    # A backslash followed by the letters "u0000" is ordinary text (a Windows path, say).
    frame = uploads.read_table("path.jsonl", b'{"text": "C:\\\\u0000", "label": "pos"}\n')
    assert frame["text"].tolist() == ["C:\\u0000"]


# --- JSON tables built from the records the checks parsed ------------------------------------------


def test_json_table_text_stays_text_and_numbers_stay_numbers():
    # No guessing on text: a date-named column or a number-like code stays the text typed.
    lines = b'{"date": "2024-01-02", "code": "007", "score": 3}\n{"date": "2024-02-03", "code": "1e3", "score": 0.5}\n'
    frame = uploads.read_table("typed.jsonl", lines)
    assert frame.to_dict("records") == [
        {"date": "2024-01-02", "code": "007", "score": 3.0},
        {"date": "2024-02-03", "code": "1e3", "score": 0.5},
    ]
    assert all(isinstance(value, str) for value in frame["date"])


def test_json_table_with_a_bom_blank_lines_and_a_nested_cell_reads_each_row_once():
    nested = {"turns": [{"role": "user", "content": "Hi"}]}
    data = (
        b"\xef\xbb\xbf"
        + f'{{"text": "a", "label": "x"}}\n\n  \n{json.dumps({"text": "b", "label": nested})}\n'.encode()
    )
    frame = uploads.read_table("rows.jsonl", data)
    assert list(frame.columns) == ["text", "label"]
    assert frame["text"].tolist() == ["a", "b"] and frame.loc[1, "label"] == nested
    with pytest.raises(InvalidInputError, match="line 4 is not JSON"):
        uploads.read_table("rows.jsonl", b"\xef\xbb\xbf" + b'{"text": "a"}\n\n\n{"text": "b",}\n')


def test_json_table_with_a_trailing_comma_is_refused_in_words():
    with pytest.raises(InvalidInputError) as refused:
        uploads.read_table("comma.json", b'[{"text": "a"},]')
    assert refused.value.message.startswith("comma.json could not be read as a table: it is not JSON (")
