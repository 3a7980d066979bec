"""Numbers, amounts and dates as each language writes them (Babel's CLDR data)."""

from __future__ import annotations

from datetime import datetime

from backend.i18n import use_language
from backend.i18n.formats import format_amount, format_number, format_percent, format_timestamp


def test_large_amounts_are_said_in_wan_and_yi_for_chinese_readers_with_the_unit():
    with use_language("zh"):
        assert format_amount(1.2e9, "美元") == "12亿美元"
        assert format_amount(35_000, "元") == "3.5万元"
        assert format_amount(820, "元") == "820元"
    with use_language("en"):
        assert format_amount(1.2e9, "US$") == "1.2 billion US$"
        assert format_amount(3.5e6, "US$") == "3.5 million US$"


def test_numbers_and_shares_follow_the_language():
    with use_language("en"):
        assert format_number(1234567.891, 1) == "1,234,567.9"
        assert format_percent(0.425, 1) == "42.5%"
    with use_language("zh"):
        assert format_number(1234567.891, 1) == "1,234,567.9"
        assert format_percent(0.425, 1) == "42.5%"


def test_dates_are_written_the_way_each_language_writes_them():
    moment = datetime(2026, 12, 7, 5, 30).timestamp()
    with use_language("zh"):
        assert format_timestamp(moment).startswith("2026年12月7日")
    with use_language("en"):
        assert format_timestamp(moment).startswith("Dec 7, 2026")
