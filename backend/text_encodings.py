"""Which East Asian legacy encoding bytes that are not UTF-8 were written in: GB18030, Big5 or Shift-JIS.

Chinese Windows saves text as GBK (GB18030 is its superset), Taiwanese and Hong Kong Windows as
Big5 (code page 950) and Japanese Windows as Shift-JIS (code page 932). Most Big5 and Shift-JIS
files also decode as GB18030, into wrong characters without an error, so "it decodes" is not
enough. Here each candidate decoding is judged: one that holds characters no encoder writes
(GB18030's private-use stand-ins for Big5's common characters) is out; GB18030 is kept when its
characters are the common simplified ones (GB2312, which covers everyday Chinese text, such as the
product's own material); otherwise charset-normalizer's mess detector picks the least garbled one.
Used for uploaded text (``uploads.decode_text``) and for zip member names (``zip_names``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

# Python's codec names for the Windows code pages that files are actually saved in (cp950 and
# cp932 are supersets of strict Big5 and Shift-JIS), in order of preference: the app's own
# material is Chinese (GBK).
_CANDIDATES = (("gb18030", "GB18030"), ("cp950", "Big5"), ("cp932", "Shift-JIS"))
_PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U0010ffff]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# Everyday GBK text is almost all GB2312; Big5 and Shift-JIS bytes read as GB18030 land mostly
# on rare characters outside it (under half in every sample tried, none for Japanese).
_SIMPLIFIED_SHARE = 0.9
# Enough characters to judge by, without encoding every character of a 50 MB file one by one.
_SAMPLE_CHARS = 20_000


@dataclass(frozen=True)
class Decoded:
    """A decoding chosen: the text, Python's codec ("cp950") and the name people know ("Big5")."""

    text: str
    codec: str
    encoding: str


def _simplified_share(text: str) -> float:
    characters = _NON_ASCII.findall(text, 0, 4 * _SAMPLE_CHARS)[:_SAMPLE_CHARS]
    if not characters:
        return 1.0
    common = 0
    for character in characters:
        try:
            character.encode("gb2312")
        except UnicodeEncodeError:
            continue
        common += 1
    return common / len(characters)


def decode_legacy(data: bytes) -> Decoded | None:
    """The most plausible of GB18030, Big5 and Shift-JIS for ``data``, or None when none fits.

    Args:
        data: bytes already found not to be UTF-8.
    """
    decoded: dict[str, str] = {}
    for codec, _shown in _CANDIDATES:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if not _PRIVATE_USE.search(text):
            decoded[codec] = text
    shown = dict(_CANDIDATES)
    if not decoded:
        return None
    chinese = decoded.get("gb18030")
    if chinese is not None and (len(decoded) == 1 or _simplified_share(chinese) >= _SIMPLIFIED_SHARE):
        return Decoded(chinese, "gb18030", shown["gb18030"])
    if len(decoded) == 1:
        [(codec, text)] = decoded.items()
        return Decoded(text, codec, shown[codec])
    best = from_bytes(data, cp_isolation=list(decoded), preemptive_behaviour=False).best()
    codec = best.encoding if best is not None and best.encoding in decoded else next(iter(decoded))
    return Decoded(decoded[codec], codec, shown[codec])
