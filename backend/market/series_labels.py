"""Names, colours and escaped text of market series: one colour and label per source, the
secondary-source marking, and markdown-safe source lists."""

from __future__ import annotations

import functools
import re
import textwrap
from pathlib import Path

import pandas as pd

from backend.i18n import N_, _, current_language, ngettext
from backend.i18n.formats import format_amount
from backend.text_safety import plotly_text

# One colour per source, kept across every chart so a reader learns it once (AI Index style).
DATASET_COLOURS: dict[str, str] = {
    "mckinsey_state_of_ai": "#1f4e79",
    "eurostat_isoc_eb_ai": "#2a9d8f",
    "census_btos": "#e76f51",
    "ibm_global_ai_adoption_index": "#7b2cbf",
    "ai_index_investment": "#8c1515",
    "oecd_ai_investment": "#3a86ff",
    "epoch_notable_models": "#264653",
    "ai_spending_forecasts": "#6a4c93",
    "china_ai_industry": "#c1121f",
    "uk_ai_adoption": "#457b9d",
    "ama_physician_ai": "#2d6a4f",
    "sas_genai_survey": "#bc6c25",
    "ine_ict_enterprises": "#b5838d",
    "statcan_ai_use": "#9c6644",
    "korea_ai_adoption": "#90be6d",
    "sector_ai_surveys": "#277da1",
}
# User datasets get colours far from the built-in ones, so "beside" comparisons stay readable.
_USER_PALETTE: tuple[str, ...] = ("#d4a017", "#c2185b", "#00838f", "#5d4037", "#558b2f", "#ef6c00")

DATASET_LABELS: dict[str, str] = {
    "mckinsey_state_of_ai": N_("McKinsey State of AI"),
    "eurostat_isoc_eb_ai": N_("Eurostat"),
    "census_btos": N_("US Census BTOS"),
    "ibm_global_ai_adoption_index": N_("IBM AI Adoption Index"),
    "ai_index_investment": N_("Stanford AI Index"),
    "oecd_ai_investment": N_("OECD"),
    # A name in every language (and "epoch" is a training word in the glossary), so not marked.
    "epoch_notable_models": "Epoch AI",
    "ai_spending_forecasts": N_("IDC / Gartner spending"),
    "china_ai_industry": N_("China (CAICT, CCID, CNGAI, MIIT)"),
    "uk_ai_adoption": N_("UK DSIT / DCMS"),
    "ama_physician_ai": N_("AMA physicians survey"),
    "sas_genai_survey": N_("SAS / Coleman Parkes"),
    "ine_ict_enterprises": N_("Spain INE"),
    "statcan_ai_use": N_("Statistics Canada"),
    "korea_ai_adoption": N_("Korea (Statistics Korea via KCCI SGI)"),
    "sector_ai_surveys": N_("Sector surveys (finance, health, teachers)"),
}

# Whole sentences, so each is translated whole (shown with ``_()``).
SECONDARY_NOTES: dict[str, str] = {
    "lines": N_(
        "Hollow markers and dotted lines: figure found only in a third-party summary (verification = secondary)."
    ),
    "bars": N_(
        "Hatched bars: figure found only in a third-party summary (verification = secondary)."
        " Faded bars: bounds (more than / less than)."
    ),
    "points": N_("Hollow markers: figure found only in a third-party summary (verification = secondary)."),
}
DATASET_ORDER: tuple[str, ...] = tuple(DATASET_LABELS)
SECONDARY_PATTERN = "/"
PRIMARY_SYMBOL = "circle"
# Marker shapes for further series of the same source (its colour stays the same).
SERIES_SYMBOLS: tuple[str, ...] = ("circle", "diamond", "square", "triangle-up", "star", "hexagon")
CONFIDENCE_SYMBOLS: dict[str, str] = {"Confident": "circle", "Likely": "diamond", "Speculative": "x"}
# Latin faces first, then a CJK face for Chinese labels wherever the chart is drawn: in the
# viewer's browser (PNG exports too) and on the server (fonts-noto-cjk from packages.txt). Without
# one, Chinese titles come out as empty boxes.
CJK_FONTS = "'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei', 'WenQuanYi Zen Hei'"
FONT_FAMILY = f"Inter, Helvetica, Arial, {CJK_FONTS}, sans-serif"
FONT = {"family": FONT_FAMILY, "size": 13}


