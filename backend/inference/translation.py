"""Machine translation: split into sentences, translate in length-sorted batches, re-join.

Greedy decoding is the fast choice; beam search keeps several candidate translations and is
usually more fluent. Options go into a fresh ``GenerationConfig`` per call, so the shared cached
model is never changed by one user's choice.

Batch use (benchmarks)::

    outputs = translation.translate(loaded, ["Hello.", "How are you?"], num_beams=4, batch_size=16)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from backend.errors import InvalidInputError
from backend.i18n import _
from backend.inference import tables
from backend.inference.batching import ProgressCallback, check_batch_size, run_sorted
from backend.inference.footer import RunFooter, make_footer, stopwatch
from backend.inference.sentences import Segment, join_sentences, split_sentences
from backend.models.loader import LoadedModel
from backend.records import JsonRecord
from backend.uploads import check_text, check_whole_number

MAX_CHARS = 5_000
DEFAULT_BATCH_SIZE = 8
MAX_BEAMS = 8
# Each row may hold several sentences, and a table is one job: it must end in minutes, not hours.
MAX_TABLE_ROWS = 1_000
# MarianMT models are trained on sentences of up to 512 tokens.
_MAX_MODEL_TOKENS = 512
# A translation is rarely more than twice as many tokens as its source; the margin covers
# very short inputs.
_OUTPUT_RATIO = 2
_OUTPUT_MARGIN = 16
# Models with several target languages (opus-mt-en-zh: Simplified, Traditional, Cantonese...)
# need the target as a ">>code<<" token at the start of every sentence; first match wins.
_TARGET_CODES = {
    "zh": (">>cmn_Hans<<", ">>zho_Hans<<", ">>cmn<<", ">>zho<<", ">>zh<<"),
    "en": (">>eng<<", ">>en<<"),
    "de": (">>deu<<", ">>de<<"),
    "fr": (">>fra<<", ">>fr<<"),
}

# Many-to-many models (M2M100, NLLB, mBART-50) start each translation with the target language's
# token; left to choose, they answer in any language (often the source's). First match wins.
# Each language's token in many-to-many models (M2M100, NLLB, mBART-50): it tags the source and starts the target.
_LANGUAGE_TOKENS = {
    "zh": ("__zh__", "zho_Hans", "zh_CN"),
    "en": ("__en__", "eng_Latn", "en_XX"),
    "de": ("__de__", "deu_Latn", "de_DE"),
    "fr": ("__fr__", "fra_Latn", "fr_XX"),
}


@dataclass(frozen=True)
class Translated(JsonRecord):
    """One translated sentence (or short text)."""

    source: str
    translation: str
    source_tokens: int
    output_tokens: int
    truncated: bool


@dataclass(frozen=True)
class TranslationResult(JsonRecord):
    """The demo's answer: the whole translation, the sentence pairs, and what it cost."""

    json_properties = ("decoding", "notice")

    source_text: str
    translation: str
    sentences: list[Translated]
    source_language: str
    target_language: str
    num_beams: int
    footer: RunFooter

    @property
    def decoding(self) -> str:
        """``greedy`` or ``beam search``."""
        return "greedy" if self.num_beams == 1 else "beam search"

    @property
    def notice(self) -> str:
        """What the user should know about the input ("" when nothing)."""
        cut = sum(item.truncated for item in self.sentences)
        if cut:
            return f"{cut} sentence(s) were longer than the model's token limit and were cut."
        return ""


def check_beams(num_beams: int) -> int:
    """Refuse a beam count outside 1..MAX_BEAMS (1 means greedy)."""
    message = _("Beams must be a whole number from 1 (greedy) to {MAX_BEAMS}; got {num_beams!r}.")
    return check_whole_number(num_beams, 1, MAX_BEAMS, message.format(MAX_BEAMS=MAX_BEAMS, num_beams=num_beams))


def token_limit(loaded: LoadedModel) -> int:
    """Most source tokens one sentence may have before it is cut."""
    limit = getattr(loaded.preprocessor, "model_max_length", None)
    if not isinstance(limit, int) or limit <= 0:
        return _MAX_MODEL_TOKENS
    return min(limit, _MAX_MODEL_TOKENS)


def target_prefix(loaded: LoadedModel, target_language: str | None) -> str:
    """The ">>code<< " prefix a multi-target model needs for ``target_language`` ("" if none)."""
    codes = getattr(loaded.preprocessor, "supported_language_codes", None) or []
    for code in _TARGET_CODES.get(target_language or "", ()):
        if code in codes:
            return f"{code} "
    return ""


