"""Text classification (the sentiment demo): a label and a probability for every label.

The model may be a catalogue sentiment model or a fine-tuned classifier, so this module uses only
``loaded.preprocessor(...)``, ``loaded.model(**batch).logits`` and ``loaded.model.config.id2label``
and shows whatever labels the model has.

Batch use (benchmarks)::

    results = sentiment.classify(loaded, ["great", "awful"], batch_size=32)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import torch

from backend.errors import InvalidInputError
from backend.i18n import _
from backend.inference import tables
from backend.inference.batching import ProgressCallback, check_batch_size, run_sorted
from backend.inference.footer import RunFooter, make_footer, stopwatch
from backend.models.loader import LoadedModel
from backend.records import JsonRecord
from backend.uploads import check_text

MAX_CHARS = 5_000
DEFAULT_BATCH_SIZE = 16
# Encoders of this family are trained on at most 512 positions; tokenizers without a limit
# report a huge sentinel value instead.
_MAX_MODEL_TOKENS = 512


@dataclass(frozen=True)
class Classification(JsonRecord):
    """One text's prediction.

    Attributes:
        label: the most probable label.
        score: its probability.
        scores: probability of every label, in the model's label order.
        tokens: tokens the model read (after truncation).
        truncated: the text was longer than the model's token limit and was cut.
    """

    label: str
    score: float
    scores: dict[str, float]
    tokens: int
    truncated: bool


@dataclass(frozen=True)
class SentimentResult(JsonRecord):
    """The demo's answer for one text."""

    json_properties = ("notice",)

    classification: Classification
    token_limit: int
    footer: RunFooter

    @property
    def notice(self) -> str:
        """What the user should know about the input ("" when nothing)."""
        if self.classification.truncated:
            return f"The text is longer than the model's {self.token_limit} tokens; only its beginning was read."
        return ""


def labels_of(loaded: LoadedModel) -> list[str]:
    """The model's labels in index order."""
    id2label = loaded.model.config.id2label
    return [str(id2label[index]) for index in sorted(id2label, key=int)]


def token_limit(loaded: LoadedModel) -> int:
    """Most tokens one text may have before it is truncated."""
    limit = getattr(loaded.preprocessor, "model_max_length", None)
    if not isinstance(limit, int) or limit <= 0:
        return _MAX_MODEL_TOKENS
    return min(limit, _MAX_MODEL_TOKENS)


def _probabilities(loaded: LoadedModel, logits: torch.Tensor) -> torch.Tensor:
    # Multi-label heads are trained with a sigmoid per label; single-label ones with a softmax.
    if getattr(loaded.model.config, "problem_type", None) == "multi_label_classification":
        return torch.sigmoid(logits)
    return torch.softmax(logits, dim=-1)


def _classify_batch(loaded: LoadedModel, texts: list[str], limit: int) -> list[Classification]:
    labels = labels_of(loaded)
    device = loaded.device.torch_device
    # Tokenising once with room for one extra token tells a text that fits from one that was cut.
    # The lock: a fast tokenizer keeps truncation and padding as shared state that each call sets
    # before encoding, so two sessions' calls could otherwise encode with each other's settings.
    # A batch where no text was cut is the probe itself (the same tokens and padding), so the common
    # case tokenises once.
    with loaded.lock:
        probe = loaded.preprocessor(texts, truncation=True, max_length=limit + 1, padding=True, return_tensors="pt")
        probe_lengths = probe["attention_mask"].sum(dim=-1).tolist()
        batch = (
            probe
            if max(probe_lengths) <= limit
            else loaded.preprocessor(texts, truncation=True, max_length=limit, padding=True, return_tensors="pt")
        )
    batch = {name: tensor.to(device) for name, tensor in batch.items()}
    with torch.inference_mode():
        logits = loaded.model(**batch).logits
    probabilities = _probabilities(loaded, logits.float()).cpu().tolist()
    lengths = batch["attention_mask"].sum(dim=-1).tolist()
    results = []
    for row, length, probe_length in zip(probabilities, lengths, probe_lengths, strict=True):
        scores = {label: round(float(p), 6) for label, p in zip(labels, row, strict=True)}
        best = max(range(len(row)), key=row.__getitem__)
        results.append(
            Classification(
                label=labels[best],
                score=round(float(row[best]), 6),
                scores=scores,
                tokens=int(length),
                truncated=probe_length > limit,
            )
        )
    return results


def classify(
    loaded: LoadedModel,
    texts: Sequence[str],
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> list[Classification]:
    """Classify many texts in length-sorted batches; results in the input order.

    Args:
        loaded: a sequence-classification model from the runtime.
        texts: non-empty texts of at most ``MAX_CHARS`` characters each.
        batch_size: texts per forward pass.
        progress: called with (done, total) after each batch.

    Raises:
        InvalidInputError: no texts, an empty text or one over the character limit.
    """
    check_batch_size(batch_size)
    if not texts:
        raise InvalidInputError(_("There is no text to classify."))
    cleaned = [check_text(text, MAX_CHARS, what=f"Text {number}") for number, text in enumerate(texts, 1)]
    limit = token_limit(loaded)
    return run_sorted(
        cleaned,
        [len(text) for text in cleaned],
        batch_size,
        lambda batch: _classify_batch(loaded, batch, limit),
        progress,
    )


def classify_text(loaded: LoadedModel, text: str) -> SentimentResult:
    """Classify one text from the demo's text box, with the run's footer.

    Raises:
        InvalidInputError: the text is empty or longer than ``MAX_CHARS``.
    """
    cleaned = check_text(text, MAX_CHARS)
    with stopwatch() as watch:
        [classification] = classify(loaded, [cleaned], batch_size=1)
    footer = make_footer(loaded, watch.elapsed_ms, 1, "text", classification.tokens)
    return SentimentResult(classification=classification, token_limit=token_limit(loaded), footer=footer)


def classify_table(
    loaded: LoadedModel,
    frame: pd.DataFrame,
    column: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> tables.TableRun:
    """Batch mode: classify every row's ``column`` and add label, score and per-label columns.

    Raises:
        InvalidInputError: the column is missing or holds no text.
    """
    column_texts = tables.read_text_column(frame, column, MAX_CHARS)
    with stopwatch() as watch:
        results = classify(loaded, column_texts.texts, batch_size, progress)
    columns: dict[str, list[object]] = {
        "label": [r.label for r in results],
        "score": [r.score for r in results],
    }
    for label in labels_of(loaded):
        columns[f"p({label})"] = [r.scores[label] for r in results]
    columns["truncated"] = [r.truncated for r in results]
    table = tables.with_results(frame, column_texts, columns)
    tokens = sum(r.tokens for r in results)
    footer = make_footer(loaded, watch.elapsed_ms, len(results), "text", tokens)
    return tables.TableRun(table=table, footer=footer, skipped=len(column_texts.notes))