def measure_group(row: object) -> str:
    """What a row's value counts, with the size threshold of firm surveys: values in one group may
    share an axis, values in different groups never do ("Firms, 10+ employees", "Hospitals").

    Args:
        row: a mapping (a table row) with ``measure`` and ``size_threshold``; rows without a
            measure (uploads, amounts) fall back to their unit.
    """
    get = row.get if hasattr(row, "get") else (lambda key, default="": default)
    measure = str(get("measure", "") or "").strip()
    if not measure:
        return str(get("unit", "") or "")
    threshold = str(get("size_threshold", "") or "").strip()
    name = measure[0].upper() + measure[1:]
    if measure == "firms" and threshold:
        return f"{name}, {threshold}" if threshold != "not stated" else f"{name}, size threshold not stated"
    if measure == "respondents' organisations" and threshold not in ("", "not stated"):
        return f"{name}, {threshold}"
    return name


def dataset_rank(dataset: str) -> int:
    """Display order: a user's own datasets first (shown beside ours, theirs lead), then the
    built-in sources in a fixed order."""
    return DATASET_ORDER.index(dataset) if dataset in DATASET_ORDER else -1


# How a row's figure was found (the ``verification`` column), in the reader's words.
VERIFICATION_WORDS: dict[str, str] = {"primary": N_("primary"), "secondary": N_("secondary")}


def verification_label(verification: str) -> str:
    """'primary' / 'secondary' in the reader's language (anything else as written)."""
    return _(VERIFICATION_WORDS[verification]) if verification in VERIFICATION_WORDS else str(verification)


def dataset_label(dataset: str) -> str:
    """A reader's name for a dataset (user datasets keep their own name)."""
    return _(DATASET_LABELS[dataset]) if dataset in DATASET_LABELS else dataset


# The reader's words for the shipped tables' text (places, slices, what was measured, who counts,
# source titles) are data kept beside the tables, one file per language, so a new row brings its
# label with it and a test can name the row that lacks one (data/README.md, "Labels").
DATA_LABELS_DIR = Path(__file__).resolve().parents[2] / "data" / "market" / "labels"
LABELLED_COLUMNS: tuple[str, ...] = (
    "geography",
    "segment",
    "measure",
    "unit",
    "population",
    "definition",
    "definition_version",
    "edition",
    "source_title",
    "source_org",
    # Caveats: shown in hovers, source lists, the briefing and the "Other figures" table.
    "note",
)


@functools.cache
def data_labels(language: str) -> dict[tuple[str, str], str]:
    """``(column, English text) -> label`` for one language (empty for English or a language
    without a label file)."""
    path = DATA_LABELS_DIR / f"{language}.csv"
    if not path.exists():
        return {}
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return {(c, en): label for c, en, label in zip(table["column"], table["en"], table[language], strict=True) if label}


def data_label(column: str, text: object) -> str:
    """A shipped table's ``text`` from ``column`` in the reader's language; a user's own text (and
    anything without a label) is shown as typed."""
    return data_labels(current_language()).get((column, str(text)), str(text))


def exported_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Market rows for a CSV download: the same column keys and numbers, the labelled text (places,
    measures, caveats, sources) in the reader's language, so a Chinese reader's export carries the
    caveats they read on the page."""
    if current_language() not in ("zh",) or frame.empty:
        return frame
    present = [column for column in LABELLED_COLUMNS if column in frame.columns]
    return frame.assign(**{c: [data_label(c, v) for v in frame[c]] for c in present})


def localised_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of market rows for showing in a table: the labelled columns in the reader's language.
    Selections and figures work on the rows as loaded (their logic compares English keys)."""
    if current_language() not in ("zh",) or frame.empty:
        return frame
    present = [column for column in LABELLED_COLUMNS if column in frame.columns]
    shown = frame.assign(**{c: [data_label(c, v) for v in frame[c]] for c in present})
    if "dataset" in frame.columns:
        shown["dataset"] = [dataset_label(str(dataset)) for dataset in frame["dataset"]]
    if {"value", "unit"} <= set(frame.columns):
        # Money in 万 / 亿 with its currency (the unit cell then says nothing more); every value
        # as text, so the column keeps one type.
        money = [unit in MONEY_UNITS for unit in frame["unit"]]
        shown["value"] = [
            value_label(value, unit) if is_money else f"{value:g}"
            for value, unit, is_money in zip(frame["value"], frame["unit"], money, strict=True)
        ]
        shown["unit"] = ["" if is_money else unit for unit, is_money in zip(shown["unit"], money, strict=True)]
    return shown


