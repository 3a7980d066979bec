"""One input to two to four models, side by side: each model's answer and cost, a refusal kept to
its own column, where classifiers disagree, and on a labelled table every model's accuracy and
macro-F1 with 95% intervals and a paired test of the top two; on a table of reference translations
every model's chrF with 95% intervals and a paired bootstrap test of the top two.

Models come in through a loader the caller passes (the page's, which goes through
``backend.models.acquire``), so this module never decides how a model is fetched or who may open it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from backend.arena import stats
from backend.errors import InvalidInputError, ShowcaseError
from backend.i18n import N_, _
from backend.inference.footer import RunFooter
from backend.records import JsonRecord

R = TypeVar("R")
MIN_MODELS = 2
# A run's rate per item it counts (RunFooter.unit), whole: the unit alone was shown untranslated
# in Chinese ("text/秒") and pluralised by an "s" in English ("replys/s").
_ITEMS_PER_SECOND = {
    "text": N_("texts/s"),
    "sentence": N_("sentences/s"),
    "image": N_("images/s"),
    "row": N_("rows/s"),
    "reply": N_("replies/s"),
    "prompt": N_("prompts/s"),
}
MAX_MODELS = 4
# Every model classifies every row while the page waits; beyond this a batch job is the right tool.
MAX_LABELLED_ROWS = 2000
# Translating is far slower than classifying (a sentence is a generate call per model).
MAX_REFERENCE_ROWS = 500
# Every image is held open for every model while the page waits.
MAX_LABELLED_IMAGES = 500


@dataclass(frozen=True)
class Cost(JsonRecord):
    """What one model's run cost: the footer's figures plus a rate and the model's memory."""

    device: str
    latency_ms: float
    rate: float
    rate_unit: str
    memory_mb: float | None


@dataclass
class Column(Generic[R]):
    """One model's column: its answer and cost, or why it could not answer."""

    model_ref: str
    answer: R | None = None
    cost: Cost | None = None
    error: str = ""
    hint: str = ""

    @property
    def ok(self) -> bool:
        """Whether the model answered."""
        return self.answer is not None and not self.error


def check_model_count(refs: Sequence[str]) -> list[str]:
    """The distinct references in order, or InvalidInputError when fewer than two or more than four."""
    distinct = list(dict.fromkeys(ref for ref in refs if ref))
    if not MIN_MODELS <= len(distinct) <= MAX_MODELS:
        raise InvalidInputError(
            _("Pick from {low} to {high} different models to compare; {count} picked.").format(
                low=MIN_MODELS, high=MAX_MODELS, count=len(distinct)
            )
        )
    return distinct


def memory_mb(loaded: Any) -> float | None:
    """A loaded model's weights in MB; None for a model on a server (its memory is the server's)."""
    size = getattr(loaded, "memory_bytes", None)
    return round(size / 2**20, 1) if isinstance(size, int) and size > 0 else None


def cost_of(loaded: Any, footer: RunFooter, tokens_per_second: float | None = None) -> Cost:
    """The cost of one run from its footer: tokens/s when given (chat), else items/s."""
    seconds = footer.latency_ms / 1000
    if tokens_per_second is not None:
        rate, unit = tokens_per_second, _("tokens/s")
    else:
        unit = _(_ITEMS_PER_SECOND[footer.unit]) if footer.unit in _ITEMS_PER_SECOND else f"{footer.unit}/s"
        rate = footer.items / seconds if seconds > 0 else 0.0
    return Cost(footer.device, footer.latency_ms, round(rate, 1), unit, memory_mb(loaded))


def run_each(
    refs: Sequence[str],
    load: Callable[[str], Any],
    compute: Callable[[Any], R],
    footer_of: Callable[[R], RunFooter],
) -> list[Column[R]]:
    """Load and run every model in turn; a model that cannot load or answer keeps its refusal in its
    own column, and the others still answer."""
    columns: list[Column[R]] = []
    for ref in check_model_count(refs):
        column: Column[R] = Column(ref)
        try:
            loaded = load(ref)
            column.answer = compute(loaded)
            column.cost = cost_of(loaded, footer_of(column.answer))
        except ShowcaseError as error:
            column.answer, column.error, column.hint = None, error.message, error.hint or ""
        columns.append(column)
    return columns


def dissenters(labels: Sequence[str | None]) -> set[int]:
    """The positions whose label differs from the most common one (None: no answer, never counted);
    empty when all answers agree. With no majority (a tie for most common) every answer dissents."""
    given = [label for label in labels if label is not None]
    counts = Counter(given).most_common()
    if len(counts) <= 1:
        return set()
    if counts[0][1] == counts[1][1]:
        return {index for index, label in enumerate(labels) if label is not None}
    majority = counts[0][0]
    return {index for index, label in enumerate(labels) if label is not None and label != majority}


def normalise_label(label: object) -> str:
    """A label as compared between a table and a model: trimmed, case folded."""
    return str(label).strip().casefold()


