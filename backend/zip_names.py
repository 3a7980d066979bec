"""Zip member names as their authors wrote them, or a refusal that says why.

The zip format stores names as bytes. Only entries with general-purpose flag bit 11 (0x800) are
UTF-8 by declaration; Python's zipfile decodes every other name as cp437, so a folder named
``正面`` zipped by a Chinese Windows tool (which writes the system code page, GBK) arrives as
``ΓΓ`` -like noise and would become a garbled class name. Here those names are re-decoded: the
Info-ZIP Unicode Path extra field when present, then UTF-8 (many tools write it without setting
the flag), then the legacy encoding the names are most plausibly in (GB18030, a superset of GBK,
from Chinese Windows; Big5; Shift-JIS from Japanese Windows: ``text_encodings``), refusing with
the reason when none gives sensible text.
"""

from __future__ import annotations

import struct
import unicodedata
import zipfile
import zlib

from backend import text_encodings
from backend.errors import InvalidInputError
from backend.i18n import _

UTF8_FLAG = 0x800
ENCRYPTED_FLAG = 0x1
# Info-ZIP Unicode Path extra field: version 1, CRC-32 of the header's name bytes, UTF-8 name.
_UNICODE_PATH_FIELD = 0x7075
# Letters, marks, digits, punctuation, symbols and spaces; no controls, private use or unassigned.
_SENSIBLE_CATEGORIES = ("L", "M", "N", "P", "S", "Zs")


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    # zipfile decoded the bytes as cp437, a one-to-one mapping, so encoding gives them back.
    return info.orig_filename.encode("cp437")


def _unicode_path_field(info: zipfile.ZipInfo, raw: bytes) -> str | None:
    extra, offset = info.extra or b"", 0
    while offset + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, offset)
        body = extra[offset + 4 : offset + 4 + size]
        offset += 4 + size
        if kind != _UNICODE_PATH_FIELD or len(body) < 5 or body[0] != 1:
            continue
        # A stale field (the name was changed by a tool that ignores it) has the wrong CRC.
        if struct.unpack_from("<I", body, 1)[0] != zlib.crc32(raw):
            return None
        try:
            return body[5:].decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _is_sensible(text: str) -> bool:
    return bool(text) and all(
        char.isascii() and char.isprintable() or unicodedata.category(char).startswith(_SENSIBLE_CATEGORIES)
        for char in text
    )


def _undeclared(info: zipfile.ZipInfo) -> bytes | None:
    """The raw name of a member whose encoding the archive does not declare (None otherwise)."""
    if info.flag_bits & UTF8_FLAG:
        return None
    raw = _raw_name(info)
    if raw.isascii() or _unicode_path_field(info, raw) is not None:
        return None
    return raw


def archive_encoding(infos: list[zipfile.ZipInfo]) -> str:
    """The one codec of an archive's undeclared non-ASCII names: UTF-8 when every one reads as
    sensible UTF-8, else the legacy encoding (GB18030, Big5 or Shift-JIS) all the names together
    most plausibly are, when every one reads as sensible text in it.

    One tool wrote the whole archive, so its names share one encoding; deciding name by name let a
    GBK name that happens to be valid UTF-8 bytes (猫 became ``è``) pass beside correctly decoded ones,
    and judging all the names at once gives the choice among legacy encodings more to go on.
    When none fits every name, UTF-8 is returned and the names it cannot read are refused.
    """
    names = [raw for raw in map(_undeclared, infos) if raw is not None]
    try:
        if all(_is_sensible(raw.decode("utf-8")) for raw in names):
            return "utf-8"
    except UnicodeDecodeError:
        pass
    decoded = text_encodings.decode_legacy(b"\n".join(names))
    if decoded is not None and all(_is_sensible(raw.decode(decoded.codec)) for raw in names):
        return decoded.codec
    return "utf-8"


def member_name(info: zipfile.ZipInfo, archive_name: str, encoding: str = "") -> str:
    """The member's name as its author meant it, in Unicode NFC form.

    Args:
        info: the member, as ``zipfile`` read it.
        archive_name: the upload's name, for messages.
        encoding: the archive's encoding of undeclared names (``archive_encoding``); without it,
            each name is tried as UTF-8, then GB18030.

    Raises:
        InvalidInputError: the name is in an encoding this app cannot identify, or holds control
            characters.
    """
    if info.flag_bits & UTF8_FLAG:
        candidates = [info.orig_filename]
    else:
        raw = _raw_name(info)
        candidates = []
        if raw.isascii():
            candidates.append(raw.decode("ascii"))
        else:
            candidates.append(_unicode_path_field(info, raw))
            for tried in (encoding,) if encoding else ("utf-8", "gb18030"):
                try:
                    candidates.append(raw.decode(tried))
                except UnicodeDecodeError:
                    continue
    for candidate in candidates:
        if candidate is not None and _is_sensible(candidate):
            return unicodedata.normalize("NFC", candidate)
    raw = info.orig_filename.encode("utf-8" if info.flag_bits & UTF8_FLAG else "cp437")
    shown = "".join(chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in raw)[:120]
    raise InvalidInputError(
        _(
            "{archive_name}: the name of an entry ({shown}) is not UTF-8, GB18030, Big5 or Shift-JIS "
            "text, or holds control characters, so its folder and file names cannot be read reliably."
        ).format(archive_name=archive_name, shown=shown),
        _(
            "Create the archive with a tool that stores UTF-8 names (7-Zip, or Windows 11's "
            "Compress to ZIP), or rename the files with plain letters and digits."
        ),
    )


def check_not_encrypted(info: zipfile.ZipInfo, archive_name: str, shown_name: str) -> None:
    """Refuse a password-protected member: it cannot be read, and asking for its password is not our job."""
    if info.flag_bits & ENCRYPTED_FLAG:
        raise InvalidInputError(
            _("{archive_name}: {shown_name} is encrypted (password-protected); nothing was extracted.").format(
                archive_name=archive_name, shown_name=shown_name
            ),
            _("Create the archive again without a password."),
        )


def collision_key(path: str) -> str:
    """The key under which two member paths would land on the same file on some disk.

    Case-insensitive file systems (Windows, macOS) and Unicode normalisation (macOS writes NFD)
    make ``Cat/1.png``, ``cat/1.png`` and their decomposed forms one file.
    """
    return unicodedata.normalize("NFC", path).casefold()
