"""The app's screens: one row per page, read by app.py (navigation) and the home page (links).

Adding a page means adding one row here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageEntry:
    """A screen: where it lives, how it is titled, and one line for the home page."""

    section: str
    path: str
    title: str
    icon: str
    blurb: str
    url_path: str = ""


PAGES: tuple[PageEntry, ...] = (
    PageEntry(
        "Overview", "pages/overview/home.py", "Home", ":material/home:", "What this app shows and where to start."
    ),
    PageEntry(
        "Overview",
        "pages/overview/models.py",
        "Models",
        ":material/deployed_code:",
        "The model catalogue, the compute device, and what is loaded now.",
    ),
    PageEntry(
        "Overview",
        "pages/overview/compression_lab.py",
        "Compression lab",
        ":material/compress:",
        "Every variant of a model (bfloat16, int8, ONNX, CTranslate2, GGUF) measured here: size, speed, agreement.",
    ),
    PageEntry(
        "Market",
        "pages/market/adoption.py",
        "Market & adoption",
        ":material/monitoring:",
        "Cited charts of AI adoption, investment and model scale, with filters and CSV downloads.",
    ),
    PageEntry(
        "Market",
        "pages/market/your_data.py",
        "Your market data",
        ":material/upload_file:",
        "Upload your own market table and chart it beside or instead of the built-in figures.",
    ),
    PageEntry(
        "Market",
        "pages/market/applications.py",
        "Applications by industry",
        ":material/factory:",
        "Use cases from the source documents by industry and AI task, with semantic search.",
    ),
    PageEntry(
        "Demos",
        "pages/demos/sentiment.py",
        "Sentiment",
        ":material/sentiment_satisfied:",
        "Label a text, or a whole table, with a probability for every label.",
    ),
    PageEntry(
        "Demos",
        "pages/demos/translation.py",
        "Translation",
        ":material/translate:",
        "English, Chinese, German and French, sentence by sentence, greedy or beam search.",
    ),
    PageEntry(
        "Demos",
        "pages/demos/image_classification.py",
        "Image classification",
        ":material/image_search:",
        "Top-5 labels for a sample photo, an upload or the camera.",
    ),
    PageEntry(
        "Demos",
        "pages/demos/text_generation.py",
        "Text generation",
        ":material/chat:",
        "Chat with an instruct model; tokens stream in, with tokens per second.",
    ),
    PageEntry(
        "Fine-tuning",
        "pages/finetune/new_job.py",
        "New training job",
        ":material/model_training:",
        "Upload labelled texts or images, check them, and train your own classifier in the background.",
    ),
    PageEntry(
        "Fine-tuning",
        "pages/finetune/jobs.py",
        "Training jobs",
        ":material/monitoring:",
        "Live progress and curves, evaluation with confusion matrix, model download, run comparison.",
    ),
)

SECTIONS: tuple[str, ...] = ("Overview", "Market", "Demos", "Fine-tuning")


def pages_in(section: str) -> list[PageEntry]:
    """The pages of one section, in display order."""
    return [page for page in PAGES if page.section == section]