@dataclass(frozen=True)
class ModelScore(JsonRecord):
    """One model's accuracy and macro-F1 on the labelled rows, with bootstrap 95% intervals."""

    model_ref: str
    accuracy: stats.Estimate
    macro_f1: stats.Estimate


@dataclass(frozen=True)
class Evaluation(JsonRecord):
    """Every model's scores on the same rows (best accuracy first), the paired test of the top two
    (McNemar's exact test), and how many rows the models disagreed on."""

    rows: int
    scores: list[ModelScore]
    paired: stats.PairedTest | None
    disagreeing_rows: int
    unknown_labels: list[str] = field(default_factory=list)


def check_labelled_rows(count: int, limit: int = MAX_LABELLED_ROWS) -> None:
    """Refuse an empty table, or one over ``limit`` rows, before any model runs on it."""
    if not count:
        raise InvalidInputError(_("The table has no labelled rows."))
    if count > limit:
        raise InvalidInputError(
            _("The table has {count:,} rows; a comparison takes at most {limit:,}.").format(count=count, limit=limit),
            _("Upload a sample of the rows."),
        )


def evaluate(truth: Sequence[object], predictions: dict[str, Sequence[object]]) -> Evaluation:
    """Score each model's predictions against ``truth`` (labels compared trimmed and case folded).

    Raises:
        InvalidInputError: no rows, more than ``MAX_LABELLED_ROWS``, or predictions of another length.
    """
    check_labelled_rows(len(truth))
    true = [normalise_label(label) for label in truth]
    guessed = {ref: [normalise_label(label) for label in labels] for ref, labels in predictions.items()}
    if any(len(labels) != len(true) for labels in guessed.values()):
        raise ValueError("every model needs one prediction per row")
    scores = [
        ModelScore(
            ref,
            stats.bootstrap_metric(true, labels, stats.accuracy),
            stats.bootstrap_metric(true, labels, stats.macro_f1),
        )
        for ref, labels in guessed.items()
    ]
    scores.sort(key=lambda score: (-score.accuracy.value, -score.macro_f1.value))
    paired = None
    if len(scores) >= 2:
        first, second = scores[0].model_ref, scores[1].model_ref
        paired = stats.mcnemar_exact(true, guessed[first], guessed[second], (first, second))
    disagreeing = sum(1 for row in zip(*guessed.values(), strict=True) if len(set(row)) > 1)
    # Truth labels no model ever predicts usually mean the table names classes differently.
    predicted = {label for labels in guessed.values() for label in labels}
    unknown = sorted(set(true) - predicted)
    return Evaluation(len(true), scores, paired, disagreeing, unknown)


@dataclass(frozen=True)
class TranslationScore(JsonRecord):
    """One model's chrF against the reference translations, with its bootstrap 95% interval."""

    model_ref: str
    chrf: stats.Estimate


@dataclass(frozen=True)
class TranslationEvaluation(JsonRecord):
    """Every model's chrF on the same sentences (best first) and the paired bootstrap test of the top two."""

    rows: int
    scores: list[TranslationScore]
    paired: stats.PairedBootstrap | None


def evaluate_translations(references: Sequence[str], outputs: dict[str, Sequence[str]]) -> TranslationEvaluation:
    """Score each model's translations against ``references`` (one per row, same order).

    Raises:
        InvalidInputError: no rows or more than ``MAX_REFERENCE_ROWS``.
    """
    check_labelled_rows(len(references), MAX_REFERENCE_ROWS)
    if any(len(texts) != len(references) for texts in outputs.values()):
        raise ValueError("every model needs one translation per row")
    scores = [TranslationScore(ref, stats.bootstrap_chrf(texts, references)) for ref, texts in outputs.items()]
    scores.sort(key=lambda score: -score.chrf.value)
    paired = None
    if len(scores) >= 2:
        first, second = scores[0].model_ref, scores[1].model_ref
        paired = stats.paired_bootstrap_chrf(references, outputs[first], outputs[second], (first, second))
    return TranslationEvaluation(len(references), scores, paired)


def score_outputs(
    truth: Sequence[str], outputs: dict[str, Sequence[str] | None], translations: bool
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Each named set of answers (a compression lab's variants) scored against ``truth`` as the
    Compare view scores its models: accuracy and macro-F1 (or chrF, for ``translations``), each
    with its bootstrap 95% interval, as flat figures by name; and the truth labels no set ever
    predicts (a table naming its classes differently). A name without answers is left out."""
    answered = {name: list(texts) for name, texts in outputs.items() if texts is not None}
    if not answered:
        return {}, []
    if translations:
        scored = evaluate_translations(list(truth), answered)
        return {
            score.model_ref: {"chrf": score.chrf.value, "chrf_low": score.chrf.low, "chrf_high": score.chrf.high}
            for score in scored.scores
        }, []
    evaluation = evaluate(truth, answered)
    return {
        score.model_ref: {
            "accuracy": score.accuracy.value,
            "accuracy_low": score.accuracy.low,
            "accuracy_high": score.accuracy.high,
            "macro_f1": score.macro_f1.value,
        }
        for score in evaluation.scores
    }, evaluation.unknown_labels
