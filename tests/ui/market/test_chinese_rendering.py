"""Chinese renders in exported charts: the PNG a viewer downloads (plotly.js's image export, in
Chromium) draws each Chinese character as its own glyph, not as the same empty box.

The check counts distinct glyph shapes: a chart is rendered once per character, with that character
as its title and nothing else different, so N distinct characters give N distinct images where a
font has them, and one image where every character falls back to the same missing-glyph box. A
font known to lack CJK (DejaVu Sans) shows the check failing as it should.
"""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import date
from pathlib import Path

import plotly.graph_objects as go
import pytest
from PIL import Image, ImageDraw, ImageFont
from plotly.offline import get_plotlyjs

from backend.market.briefing import BriefingChart, build_briefing_html
from backend.market.series_labels import FONT
from tests.support.live_app import PROJECT_ROOT, browser  # noqa: F401 - fixture

pytestmark = pytest.mark.browser

CHARACTERS = "模型采用率预测"
LATIN_ONLY_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "screenshots"


def _figure(title: str) -> go.Figure:
    figure = go.Figure(go.Bar(x=["2024", "2025"], y=[20, 30]))
    figure.update_layout(title={"text": title}, font=FONT, width=480, height=320)
    return figure


def _distinct(images: list[bytes]) -> int:
    return len({hashlib.sha256(image).hexdigest() for image in images})


def _pil_glyph(font: ImageFont.FreeTypeFont, character: str) -> bytes:
    image = Image.new("L", (64, 64), 255)
    ImageDraw.Draw(image).text((8, 8), character, font=font, fill=0)
    return image.tobytes()


@pytest.mark.skipif(not LATIN_ONLY_FONT.exists(), reason="DejaVu Sans is not installed")
def test_the_check_catches_empty_boxes_from_a_font_without_chinese():
    font = ImageFont.truetype(str(LATIN_ONLY_FONT), 40)
    assert _distinct([_pil_glyph(font, c) for c in CHARACTERS]) == 1
    # ...while Latin letters, which the font has, are told apart.
    assert _distinct([_pil_glyph(font, c) for c in "ABCDEFG"]) == 7


@pytest.fixture(scope="module")
def chromium(browser):  # noqa: F811 - the session's one Chromium (two Playwright drivers cannot share a thread)
    return browser


@pytest.fixture(scope="module")
def chart_page(chromium):
    page = chromium.new_page()
    page.set_content(f"<html><head><script>{get_plotlyjs()}</script></head><body><div id='chart'></div></body></html>")
    return page


def _exported_png(page, figure: go.Figure) -> bytes:
    """The PNG the chart's camera button downloads (Plotly.toImage, as Plotly.downloadImage does)."""
    url = page.evaluate(
        """async (spec) => {
            const div = document.getElementById('chart');
            await Plotly.newPlot(div, spec.data, spec.layout);
            return await Plotly.toImage(div, {format: 'png', width: 480, height: 320});
        }""",
        figure.to_plotly_json(),
    )
    return base64.b64decode(url.split(",", 1)[1])


def test_an_exported_chart_draws_every_chinese_character_as_its_own_glyph(chart_page):
    images = [_exported_png(chart_page, _figure(character)) for character in CHARACTERS]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "chinese-chart-export.png").write_bytes(_exported_png(chart_page, _figure("各行业 AI 采用率预测")))
    assert _distinct(images) == len(CHARACTERS)
    # Not blank either: the title region holds dark pixels.
    title = Image.open(io.BytesIO(images[0])).convert("L").crop((0, 0, 480, 60))
    assert min(title.getdata()) < 128


def test_the_briefing_draws_chinese_headings_as_glyphs(chromium):
    page = chromium.new_page()
    shots = []
    for character in CHARACTERS[:4]:
        page.set_content(
            build_briefing_html([BriefingChart(character, _figure(character))], generated=date(2026, 12, 7))
        )
        shots.append(page.locator("h2").first.screenshot())
    assert _distinct(shots) == 4
