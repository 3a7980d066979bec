"""Keyword ranking of the catalogue: the fallback when no embedding model can be loaded.

English is split into lower-case words (stop words dropped) that match on a shared stem, so that
"detect" finds "detection" and "payments" finds "payment". Chinese has no spaces, so it is cut into
overlapping character bigrams ("信用卡欺诈" -> 信用, 用卡, 卡欺, 欺诈), the usual trick for
dictionary-free Chinese retrieval. Terms are weighted by inverse document frequency, so a rare word
such as "fraud" outweighs a common one such as "model".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from backend.use_cases import vocabulary as vocab
from backend.use_cases.catalogue import Catalogue, UseCase

_WORD = re.compile(r"[a-z0-9]+")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_STOP_WORDS = frozenset(
    _WORD.findall(
        "a an and are as at be by can for from how i in into is it its of on or our the their to use used "
        "using we what which with you your"
    )
)
# Words this short match only exactly: "car" must not find "card".
_MIN_PREFIX = 4
# A hit in the title counts fully; one only in the description, industry or task names counts less.
_BODY_WEIGHT = 0.6


def _normalise_word(word: str) -> str:
    # A trailing "e" hides shared stems: translate/translation, generate/generation, image/imaging.
    return word[:-1] if len(word) > _MIN_PREFIX and word.endswith("e") else word


def tokenize(text: str) -> list[str]:
    """Terms of a text: normalised English words, then Chinese bigrams (a lone character stays whole)."""
    lowered = (text or "").lower()
    words = [_normalise_word(word) for word in _WORD.findall(lowered) if len(word) > 1 and word not in _STOP_WORDS]
    chinese: list[str] = []
    for run in _CJK_RUN.findall(lowered):
        chinese.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    return words + chinese


def _document_terms(text: str) -> set[str]:
    # Documents also keep single Chinese characters, so a one-character query can match.
    terms = set(tokenize(text))
    for run in _CJK_RUN.findall(text or ""):
        terms.update(run)
    return terms


def _term_matches(query_term: str, terms: set[str]) -> bool:
    if query_term in terms:
        return True
    if len(query_term) < _MIN_PREFIX or not query_term.isascii():
        return False
    return any(
        len(term) >= _MIN_PREFIX and term.isascii() and (term.startswith(query_term) or query_term.startswith(term))
        for term in terms
    )


@dataclass(frozen=True)
class KeywordMatch:
    """One use case's keyword score (0 to 1: the IDF-weighted share of query terms it contains)."""

    use_case: UseCase
    score: float
    matched_terms: tuple[str, ...]


def _fields(use_case: UseCase) -> tuple[set[str], set[str]]:
    title = _document_terms(f"{use_case.title_en} {use_case.title_zh}")
    industry = vocab.find_term(vocab.INDUSTRIES, use_case.industry)
    tasks = [vocab.find_term(vocab.AI_TASKS, task) for task in use_case.tasks]
    body_text = " ".join(
        [use_case.description_en, use_case.description_zh, industry.en, industry.zh]
        + [task.en for task in tasks]
        + [task.zh for task in tasks]
    )
    return title, _document_terms(body_text)


def rank_by_keywords(query: str, catalogue: Catalogue) -> list[KeywordMatch]:
    """Every use case sharing a term with ``query``, best first (ties keep catalogue order).

    Args:
        query: English or Chinese text.
        catalogue: the use cases to rank.

    Returns:
        Matches with a score in (0, 1]; empty when the query has no usable term or nothing matches.
    """
    query_terms = list(dict.fromkeys(tokenize(query)))
    if not query_terms:
        return []
    fields = [_fields(use_case) for use_case in catalogue.use_cases]
    total = len(fields)
    weights = {}
    for term in query_terms:
        frequency = sum(1 for title, body in fields if _term_matches(term, title | body))
        weights[term] = math.log(1 + total / frequency) if frequency else math.log(1 + total)
    weight_sum = sum(weights.values())
    matches = []
    for use_case, (title, body) in zip(catalogue.use_cases, fields, strict=True):
        score = 0.0
        matched = []
        for term in query_terms:
            if _term_matches(term, title):
                score += weights[term]
            elif _term_matches(term, body):
                score += weights[term] * _BODY_WEIGHT
            else:
                continue
            matched.append(term)
        if matched:
            matches.append(KeywordMatch(use_case, score / weight_sum, tuple(matched)))
    return sorted(matches, key=lambda match: -match.score)
