"""Controlled vocabularies of the use-case catalogue: industries, AI tasks, maturity, sources, demos.

The terms are data (``data/use_case_vocabulary.csv``), read once here. The catalogue file may only
use the keys defined there, so the heatmap's rows and columns, the filters and the search index all
agree. Labels come in English and Chinese because the source documents are Chinese and the app
serves both languages.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from backend.config import PROJECT_ROOT
from backend.i18n import N_
from backend.records import JsonRecord


@dataclass(frozen=True)
class Term(JsonRecord):
    """One vocabulary entry: a stable key and its labels in both languages."""

    key: str
    en: str
    zh: str

    def label(self, language: str = "en") -> str:
        """The label in ``language`` ("en" or "zh"); English for anything else."""
        return self.zh if language == "zh" else self.en


def term_keys(terms: tuple[Term, ...]) -> tuple[str, ...]:
    """The keys of a vocabulary, in order."""
    return tuple(term.key for term in terms)


VOCABULARY_PATH = PROJECT_ROOT / "data" / "use_case_vocabulary.csv"


def read_vocabularies(path: Path = VOCABULARY_PATH) -> dict[str, tuple[Term, ...]]:
    """Each vocabulary of the file (one row a term: ``vocabulary,key,en,zh``), its terms in the
    file's order, which is the order the page shows them in.

    Raises:
        ValueError: a row without a key or a label, or a key twice in one vocabulary.
    """
    with path.open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    vocabularies: dict[str, list[Term]] = {}
    for number, row in enumerate(rows, start=2):
        term = Term(row["key"] or "", row["en"] or "", row["zh"] or "")
        terms = vocabularies.setdefault(row["vocabulary"], [])
        if not all((term.key.strip(), term.en.strip(), term.zh.strip())):
            raise ValueError(f"{path.name}, line {number}: a term needs a key and both labels")
        if term.key in term_keys(tuple(terms)):
            raise ValueError(f"{path.name}, line {number}: {term.key!r} is already in {row['vocabulary']}")
        terms.append(term)
    return {name: tuple(terms) for name, terms in vocabularies.items()}


_VOCABULARIES = read_vocabularies()
# Application domains in the order the source documents' own lists use (§1.x of the seed notes):
# the four technical domains every document names first, then sectors by how many documents name them.
INDUSTRIES: tuple[Term, ...] = _VOCABULARIES["industries"]
# AI tasks, grouped text / vision / speech / prediction so the heatmap's columns read in blocks.
AI_TASKS: tuple[Term, ...] = _VOCABULARIES["ai_tasks"]

# The seed notes' status letters: how a document presents a use case.
CURRENT = "C"
FUTURE = "F"
TREND = "T"
MATURITY: tuple[Term, ...] = _VOCABULARIES["maturity"]

# How the row's tasks were obtained: named by the documents, mapped by us, or not given at all.
STATED = "stated"
INFERRED = "inferred"
NO_TASKS = "none"
TASK_BASES: tuple[Term, ...] = _VOCABULARIES["task_bases"]

# The five source documents (in /work/shared/seeds, shipped to the team as 000_… to 004_…).
DOCUMENTS: tuple[Term, ...] = _VOCABULARIES["documents"]
DOCUMENT_FILES: dict[str, str] = {
    "000": "000_c6ef231d2b623d33.txt",
    "001": "001_e7b424b887c2f18c.txt",
    "002": "002_f0718e1a05002c7b.txt",
    "003": "003_8c997303fb015416.txt",
    "004": "004_64e507d4991ce8cf.txt",
}


@dataclass(frozen=True)
class DemoPage:
    """A page of the app that shows a use case's core task at work."""

    path: str
    title: str
    shows: str


# Every page the catalogue may link to (title and what it shows in English, shown translated). They are built by other parts of the project; the page
# links only those registered in the navigation and marks any other as coming soon.
DEMO_PAGES: tuple[DemoPage, ...] = (
    DemoPage("pages/demos/sentiment.py", N_("Sentiment demo"), N_("live sentiment analysis in English and Chinese")),
    DemoPage("pages/demos/translation.py", N_("Translation demo"), N_("live machine translation (en, zh, de, fr)")),
    DemoPage(
        "pages/demos/image_classification.py", N_("Image classification demo"), N_("live ImageNet classification")
    ),
    DemoPage(
        "pages/demos/text_generation.py", N_("Text generation demo"), N_("a live chat model that writes and answers")
    ),
    DemoPage(
        "pages/finetune/new_job.py",
        N_("Train your own classifier"),
        N_("fine-tuning on your own labelled texts or images"),
    ),
)


def find_term(terms: tuple[Term, ...], key: str) -> Term:
    """The entry with ``key``; KeyError naming the allowed keys otherwise."""
    for term in terms:
        if term.key == key:
            return term
    raise KeyError(f"{key!r} is not one of: {', '.join(term_keys(terms))}")


def find_demo(path: str) -> DemoPage | None:
    """The demo page at ``path``, or None when the catalogue knows no such page."""
    return next((page for page in DEMO_PAGES if page.path == path), None)