def _language_token(tokenizer: Any, language: str | None) -> tuple[str, int] | None:
    """A many-to-many model's token for ``language`` and its id (None for a model without one)."""
    unknown = getattr(tokenizer, "unk_token_id", None)
    for token in _LANGUAGE_TOKENS.get(language or "", ()):
        token_id = tokenizer.convert_tokens_to_ids(token)
        if isinstance(token_id, int) and token_id != unknown:
            return token, token_id
    return None


def target_token_id(loaded: LoadedModel, target_language: str | None) -> int | None:
    """The id of the token a many-to-many model starts a ``target_language`` translation with
    (None for a model without language tokens)."""
    found = _language_token(loaded.preprocessor, target_language)
    return found[1] if found else None


def source_code(loaded: LoadedModel, source_language: str | None) -> str | None:
    """The ``src_lang`` a many-to-many tokenizer tags ``source_language`` with ("zh" for M2M100's
    ``__zh__``, "zho_Hans" for NLLB); None for a tokenizer without one. Left alone, such a
    tokenizer tags every source as English, its default."""
    if not hasattr(loaded.preprocessor, "src_lang"):
        return None
    found = _language_token(loaded.preprocessor, source_language)
    if found is None:
        return None
    token = found[0]
    return token.strip("_") if token.startswith("__") else token


def _generation_config(
    loaded: LoadedModel, num_beams: int, longest_input: int, limit: int, target_token: int | None = None
):
    # A copy keeps the model's own settings (bad words, forced EOS) without touching the shared one.
    config = copy.deepcopy(loaded.model.generation_config)
    if target_token is not None:
        config.forced_bos_token_id = target_token
    config.num_beams = num_beams
    config.do_sample = False
    config.num_return_sequences = 1
    # The decoder's length, counted with its start token; max_length rather than max_new_tokens
    # because the copied config already sets max_length and both at once draws a warning.
    config.max_length = min(limit, longest_input * _OUTPUT_RATIO + _OUTPUT_MARGIN) + 1
    config.early_stopping = num_beams > 1
    return config


def _translate_batch(
    loaded: LoadedModel,
    sentences: list[str],
    num_beams: int,
    limit: int,
    prefix: str,
    target_token: int | None,
    source: str | None,
) -> list[Translated]:
    tokenizer = loaded.preprocessor
    inputs = [prefix + sentence for sentence in sentences]
    # The lock: a fast tokenizer keeps truncation and padding (and a many-to-many one its source
    # language) as shared state that each call sets before encoding, so two sessions' calls could
    # otherwise encode with each other's settings.
    with loaded.lock:
        if source is not None:
            tokenizer.src_lang = source  # every engine's source tokens come from this tokenizer
        probe = tokenizer(inputs, truncation=True, max_length=limit + 1, padding=True, return_tensors="pt")
        batch = tokenizer(inputs, truncation=True, max_length=limit, padding=True, return_tensors="pt")
    probe_lengths = probe["attention_mask"].sum(dim=-1).tolist()
    batch = {name: tensor.to(loaded.device.torch_device) for name, tensor in batch.items()}
    lengths = batch["attention_mask"].sum(dim=-1).tolist()
    config = _generation_config(loaded, num_beams, max(lengths), limit, target_token)
    with torch.inference_mode():
        outputs = loaded.model.generate(**batch, generation_config=config)
    with loaded.lock:
        texts = tokenizer.batch_decode(outputs, skip_special_tokens=True)
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    output_counts = [sum(int(token) not in special for token in row) for row in outputs.tolist()]
    return [
        Translated(
            source=source,
            translation=text.strip(),
            source_tokens=int(length),
            output_tokens=count,
            truncated=probe_length > limit,
        )
        for source, text, length, count, probe_length in zip(
            sentences, texts, lengths, output_counts, probe_lengths, strict=True
        )
    ]


def translate(
    loaded: LoadedModel,
    sentences: Sequence[str],
    num_beams: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
    target_language: str | None = None,
    source_language: str | None = None,
) -> list[Translated]:
    """Translate sentences in length-sorted batches; results in the input order.

    Each input is translated as one unit: split long texts first (``translate_text`` does).

    Args:
        loaded: a sequence-to-sequence translation model from the runtime.
        sentences: non-empty texts.
        num_beams: 1 for greedy decoding, more for beam search.
        batch_size: sentences per ``generate`` call.
        progress: called with (done, total) after each batch.
        target_language: "zh", "en", "de" or "fr"; picks the target of multi-target models.
        source_language: the same codes; tags the source of many-to-many models (M2M100, NLLB).

    Raises:
        InvalidInputError: no sentences, an empty one, or bad options.
    """
    check_beams(num_beams)
    check_batch_size(batch_size)
    if not sentences:
        raise InvalidInputError(_("There is nothing to translate."))
    cleaned = [check_text(text, MAX_CHARS, what=f"Sentence {number}") for number, text in enumerate(sentences, 1)]
    return _translate_checked(loaded, cleaned, num_beams, batch_size, progress, target_language, source_language)