def colour_for(dataset: str, user_datasets: list[str] | None = None) -> str:
    """The source's colour; unknown (user) datasets cycle through a separate palette."""
    if dataset in DATASET_COLOURS:
        return DATASET_COLOURS[dataset]
    others = sorted(set(user_datasets or []) | {dataset})
    return _USER_PALETTE[others.index(dataset) % len(_USER_PALETTE)]


def hollow(symbol: str) -> str:
    """The open variant of a marker symbol ('x' has none, so it stays)."""
    return symbol if symbol in ("x", "cross") or symbol.endswith("-open") else f"{symbol}-open"


def safe_text(text: object) -> str:
    """Escape text for plotly labels: user uploads must not inject markup into the page."""
    return plotly_text(text)


def wrapped(text: str, width: int = 70) -> str:
    """Escaped text broken into lines for titles and legends, ``width`` Latin characters a line.

    Chinese has no spaces to break at and each character is about two Latin ones wide, so text
    with wide characters is measured by display width and may break between any two of them
    (never before closing punctuation or after opening punctuation)."""
    lines = _wide_lines(str(text), width) if _WIDE.search(str(text)) else textwrap.wrap(str(text), width)
    return "<br>".join(safe_text(line) for line in lines) or safe_text(text)


# East Asian wide and full-width characters (CJK, kana, hangul, full-width forms).
_WIDE_CHARACTERS = "\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6"
_WIDE = re.compile(f"[{_WIDE_CHARACTERS}]")
# Punctuation a line may not start with (closing) or end with (opening), in either script.
_NO_LINE_START = set("，。、：；！？）》」』】〕,.:;!?)%")
_NO_LINE_END = set("（《「『【〔(")


def display_width(text: str) -> int:
    """Columns ``text`` takes in Latin characters' widths (a Chinese character takes two)."""
    return sum(2 if _WIDE.match(character) else 1 for character in text)


def _wide_lines(text: str, width: int) -> list[str]:
    """Greedy lines of at most ``width`` display columns; a Latin word stays whole when it fits."""
    # Units that may not be split: a Latin word or number, one wide character, or a space.
    units: list[str] = re.findall(rf"\s+|[^\s{_WIDE_CHARACTERS}]+|.", " ".join(text.split()))
    glued: list[str] = []
    for unit in units:
        if glued and not glued[-1].isspace() and (unit[0] in _NO_LINE_START or glued[-1][-1] in _NO_LINE_END):
            glued[-1] += unit
        else:
            glued.append(unit)
    lines, line = [], ""
    for unit in glued:
        while not unit.isspace() and len(unit) > width and not _WIDE.search(unit):
            # An address longer than a whole line is cut where the line ends.
            lines += [line.rstrip()] if line.strip() else []
            lines.append(unit[:width])
            line, unit = "", unit[width:]
        if display_width(line + unit) > width and line.strip():
            # A short name after the line's last space ("欧盟统计局 · 丹麦") moves whole to the next line.
            head, space, tail = line.rpartition(" ")
            if space and head.strip() and not unit.isspace() and display_width(tail + unit) <= width // 3:
                line, unit = head, tail + unit
            lines.append(line.rstrip())
            line = "" if unit.isspace() else unit
        else:
            line += unit
    if line.strip():
        lines.append(line.rstrip())
    return lines


def human_number(value: float, unit: str = "") -> str:
    """Large numbers as words (175 billion parameters), FLOP in scientific notation."""
    if unit == "FLOP":
        mantissa, exponent = f"{value:.3g}".split("e") if "e" in f"{value:.3g}" else (f"{value:.3g}", "0")
        return f"{mantissa}×10^{int(exponent)} FLOP" if exponent != "0" else f"{mantissa} FLOP"
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(value) >= size:
            return f"{value / size:.4g} {word} {unit}".strip()
    return f"{value:,.4g} {unit}".strip()


