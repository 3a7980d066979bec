"""What a Chinese page must not show: English left in the text a person reads.

One checker for every browser test of the Chinese pages (a fresh app, and an app with jobs, models
and model servers): ``visible_text`` reads what a page shows, tables drawn on a canvas and charts'
titles, axes and legends included, without code; ``english_left`` finds the words in Latin letters
that are neither kept names nor code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from backend.market.store import load_market_data
from backend.models.resolve import catalogue

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
        # Organisations and a report named in the market data: Korea's SGI, Capital Economics, the AI Index.
        "SGI",
        "Capital",
        "Economics",
        "Index",
    ]
}
# Code and addresses are not prose: leave out what the page shows as code, links' targets, and
# identifiers (paths, model ids, snake_case names, settings, job ids such as 20261207-093858-89dbb6).
# Record ids are lower-case words joined by hyphens (``nlp-summarization``): code, not prose.
_NOT_PROSE = re.compile(
    r"\S*[/_=.]\S*|\b[A-Z]{2,}[A-Z0-9]*\b|[a-z]+[A-Z]\w*|[A-Za-z0-9-]*\d[A-Za-z0-9-]*|\b[a-z]+(?:-[a-z]+)+\b"
)
_WORD = re.compile(r"[A-Za-z]{3,}")


# The catalogue's model titles are model names ("Multilingual sentiment"), shown as they are.
MODEL_TITLES = sorted({spec.title for task in catalogue.TASKS for spec in catalogue.models_for(task)}, key=len)[::-1]
# The market data's notable models (GPT-3 davinci, Megatron-Turing NLG 530B) are model names too.
_MARKET_DATA = load_market_data()
MARKET_MODELS = sorted(set(_MARKET_DATA.loc[_MARKET_DATA["segment_type"] == "model", "segment"]), key=len)[::-1]


def english_left(text: str, names: Iterable[str] = ()) -> list[str]:
    """Words in Latin letters that are neither kept names nor code, in order of appearance.

    ``names`` are what people named and typed (a model's title, a model server's name, the labels
    of their data): shown as they were given, in whatever language they were given.
    """
    for title in sorted({*MODEL_TITLES, *MARKET_MODELS, *names}, key=len, reverse=True):
        text = text.replace(title, " ")
    found: list[str] = []
    for word in _WORD.findall(_NOT_PROSE.sub(" ", text)):
        if word.lower() not in KEPT and word not in found:
            found.append(word)
    return found


def visible_text(page) -> str:  # noqa: ANN001 - a Playwright page
    """The text a person reads on ``page``, less code; call it after any screenshot (it takes code
    out of the live page)."""
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
            // Tables are drawn on a canvas; their cells are in the grid's accessible copy. Charts
            // are SVG: titles, axes, ticks and legends are text elements.
            const drawn = [
                ...root.querySelectorAll(
                    '[data-testid="stDataFrame"] [role="columnheader"], [data-testid="stDataFrame"] [role="gridcell"]'
                ),
                ...root.querySelectorAll('.js-plotly-plot svg text'),
            ]
                .map((node) => node.textContent)
                // A true/false column is drawn as check boxes: the words are not shown.
                .filter((text) => text !== 'true' && text !== 'false');
            // A picker shows its pick in an input box, which innerText leaves out.
            const picked = [...root.querySelectorAll('input[role="combobox"]')].map((node) => node.value);
            return [root.innerText, ...drawn, ...picked].join('\\n');
        }"""
    )
