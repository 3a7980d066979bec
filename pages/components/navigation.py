"""The app's screens: one row per page, read by app.py (navigation) and the home page (links).

Adding a page means adding one row here.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.i18n import N_


@dataclass(frozen=True)
class PageEntry:
    """A screen: where it lives, how it is titled, and one line for the home page (English, marked
    with ``N_``: shown through ``_()``)."""

    section: str
    path: str
    title: str
    icon: str
    blurb: str
    url_path: str = ""
    # The models it runs must stay hidden (the blind arena): the sidebar does not list loaded models there.
    hides_models: bool = False


PAGES: tuple[PageEntry, ...] = (
    PageEntry(
        N_("Overview"),
        "pages/overview/home.py",
        N_("Home"),
        ":material/home:",
        N_("What this app shows and where to start."),
    ),
    PageEntry(
        N_("Overview"),
        "pages/overview/models.py",
        N_("Models"),
        ":material/deployed_code:",
        N_("The model catalogue, the compute device, and what is loaded now."),
    ),
    PageEntry(
        N_("Overview"),
        "pages/overview/compression_lab.py",
        N_("Compression lab"),
        ":material/compress:",
        N_("Every variant of a model (bfloat16, int8, ONNX, CTranslate2, GGUF) measured here: size, speed, agreement."),
    ),
    PageEntry(
        N_("Market"),
        "pages/market/adoption.py",
        N_("Market & adoption"),
        ":material/monitoring:",
        N_("Cited charts of AI adoption, investment and model scale, with filters and CSV downloads."),
    ),
    PageEntry(
        N_("Market"),
        "pages/market/your_data.py",
        N_("Your market data"),
        ":material/upload_file:",
        N_("Upload your own market table and chart it beside or instead of the built-in figures."),
    ),
    PageEntry(
        N_("Market"),
        "pages/market/applications.py",
        N_("Applications by industry"),
        ":material/factory:",
        N_("Use cases from the source documents by industry and AI task, with semantic search."),
    ),
    PageEntry(
        N_("Demos"),
        "pages/demos/sentiment.py",
        N_("Sentiment"),
        ":material/sentiment_satisfied:",
        N_("Label a text, or a whole table, with a probability for every label."),
    ),
    PageEntry(
        N_("Demos"),
        "pages/demos/translation.py",
        N_("Translation"),
        ":material/translate:",
        N_("English, Chinese, German and French, sentence by sentence, greedy or beam search."),
    ),
    PageEntry(
        N_("Demos"),
        "pages/demos/image_classification.py",
        N_("Image classification"),
        ":material/image_search:",
        N_("Top-5 labels for a sample photo, an upload or the camera."),
    ),
    PageEntry(
        N_("Demos"),
        "pages/demos/text_generation.py",
        N_("Text generation"),
        ":material/chat:",
        N_("Chat with an instruct model; tokens stream in, with tokens per second."),
    ),
    PageEntry(
        N_("Demos"),
        "pages/demos/compare.py",
        N_("Compare models"),
        ":material/compare_arrows:",
        N_("One input to two to four models side by side, with costs, disagreements and scored tables."),
    ),
    PageEntry(
        N_("Demos"),
        "pages/demos/arena.py",
        N_("Blind arena"),
        ":material/how_to_vote:",
        N_("Vote between two hidden chat models; a leaderboard with intervals, and the votes as preference data."),
        hides_models=True,
    ),
    PageEntry(
        N_("Fine-tuning"),
        "pages/finetune/new_job.py",
        N_("New training job"),
        ":material/model_training:",
        N_("Upload labelled texts or images, check them, and train your own classifier in the background."),
    ),
    PageEntry(
        N_("Fine-tuning"),
        "pages/finetune/jobs.py",
        N_("Training jobs"),
        ":material/monitoring:",
        N_("Live progress and curves, evaluation with confusion matrix, model download, run comparison."),
    ),
)

SECTIONS: tuple[str, ...] = (N_("Overview"), N_("Market"), N_("Demos"), N_("Fine-tuning"))


def pages_in(section: str) -> list[PageEntry]:
    """The pages of one section, in display order."""
    return [page for page in PAGES if page.section == section]