# Money units of the shipped tables: the amount one unit stands for and the currency's own name,
# so a Chinese reader sees "2,523亿美元" rather than "252.3 USD billion".
MONEY_UNITS: dict[str, tuple[float, str]] = {
    "USD billion": (1e9, N_("US$")),
    "USD million": (1e6, N_("US$")),
    "CNY billion": (1e9, N_("CNY")),
    "GBP billion": (1e9, N_("GBP")),
}


def states_unit(unit: str) -> bool:
    """Whether ``value_label`` already writes the unit (money for Chinese readers, percentages)."""
    return unit == "percent" or (unit in MONEY_UNITS and current_language() == "zh")


def value_label(value: float, unit: str, qualifier: str = "") -> str:
    """A bar or hover label: '≈33.9', '>67', '<8', '12%'; money for Chinese readers in 万 / 亿
    with its currency ('≈2,523亿美元')."""
    prefix = {"about": "≈", "nearly": "≈", "more than": ">", "less than": "<", "implied": "~"}.get(qualifier, "")
    if unit in MONEY_UNITS and current_language() == "zh":
        size, currency = MONEY_UNITS[unit]
        return prefix + format_amount(float(value) * size, _(currency), decimals=1)
    number = f"{value:,.3g}" if abs(value) >= 1000 else f"{value:g}"
    suffix = "%" if unit == "percent" else ""
    return f"{prefix}{number}{suffix}"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def markdown_escape(text: object) -> str:
    """Escape markdown (and Streamlit's ``:icon:``/``$math$``) so cited text shows as typed."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def source_markdown(sources: list) -> str:
    """A numbered markdown list of sources (``store.Source``) with links and secondary marked."""
    lines = []
    for number, source in enumerate(sources, start=1):
        title = markdown_escape(data_label("source_title", source.title))
        # Validation admits only http(s) addresses without spaces or quotes; brackets are encoded
        # so a URL cannot close the markdown link early.
        url = source.url.replace("(", "%28").replace(")", "%29")
        cited = f"[{title}]({url})" if url else title
        flag = (
            " — *" + markdown_escape(_("(secondary: third-party summary)")) + "*"
            if source.verification == "secondary"
            else ""
        )
        count = ngettext("{count} figure", "{count} figures", source.rows).format(count=source.rows)
        lines.append(f"{number}. {markdown_escape(data_label('source_org', source.org))}: {cited} ({count}){flag}")
        for caveat in getattr(source, "caveats", ()):
            lines.append("    - " + _("*Caveat:* {caveat}").format(caveat=markdown_escape(data_label("note", caveat))))
    return "\n".join(lines)


def best_figures_markdown(table: object, proxies: bool = True) -> str:
    """``industries.best_figures`` as a markdown list a reader sees whole (a table cuts its cells
    after a few words): each industry with its best comparable figure or "no comparable figure",
    and, with ``proxies``, on the next line its nearest proxies and why they do not compare.

    Without ``proxies`` the list is one line an industry: the answer that fits a projector's
    screen, the proxies being the detail a click away (``proxies_markdown``)."""
    lines = []
    for _index, row in table.iterrows():
        lines.append(f"- **{markdown_escape(row['industry'])}: {markdown_escape(row['best comparable figure'])}**  ")
        if proxies:
            lines.append(f"  {_proxy_detail(row)}")
    return "\n".join(lines)


def proxies_markdown(table: object) -> str:
    """Each industry's nearest proxies and why they do not compare, one item an industry."""
    return "\n".join(f"- **{markdown_escape(row['industry'])}:** {_proxy_detail(row)}" for _i, row in table.iterrows())


def _proxy_detail(row: object) -> str:
    detail = _("Nearest proxies: {proxies}").format(proxies=markdown_escape(row["nearest proxies"]))
    if why := str(row["why the proxies do not compare"]):
        detail += ". " + _("*Not comparable:* {why}").format(why=markdown_escape(why))
    return detail
