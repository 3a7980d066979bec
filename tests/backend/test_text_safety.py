"""User strings shown through Markdown-rendering calls render as their literal text, never as markup."""

from __future__ import annotations

import html
import re

import pytest
from markdown_it import MarkdownIt

from backend.text_safety import plain_markdown, plain_markdown_lines, plotly_text

PAYLOADS = [
    "![x](http://evil/a.png)",
    "[click](http://evil)",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    ":red[big] and :material/home: and :smile:",
    ":blue-background[badge]",
    "**bold** _it_ `code` ~~gone~~",
    "# heading",
    "- list item",
    "1. ordered",
    "    indented code",
    "> quote",
    "---",
    "a | b | c",
    "<http://evil>",
    "http://evil.example/a and www.evil.example and boss@evil.example",
    "$x^2$ and $$y$$",
    "&lt;b&gt; &amp; &#60;",
    "line one\nline two\r\n# not a heading",
    "back\\slash\\[x]",
    "[a][ref]\n\n[ref]: http://evil",
    "评论 数据.csv",
    "ok-file.name (v2).csv",
    "_under_ __dunder__ snake_case_ x_",
    "#hash & &amp; {braces} ^caret! ![img]",
]
# The zero-width spaces are part of the literal text (they break auto-linking and shortcodes).
_ZERO_WIDTH_SPACE = "\u200b"


def _render(source: str) -> str:
    # CommonMark with raw HTML allowed: the strictest reading of what Streamlit could do with it.
    return MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough").render(source)


def _text_of(rendered: str) -> str:
    inner = re.sub(r"^<p>|</p>\n?$", "", rendered)
    return html.unescape(inner).replace(_ZERO_WIDTH_SPACE, "")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_renders_as_one_paragraph_of_its_own_text(payload):
    rendered = _render(plain_markdown(payload))
    assert rendered.startswith("<p>") and rendered.count("<p>") == 1, rendered
    # Only the paragraph tags: no a, img, script, em, code, h1, li, table, del, blockquote, pre.
    assert re.findall(r"<(/?\w+)", rendered) == ["p", "/p"], rendered
    expected = re.sub(r"[\r\n]+", " ", payload).lstrip(" ")
    assert _text_of(rendered).lstrip("\u00a0") == expected


@pytest.mark.parametrize("payload", PAYLOADS)
def test_escaped_source_has_no_live_markup_characters(payload):
    escaped = plain_markdown(payload)
    unescaped = re.sub(r"\\.", "", escaped)  # drop every backslash escape
    for char in "[]<>`*|~$":
        assert char not in unescaped, (char, escaped)
    # "_" only inside words (never emphasis there), "&" never before an entity name, "#" not first.
    assert not re.search(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", unescaped), escaped
    assert not re.search(r"&[A-Za-z#]", unescaped) and not unescaped.lstrip("\u00a0").startswith("#")
    assert "\n" not in escaped and "\r" not in escaped
    # Streamlit's directives, icons, emoji shortcodes and GFM autolinks all need these sequences.
    for pattern in (r":[a-z]", r"://", r"www\.", r"@\w"):
        assert not re.search(pattern, escaped), (pattern, escaped)


def test_ordinary_text_is_unchanged():
    for text in (
        "reviews 2026.csv",
        "3,000 different values",
        "0.500",
        "评论数据",
        "The file is empty.",
        "Set LSM_OFFLINE=1 (see the README) & try again!",
    ):
        assert plain_markdown(text) == text


def test_non_strings_are_shown_as_their_text():
    assert plain_markdown(3) == "3"
    assert plain_markdown(None) == "None"


def test_plotly_text_leaves_no_tag_plotly_would_draw():
    payload = "<a href='http://evil.example'>x</a><b>y</b><br><span style='font-size:90px'>z</span> & 1 < 2"
    shown = plotly_text(payload)
    assert "<" not in shown and ">" not in shown
    assert html.unescape(shown) == payload  # plotly decodes the entities: the reader sees what was typed


@pytest.mark.parametrize("escape", [plain_markdown, plotly_text])
def test_direction_overrides_cannot_reorder_the_words_around_a_name(escape):
    # U+202E reverses everything after it on the line: "invoice\u202efdp.exe is empty" would show as
    # "invoice" followed by "ytpme si exe.pdf", a spoofed file name and a garbled message.
    shown = escape("invoice\u202efdp.exe \u2066x\u2069 \u202bשלום\u202c is empty")
    assert shown == "invoicefdp.exe x שלום is empty"


def test_plain_markdown_lines_keeps_each_line_and_no_line_starts_a_block():
    text = "Hello ![x](http://evil/a.png)\n# head\n- item\n    code\n> quote\r\n\nnew paragraph"
    rendered = MarkdownIt("commonmark").render(plain_markdown_lines(text))
    assert rendered == (
        "<p>Hello ![x](http:\u200b//evil/a.png)<br />\n# head<br />\n- item<br />\n"
        "\u00a0\u00a0\u00a0\u00a0code<br />\n&gt; quote</p>\n<p>new paragraph</p>\n"
    )