def _translate_checked(
    loaded: LoadedModel,
    sentences: list[str],
    num_beams: int,
    batch_size: int,
    progress: ProgressCallback | None,
    target_language: str | None,
    source_language: str | None = None,
) -> list[Translated]:
    limit = token_limit(loaded)
    prefix, target_token = target_prefix(loaded, target_language), target_token_id(loaded, target_language)
    source = source_code(loaded, source_language)
    return run_sorted(
        sentences,
        [len(text) for text in sentences],
        batch_size,
        lambda batch: _translate_batch(loaded, batch, num_beams, limit, prefix, target_token, source),
        progress,
    )


def _translate_documents(
    loaded: LoadedModel,
    documents: list[str],
    target_language: str,
    num_beams: int,
    batch_size: int,
    progress: ProgressCallback | None,
    source_language: str | None = None,
) -> list[tuple[str, list[Translated]]]:
    # Sentences of every document go through one sorted run, so short and long documents share
    # batches; then each document is re-joined from its own sentences. Each document is checked
    # once (a text box's content was, by the page); its sentences (stripped, non-empty, shorter)
    # are not checked again.
    check_beams(num_beams)
    check_batch_size(batch_size)
    checked = [check_text(text, MAX_CHARS, what=f"Text {number}") for number, text in enumerate(documents, 1)]
    split = [split_sentences(document) for document in checked]
    flat: list[Segment] = [segment for segments in split for segment in segments]
    if not flat:
        raise InvalidInputError(_("There is nothing to translate."))
    texts = [segment.text for segment in flat]
    translated = _translate_checked(loaded, texts, num_beams, batch_size, progress, target_language, source_language)
    results = []
    start = 0
    for segments in split:
        own = translated[start : start + len(segments)]
        start += len(segments)
        text = join_sentences(segments, [item.translation for item in own], target_language)
        results.append((text, own))
    return results


def translate_text(
    loaded: LoadedModel,
    text: str,
    source_language: str,
    target_language: str,
    num_beams: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> TranslationResult:
    """Translate a text box's content, sentence by sentence, keeping its line breaks.

    Raises:
        InvalidInputError: the text is empty or longer than ``MAX_CHARS``; bad options.
    """
    cleaned = check_text(text, MAX_CHARS)
    with stopwatch() as watch:
        [(joined, sentences)] = _translate_documents(
            loaded, [cleaned], target_language, num_beams, batch_size, progress, source_language
        )
    tokens = sum(item.source_tokens + item.output_tokens for item in sentences)
    return TranslationResult(
        source_text=cleaned,
        translation=joined,
        sentences=sentences,
        source_language=source_language,
        target_language=target_language,
        num_beams=num_beams,
        footer=make_footer(loaded, watch.elapsed_ms, len(sentences), "sentence", tokens),
    )


def translate_table(
    loaded: LoadedModel,
    frame: pd.DataFrame,
    column: str,
    target_language: str,
    num_beams: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
    source_language: str | None = None,
) -> tables.TableRun:
    """Batch mode: translate every row's ``column`` and add a ``translation`` column.

    Raises:
        InvalidInputError: the column is missing or holds no text; bad options.
    """
    check_beams(num_beams)
    column_texts = tables.read_text_column(frame, column, MAX_CHARS, MAX_TABLE_ROWS)
    with stopwatch() as watch:
        documents = _translate_documents(
            loaded, column_texts.texts, target_language, num_beams, batch_size, progress, source_language
        )
    table = tables.with_results(
        frame,
        column_texts,
        {
            "translation": [text for text, _ in documents],
            "sentences": [len(items) for _, items in documents],
            "truncated": [any(item.truncated for item in items) for _, items in documents],
        },
    )
    sentences = sum(len(items) for _, items in documents)
    tokens = sum(item.source_tokens + item.output_tokens for _, items in documents for item in items)
    footer = make_footer(loaded, watch.elapsed_ms, sentences, "sentence", tokens)
    return tables.TableRun(table=table, footer=footer, skipped=len(column_texts.notes))
