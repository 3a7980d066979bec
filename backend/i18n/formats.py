"""Numbers, amounts and dates written for the reader's language (Babel's CLDR data): thousands
separators, percentages, and large amounts in 万 / 亿 for Chinese readers, always with the unit."""

from __future__ import annotations

from datetime import datetime

from babel import dates, numbers

from backend.i18n import current_language

# The CLDR locale each app language is written in.
BABEL_LOCALES: dict[str, str] = {"en": "en_US", "zh": "zh_Hans_CN"}
# Chinese groups large numbers by ten thousands: 万 (10^4) and 亿 (10^8).
_CHINESE_MAGNITUDES = ((10**8, "亿"), (10**4, "万"))
_ENGLISH_MAGNITUDES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"))


def babel_locale() -> str:
    return BABEL_LOCALES[current_language()]


def format_number(value: float, decimals: int = 0) -> str:
    """``value`` with the language's separators and ``decimals`` digits after the point."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return numbers.format_decimal(value, format=pattern, locale=babel_locale())


def format_percent(share: float, decimals: int = 0) -> str:
    """A share (0.42) as a percentage in the language's style ("42%")."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "") + "%"
    return numbers.format_percent(share, format=pattern, locale=babel_locale())


def format_amount(value: float, unit: str = "", decimals: int = 1) -> str:
    """A large amount, scaled to words a reader says: "1.2 billion US$" in English, "12 亿美元" in
    Chinese (万 / 亿). ``unit`` (already translated, e.g. "US$" / "美元") is always stated."""
    magnitudes = _CHINESE_MAGNITUDES if current_language() == "zh" else _ENGLISH_MAGNITUDES
    for size, word in magnitudes:
        if abs(value) >= size:
            scaled = (
                format_number(value / size, decimals).rstrip("0").rstrip(".")
                if decimals
                else format_number(value / size)
            )
            if current_language() == "zh":
                return f"{scaled}{word}{unit}"
            return f"{scaled} {word} {unit}".strip()
    plain = format_number(value, 0 if float(value).is_integer() else decimals)
    return f"{plain}{unit}" if current_language() == "zh" else f"{plain} {unit}".strip()


def format_timestamp(seconds: float) -> str:
    """A moment (seconds since the epoch, local time) as the language writes a date and time."""
    return dates.format_datetime(datetime.fromtimestamp(seconds), format="medium", locale=babel_locale())
