"""A self-contained HTML briefing of the charts a reviewer selected: charts, sources, caveats, date.

Pure function, no I/O: figures and their sources in, one HTML string out. plotly.js is inlined
once (no CDN: the file must open offline and paste into a review deck); every piece of text that
comes from data or a user is HTML-escaped.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlsplit

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from backend.i18n import N_, _, current_language, ngettext
from backend.market.findings import Finding
from backend.market.series_labels import FONT_FAMILY, data_label
from backend.market.store import Source

_URL = re.compile(r"^https?://[^\s<>\"']+$", re.IGNORECASE)
_STYLE = (
    """
body { font-family: """
    + FONT_FAMILY
    + """; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
.meta { color: #555; font-size: 0.9em; }
section { border-top: 1px solid #ddd; margin-top: 2em; padding-top: 1em; page-break-inside: avoid; }
.sources { font-size: 0.85em; color: #333; }
.secondary { color: #8a5a00; }
.caveat { color: #555; font-style: italic; }
.summary { border: 2px solid #1f4e79; padding: 0.6em 1.2em; border-radius: 6px; }
.summary li { margin: 0.35em 0; }
.summary .source { color: #333; font-size: 0.85em; }
.subtitle { color: #444; font-size: 0.9em; margin: 0.2em 0 0 0; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
"""
)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class BriefingChart:
    """One chart of the briefing: its title, the figure as shown, and the sources of its rows."""

    title: str
    figure: go.Figure
    sources: list[Source] = field(default_factory=list)
    figures_count: int = 0

    @classmethod
    def of(cls, figure: go.Figure, sources: list[Source], figures_count: int, fallback: str = "") -> BriefingChart:
        """The chart titled with its figure's title as plain text: the figure's title is plotly
        markup (line breaks, escaped characters), which a heading or a picker would print as is."""
        return cls(plain_text(str(figure.layout.title.text or "")) or fallback, figure, sources, figures_count)


def plain_text(markup: str) -> str:
    """Plotly label markup as one line of plain text: line breaks become spaces, tags go, entities are decoded."""
    return " ".join(html.unescape(_TAG.sub(" ", markup)).split())


@dataclass(frozen=True)
class BriefingTable:
    """One table of the briefing (a ranking, a cost table): plain text cells, escaped when written.

    ``citations`` are (label, address) pairs listed under the table; an address that is not
    http(s) is printed as text, never linked.
    """

    title: str
    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    citations: tuple[tuple[str, str], ...] = ()


def _table_html(number: int, table: BriefingTable) -> str:
    head = "".join(f"<th>{_e(cell)}</th>" for cell in table.header)
    body = "\n".join("<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>" for row in table.rows)
    cited = "\n".join(
        f'<li>{_e(label)}: <a href="{_e(url)}">{_e(url)}</a></li>' if _URL.match(url or "") else f"<li>{_e(label)}</li>"
        for label, url in table.citations
    )
    sources = f'<div class="sources"><ol>\n{cited}\n</ol></div>' if cited else ""
    return (
        f'<section id="table-{number}">\n<h2>{_e(table.title)}</h2>\n<p class="subtitle">{_e(table.caption)}</p>\n'
        f"<table>\n<tr>{head}</tr>\n{body}\n</table>\n{sources}\n</section>"
    )


def untitled(figure: go.Figure) -> go.Figure:
    """A copy of ``figure`` without its title and subtitle, for a briefing section whose heading
    prints them (so no title is printed twice). Only their room leaves the top margin: a bar
    chart's first panel title lives there too (a flat 30 px cut it off), and the plot keeps its height."""
    bare = go.Figure(figure)
    title_px = int((bare.layout.meta or {}).get("title_px", 0))
    top = bare.layout.margin.t or 30
    bare.update_layout(title={"text": "", "subtitle": {"text": ""}}, margin={"t": max(top - title_px, 30)})
    if bare.layout.height:
        bare.update_layout(height=bare.layout.height - (top - bare.layout.margin.t))
    return bare


def reproduce_link(public_url: str, page_url: str, query: str) -> str:
    """The link that reproduces a page's filters.

    Args:
        public_url: the app's public address (the ``public_url`` setting), or "".
        page_url: the address the browser used for the page (may be localhost behind a proxy).
        query: the filters as a query string ("" for none).

    Returns:
        ``public_url`` + the page's path + ``?query`` when ``public_url`` is an http(s) address;
        otherwise ``page_url`` with ``query``; "" when neither is an http(s) address.
    """
    page = urlsplit(page_url) if _URL.match(page_url or "") else None
    if _URL.match(public_url or ""):
        base = public_url.rstrip("/") + (page.path if page else "")
    elif page:
        base = f"{page.scheme}://{page.netloc}{page.path}"
    else:
        return ""
    return f"{base}?{query}" if query else base


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _source_items(sources: list[Source]) -> str:
    items = []
    for source in sources:
        title = _e(data_label("source_title", source.title))
        cited = f'<a href="{_e(source.url)}">{title}</a>' if _URL.match(source.url or "") else title
        secondary = _("(secondary: third-party summary)")
        flag = f' <span class="secondary">{_e(secondary)}</span>' if source.verification == "secondary" else ""
        count = ngettext("{count} figure", "{count} figures", source.rows).format(count=source.rows)
        caveats = "".join(f'<li class="caveat">{_e(_caveat(data_label("note", c)))}</li>' for c in source.caveats)
        org = _e(data_label("source_org", source.org))
        items.append(f"<li>{org}: {cited} ({count}){flag}" + (f"<ul>{caveats}</ul>" if caveats else "") + "</li>")
    return "\n".join(items)


def _caveat(caveat: str) -> str:
    return _("Caveat: {caveat}").format(caveat=caveat)


def _source(source: str) -> str:
    return _("Source: {source}").format(source=source)


def _plain(markup: str) -> str:
    """Plotly label markup as escaped HTML text: line breaks kept, every other tag dropped."""
    lines = [html.unescape(_TAG.sub("", part)) for part in re.split(r"<br\s*/?>", markup)]
    return "<br>".join(_e(line) for line in lines if line.strip())


def _summary_html(findings: list[Finding]) -> str:
    if not findings:
        return ""
    items = "\n".join(
        f"<li><b>{_e(f.question)}.</b> {_e(f.text)}<br>"
        f'<span class="source">{_e(_source(f.source))}</span>'
        f' <span class="caveat">{_e(_caveat(f.caveat))}</span></li>'
        for f in findings
    )
    heading = _e(_("Key findings"))
    return f'<section class="summary" id="key-findings">\n<h2>{heading}</h2>\n<ol>\n{items}\n</ol>\n</section>'


_READING_NOTE = N_(
    "Hollow markers, dotted lines and hatched bars are figures found only in third-party summaries; "
    "dashed lines are forecasts, named with their publisher. Surveys count different things: compare "
    "within a line or panel."
)


def sources_heading(figures: int) -> str:
    return ngettext("Sources ({count} figure)", "Sources ({count} figures)", figures).format(count=figures)


def generated_line(when: str, charts: int, origin: str = "") -> str:
    """The line under the title: when, and from which page (``origin``; the market pages by default)."""
    if origin:
        return ngettext(
            "Generated {when} from Large Model Showcase, {origin}. {count} chart.",
            "Generated {when} from Large Model Showcase, {origin}. {count} charts.",
            charts,
        ).format(when=when, origin=origin, count=charts)
    return ngettext(
        "Generated {when} from Large Model Showcase, Market & adoption. {count} chart.",
        "Generated {when} from Large Model Showcase, Market & adoption. {count} charts.",
        charts,
    ).format(when=when, count=charts)


def build_briefing_html(
    charts: list[BriefingChart],
    *,
    generated: date | datetime,
    filters: str = "",
    link: str = "",
    title: str = "",
    findings: list[Finding] | None = None,
    tables: list[BriefingTable] | None = None,
    origin: str = "",
) -> str:
    """The briefing as one HTML document.

    Args:
        charts: the selected charts, in page order.
        generated: when the briefing was made (shown at the top).
        filters: the filters in words, e.g. "Source: Eurostat; Years: 2021-2025".
        link: an http(s) address that reproduces the page with these filters (left out otherwise).
        title: the document title (default: "AI market and adoption briefing", translated).
        findings: the key findings (``findings.key_findings``) for the one-screen summary at the top.
        tables: tables after the charts (the Applications page's ranking, weights and costs).
        origin: the page it comes from, for the line under the title (default: Market & adoption).

    Returns:
        A complete HTML document with plotly.js inlined once and no external script.
    """
    # Written in the language of the run that makes it, so a reviewer reads one language throughout.
    title = title or _("AI market and adoption briefing")
    when = generated.strftime("%Y-%m-%d %H:%M UTC") if isinstance(generated, datetime) else generated.isoformat()
    reproduce = _e(_("Reproduce these filters:"))
    link_html = f'<p class="meta">{reproduce} <a href="{_e(link)}">{_e(link)}</a></p>' if _URL.match(link) else ""
    sections = []
    for number, chart in enumerate(charts, start=1):
        subtitle = _plain(chart.figure.layout.title.subtitle.text or "")
        figure = untitled(chart.figure)
        body = figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"chart-{number}",
            config={"displaylogo": False, "responsive": True},
        )
        sections.append(
            f'<section id="section-{number}">\n<h2>{number}. {_e(chart.title)}</h2>\n'
            f'<p class="subtitle">{subtitle}</p>\n{body}\n'
            f'<div class="sources"><h3>{_e(sources_heading(chart.figures_count))}</h3>\n<ol>\n'
            f"{_source_items(chart.sources)}\n</ol></div>\n</section>"
        )
    filters_line = _("Filters: {filters}").format(filters=filters or _("none (all figures)"))
    # The note reads the market charts' markers; another page's briefing has none of them.
    reading_note = "" if origin else f'<p class="meta">{_e(_(_READING_NOTE))}</p>'
    return f"""<!DOCTYPE html>
<html lang="{"zh-CN" if current_language() == "zh" else "en"}">
<head>
<meta charset="utf-8">
<title>{_e(title)} ({_e(when)})</title>
<style>{_STYLE}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head>
<body>
<h1>{_e(title)}</h1>
<p class="meta">{_e(generated_line(when, len(charts), origin))}</p>
<p class="meta">{_e(filters_line)}</p>
{_summary_html(findings or [])}
{link_html}
{reading_note}
{"".join(sections)}
{"".join(_table_html(number, table) for number, table in enumerate(tables or [], start=len(charts) + 1))}
</body>
</html>
"""
