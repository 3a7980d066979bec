"""Every page in Chinese, in Chromium at a laptop's and a phone's size: no English left in what a
person reads, apart from model names, proper nouns and code. Screenshots land in
test-artifacts/screenshots/zh-*.png, and the English found on each page in
test-artifacts/english-left-in-chinese.json, for a person to look at."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from backend.models.resolve import catalogue
from pages.components.navigation import PAGES, PageEntry
from tests.support.live_app import (  # noqa: F401 - fixtures
    IDLE,
    PROJECT_ROOT,
    assert_no_exception,
    browser,
    screenshot,
    start_app,
    wait_until_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORTS = {"laptop": (1440, 900), "phone": (390, 844)}
REPORT = PROJECT_ROOT / "test-artifacts" / "english-left-in-chinese.json"
# Words that stay as they are in a Chinese product: names of models, companies, organisations,
# products, formats and units, and code. Anything else in Latin letters is English left behind.
KEPT = {
    word.lower()
    for word in [
        "AI",
        "GPU",
        "CPU",
        "CSV",
        "TSV",
        "JSON",
        "JSONL",
        "XLSX",
        "HTML",
        "PNG",
        "ZIP",
        "UTF",
        "GB18030",
        "MB",
        "GB",
        "ms",
        "UTC",
        "EXIF",
        "ImageNet",
        "LoRA",
        "F1",
        "Hugging",
        "Face",
        "Hub",
        "Qwen",
        "BERT",
        "DistilBERT",
        "RoBERTa",
        "MiniLM",
        "Marian",
        "MarianMT",
        "opus",
        "mt",
        "ViT",
        "Llama",
        "llama",
        "cpp",
        "GGUF",
        "ONNX",
        "CTranslate2",
        "torch",
        "transformers",
        "safetensors",
        "sentence",
        "Streamlit",
        "Python",
        "bfloat16",
        "bfloat",
        "float",
        # The language switch names each language in its own words.
        "English",
        "float32",
        "bf16",
        "fp16",
        "fp32",
        "int8",
        "int",  # of int8: the word pattern drops the digits
        "CTranslate",  # CTranslate2, the engine's name
        "SST",
        "McKinsey",
        "Eurostat",
        "Census",
        "BTOS",
        "IDC",
        "Gartner",
        "OECD",
        "Stanford",
        "HAI",
        "INE",
        "CAICT",
        "IDC",
        "Epoch",
        "Statista",
        "PwC",
        "Deloitte",
        "IT",
        "ICT",  # 信息通信技术, written ICT in Chinese statistics too (INE 企业 ICT 使用调查)
        "CAGR",
        "pp",
        "top",
        "token",
        "tokens",
        "alpha",
        "dropout",
        "all",
        "linear",
        "proj",
        "LSM",
        "Inter",
        "Noto",
    ]
}
# Code and addresses are not prose: leave out what the page shows as code, links' targets, and
# identifiers (paths, model ids, snake_case names, settings).
_NOT_PROSE = re.compile(r"\S*[/_=.]\S*|\b[A-Z]{2,}[A-Z0-9]*\b|[a-z]+[A-Z]\w*")
_WORD = re.compile(r"[A-Za-z]{3,}")


def url_path(entry: PageEntry) -> str:
    if entry.path == "pages/overview/home.py":
        return ""
    return entry.url_path or Path(entry.path).stem


# The catalogue's model titles are model names ("Multilingual sentiment"), shown as they are.
MODEL_TITLES = sorted({spec.title for task in catalogue.TASKS for spec in catalogue.models_for(task)}, key=len)[::-1]


def english_left(text: str) -> list[str]:
    """Words in Latin letters that are neither kept names nor code, in order of appearance."""
    for title in MODEL_TITLES:
        text = text.replace(title, " ")
    found: list[str] = []
    for word in _WORD.findall(_NOT_PROSE.sub(" ", text)):
        if word.lower() not in KEPT and word not in found:
            found.append(word)
    return found


def test_the_check_finds_english_and_keeps_names_and_code():
    text = "情感分析 · Qwen/Qwen2.5-0.5B-Instruct · 使用 GPU · Upload a table · `python -m backend.models`"
    assert english_left(text) == ["Upload", "table"]


def _visible_text(page) -> str:
    # Code blocks and the model picker's ids are code; what remains is prose a person reads.
    # After the screenshot: what is not prose is taken out of the live page before reading it.
    return page.evaluate(
        """() => {
            const root = document.body;
            // Icons are ligatures ("keyboard", "forum"): drawn as pictures, read as words by innerText.
            for (const node of root.querySelectorAll('span, i')) {
                if (getComputedStyle(node).fontFamily.includes('Material Symbols')) node.remove();
            }
            // Code is code. Streamlit's own skip link and uploader instructions are Streamlit's
            // text, which it cannot translate (streamlit/streamlit#1353).
            root.querySelectorAll(
                'code, pre, [data-testid="stCode"], [data-testid="stSkipToContent"], '
                + '[data-testid="stFileUploaderDropzoneInstructions"], [data-testid="stFileUploaderDropzone"] button'
            ).forEach((node) => node.remove());
            return root.innerText;
        }"""
    )


@pytest.fixture(scope="module")
def report():
    found: dict[str, list[str]] = {}
    yield found
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(found, ensure_ascii=False, indent=2), encoding="utf-8")


def _entries() -> list:
    return [pytest.param(entry, id=entry.path) for entry in PAGES]


@pytest.fixture(scope="module")
def fresh_app(browser, tmp_path_factory):  # noqa: F811
    """An app of its own, as a new user first sees it: the session's shared app carries the jobs,
    models and model servers other tests left, whose own names and data are not the pages' text."""
    app = start_app(tmp_path_factory.mktemp("chinese-app"))
    try:
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(app.url)
        tab.wait_for_selector(IDLE, timeout=90_000)
        context.close()
        yield app
    finally:
        app.stop()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("entry", _entries())
def test_every_page_in_chinese_leaves_no_english(browser, fresh_app, report, entry, viewport):  # noqa: F811
    width, height = VIEWPORTS[viewport]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(90_000)
    try:
        page.goto(f"{fresh_app.url}/{url_path(entry)}?lang=zh")
        wait_until_idle(page)
        assert_no_exception(page, entry.path)
        screenshot(page, f"zh-{url_path(entry) or 'home'}-{viewport}")
        left = english_left(_visible_text(page))
        report[f"{entry.path} ({viewport})"] = left
        assert left == [], f"{entry.path}: English left in the Chinese page: {left}"
    finally:
        context.close()
