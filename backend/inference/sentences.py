"""Splitting text into sentences for translation and joining translated sentences back.

Translation models are trained on single sentences and degrade (or get cut off) on long inputs,
so long texts are split into paragraphs and sentences, translated in batches and re-joined with
the paragraph breaks kept. Chinese and Japanese end sentences with 。！？ and need no space between
sentences; Western languages end them with .!? followed by a space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A sentence runs up to a CJK end mark (no space needed after it) or a Western end mark that is
# followed by whitespace or the end, plus any closing quotes or brackets after the mark.
_SENTENCE = re.compile(r"\S.*?(?:[。！？]+[”’」』）)\"']*|[.!?]+[”’\"')\]]*(?=\s|$)|$)", re.S)
_CLAUSE_BREAK = re.compile(r"(?<=[,，、;；:：])")
# Languages written without spaces between sentences.
_NO_SPACE_LANGUAGES = {"zh", "ja"}
MAX_SEGMENT_CHARS = 300


@dataclass(frozen=True)
class Segment:
    """One piece of text to translate: ``paragraph`` numbers the paragraph it came from."""

    paragraph: int
    text: str


def _split_long(sentence: str, limit: int) -> list[str]:
    if len(sentence) <= limit:
        return [sentence]
    pieces: list[str] = []
    current = ""
    for clause in _CLAUSE_BREAK.split(sentence):
        while len(clause) > limit:
            cut = clause.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            clause_head, clause = clause[:cut], clause[cut:]
            if current:
                pieces.append(current)
                current = ""
            pieces.append(clause_head)
        if current and len(current) + len(clause) > limit:
            pieces.append(current)
            current = ""
        current += clause
    if current:
        pieces.append(current)
    return [piece.strip() for piece in pieces if piece.strip()]


def split_sentences(text: str, max_chars: int = MAX_SEGMENT_CHARS) -> list[Segment]:
    """Paragraphs (split at line breaks) cut into sentences of at most ``max_chars`` characters.

    Sentences longer than ``max_chars`` are cut at clause marks (commas, semicolons), then at
    spaces, then anywhere. Empty lines are dropped but paragraph numbers keep the layout.
    """
    segments: list[Segment] = []
    for paragraph, line in enumerate(text.splitlines()):
        for match in _SENTENCE.finditer(line):
            sentence = match.group(0).strip()
            if sentence:
                segments.extend(Segment(paragraph, piece) for piece in _split_long(sentence, max_chars))
    return segments


def join_sentences(segments: list[Segment], translations: list[str], target_language: str) -> str:
    """Re-join translated segments: one line per source line, spaced as the target language writes."""
    separator = "" if target_language in _NO_SPACE_LANGUAGES else " "
    lines: dict[int, list[str]] = {}
    for segment, translation in zip(segments, translations, strict=True):
        lines.setdefault(segment.paragraph, []).append(translation.strip())
    last = max(lines, default=-1)
    # Paragraph numbers with no segment were blank lines in the source; keep them blank.
    return "\n".join(separator.join(part for part in lines.get(number, []) if part) for number in range(last + 1))
