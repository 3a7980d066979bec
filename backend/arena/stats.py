"""Every number a comparison shows, with its uncertainty: accuracy and macro-F1 with bootstrap 95%
intervals, an exact McNemar test of two classifiers on the same rows, chrF of translations against
references with bootstrap intervals and a paired bootstrap test, and Bradley-Terry strengths from
pairwise votes with bootstrap intervals.

Plain numpy: the formulas are short, and writing them here keeps each one tested against a value
worked out by hand. Resampling uses a seeded generator, so the same data always shows the same
interval.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from backend.records import JsonRecord

BOOTSTRAP_SAMPLES = 1000
CONFIDENCE = 0.95
_SEED = 20261207
# Bradley-Terry strengths are shown on the Elo-like scale Chatbot Arena uses: 400 points per factor
# of ten in the odds of winning, centred so the models' mean is this.
_SCALE_CENTRE = 1000.0
_POINTS_PER_DECADE = 400.0
# Each pair of models that met is given this many virtual wins each way: a model that never won (or
# never lost) would otherwise run off to an infinite score, and half a win is a weak pull to even.
_PRIOR_WINS = 0.5
_MM_ITERATIONS = 2000
# Converged when no strength moves by more than this factor's log (0.002 points on the shown scale).
_MM_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Estimate(JsonRecord):
    """A value with its bootstrap 95% interval."""

    value: float
    low: float
    high: float


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """The share of rows where ``predicted`` equals ``truth``."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predictions differ in length")
    if not truth:
        return 0.0
    return float(np.mean(np.asarray(truth, dtype=object) == np.asarray(predicted, dtype=object)))


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """The unweighted mean of every label's F1, over the labels seen in the truth or the
    predictions (as scikit-learn does); a label with no true and no predicted row never appears,
    and one with either but no hit scores 0."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predictions differ in length")
    labels = sorted(set(truth) | set(predicted))
    if not labels:
        return 0.0
    true = np.asarray(truth, dtype=object)
    guess = np.asarray(predicted, dtype=object)
    scores = []
    for label in labels:
        hits = float(np.sum((true == label) & (guess == label)))
        wrong = float(np.sum((true != label) & (guess == label)))
        missed = float(np.sum((true == label) & (guess != label)))
        scores.append(2 * hits / (2 * hits + wrong + missed) if hits else 0.0)
    return float(np.mean(scores))


Metric = Callable[[Sequence[str], Sequence[str]], float]


def bootstrap_metric(
    truth: Sequence[str], predicted: Sequence[str], metric: Metric, samples: int = BOOTSTRAP_SAMPLES
) -> Estimate:
    """``metric`` on all rows, with the percentile interval of ``samples`` resamples of the rows."""
    value = metric(truth, predicted)
    if not truth:
        return Estimate(value, value, value)
    rows = _resampled_rows(len(truth), samples)
    true = np.asarray(truth, dtype=object)
    guess = np.asarray(predicted, dtype=object)
    values = [metric(list(true[index]), list(guess[index])) for index in rows]
    low, high = _interval(values)
    return Estimate(round(value, 6), round(low, 6), round(high, 6))


def _resampled_rows(count: int, samples: int) -> np.ndarray:
    return np.random.default_rng(_SEED).integers(0, count, size=(samples, count))


def _interval(values: Sequence[float]) -> tuple[float, float]:
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(np.asarray(values, dtype=float), [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class PairedComparison(JsonRecord):
    """A test of two systems on the same rows: ``p_value`` is the two-sided probability of a
    difference at least this large if both were equally good."""

    first: str
    second: str
    p_value: float

    @property
    def significant(self) -> bool:
        """Whether the difference holds at the 5% level."""
        return self.p_value < 1 - CONFIDENCE


@dataclass(frozen=True)
class PairedTest(PairedComparison):
    """McNemar's exact test of two classifiers on the same rows: ``first_only`` rows only the
    first got right, ``second_only`` rows only the second did; ``p_value`` is the binomial
    probability of a split at least this uneven."""

    first_only: int
    second_only: int


def mcnemar_exact(
    truth: Sequence[str], first: Sequence[str], second: Sequence[str], names: tuple[str, str] = ("", "")
) -> PairedTest:
    """McNemar's exact test: only the rows the two models disagree on being right carry evidence."""
    true = np.asarray(truth, dtype=object)
    first_right = np.asarray(first, dtype=object) == true
    second_right = np.asarray(second, dtype=object) == true
    first_only = int(np.sum(first_right & ~second_right))
    second_only = int(np.sum(second_right & ~first_right))
    p_value = _two_sided_binomial(first_only, second_only)
    return PairedTest(names[0], names[1], p_value, first_only=first_only, second_only=second_only)


def _two_sided_binomial(wins: int, losses: int) -> float:
    trials = wins + losses
    if trials == 0:
        return 1.0
    smaller = min(wins, losses)
    tail = sum(math.comb(trials, k) for k in range(smaller + 1)) / 2**trials
    return min(1.0, 2 * tail)


# --- chrF (translations against references) ----------------------------------------------------
# chrF as sacrebleu computes it by default (Popovic 2015): character n-grams of orders 1 to 6,
# whitespace ignored, recall weighted twice as much as precision (beta 2), statistics summed over
# the corpus before the score. sacrebleu is not in this environment; tests/backend/arena checks
# these formulas against scores sacrebleu 2.6.0 gave for the same sentences.
CHRF_ORDER = 6
CHRF_BETA = 2.0


def chrf_statistics(hypothesis: str, reference: str) -> np.ndarray:
    """One sentence's counts per order: rows of (hypothesis n-grams, reference n-grams, matches)."""
    hyp = "".join(hypothesis.split())
    ref = "".join(reference.split())
    counts = np.zeros((CHRF_ORDER, 3), dtype=np.int64)
    for order in range(1, CHRF_ORDER + 1):
        hyp_grams = Counter(hyp[i : i + order] for i in range(len(hyp) - order + 1))
        ref_grams = Counter(ref[i : i + order] for i in range(len(ref) - order + 1))
        matches = sum((hyp_grams & ref_grams).values())
        # As sacrebleu: a hypothesis's n-grams count only where the reference has some of that order.
        hyp_count = sum(hyp_grams.values()) if ref_grams else 0
        counts[order - 1] = (hyp_count, sum(ref_grams.values()), matches)
    return counts


def chrf_from_statistics(totals: np.ndarray) -> float:
    """Corpus chrF (0 to 100) from counts summed over its sentences (shape ``(CHRF_ORDER, 3)``):
    the F-score of precision and recall averaged over the orders both sides have (sacrebleu 2's
    default, effective-order smoothing)."""
    factor = CHRF_BETA**2
    precisions, recalls = [], []
    for hyp_count, ref_count, matches in totals:
        if hyp_count > 0 and ref_count > 0:
            precisions.append(matches / hyp_count)
            recalls.append(matches / ref_count)
    if not precisions:
        return 0.0
    precision, recall = float(np.mean(precisions)), float(np.mean(recalls))
    if precision + recall == 0:
        return 0.0
    return 100 * (1 + factor) * precision * recall / (factor * precision + recall)


def _sentence_statistics(hypotheses: Sequence[str], references: Sequence[str]) -> np.ndarray:
    if len(hypotheses) != len(references):
        raise ValueError("hypotheses and references differ in length")
    return np.stack([chrf_statistics(hyp, ref) for hyp, ref in zip(hypotheses, references, strict=True)])


def _resampled_chrf(sentences: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.array([chrf_from_statistics(sentences[index].sum(axis=0)) for index in rows])


def bootstrap_chrf(hypotheses: Sequence[str], references: Sequence[str], samples: int = BOOTSTRAP_SAMPLES) -> Estimate:
    """Corpus chrF with the percentile interval of ``samples`` resamples of the sentences."""
    if not references:
        return Estimate(0.0, 0.0, 0.0)
    sentences = _sentence_statistics(hypotheses, references)
    value = float(chrf_from_statistics(sentences.sum(axis=0)))
    low, high = _interval(_resampled_chrf(sentences, _resampled_rows(len(references), samples)))
    return Estimate(round(value, 4), round(low, 4), round(high, 4))


@dataclass(frozen=True)
class PairedBootstrap(PairedComparison):
    """A paired bootstrap test of two systems on the same sentences (Koehn 2004): ``difference``
    is the first's score minus the second's; ``p_value`` the two-sided share of resamples in
    which the difference vanishes or turns around."""

    difference: float


def paired_bootstrap_chrf(
    references: Sequence[str],
    first: Sequence[str],
    second: Sequence[str],
    names: tuple[str, str] = ("", ""),
    samples: int = BOOTSTRAP_SAMPLES,
) -> PairedBootstrap:
    """Whether ``first``'s chrF beats ``second``'s by more than resampling the sentences explains;
    both are scored on the same resamples, so only their difference varies."""
    first_stats = _sentence_statistics(first, references)
    second_stats = _sentence_statistics(second, references)
    difference = float(chrf_from_statistics(first_stats.sum(axis=0)) - chrf_from_statistics(second_stats.sum(axis=0)))
    rows = _resampled_rows(len(references), samples)
    resampled = _resampled_chrf(first_stats, rows) - _resampled_chrf(second_stats, rows)
    # The share of resamples on the other side of zero from the observed difference, both tails.
    against = np.mean(resampled <= 0) if difference > 0 else np.mean(resampled >= 0)
    return PairedBootstrap(names[0], names[1], float(min(1.0, 2 * against)), difference=round(difference, 4))


# --- Bradley-Terry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One vote between two models: ``outcome`` 1 when ``first`` won, 0 when ``second`` did, 0.5 a tie."""

    first: str
    second: str
    outcome: float


def bradley_terry(comparisons: Sequence[Comparison]) -> dict[str, float]:
    """Each model's strength on the Elo-like scale (mean ``_SCALE_CENTRE``), fitted by Hunter's MM
    algorithm (2004) with ties as half a win each way and ``_PRIOR_WINS`` virtual wins each way
    between every pair that met."""
    models, first, second, outcome = _encoded(comparisons)
    if not models:
        return {}
    points = _fit(first, second, outcome, len(models))
    return {model: float(points[index]) for index, model in enumerate(models)}


def _encoded(comparisons: Sequence[Comparison]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    models = sorted({c.first for c in comparisons} | {c.second for c in comparisons})
    index = {model: position for position, model in enumerate(models)}
    first = np.array([index[c.first] for c in comparisons], dtype=int)
    second = np.array([index[c.second] for c in comparisons], dtype=int)
    outcome = np.array([c.outcome for c in comparisons], dtype=float)
    return models, first, second, outcome


def _fit(first: np.ndarray, second: np.ndarray, outcome: np.ndarray, size: int) -> np.ndarray:
    wins = np.zeros((size, size))  # wins[i, j]: how often i beat j
    np.add.at(wins, (first, second), outcome)
    np.add.at(wins, (second, first), 1 - outcome)
    met = (wins + wins.T) > 0
    wins = wins + _PRIOR_WINS * met
    games = wins + wins.T
    total_wins = wins.sum(axis=1)
    played = total_wins > 0  # a model absent from a resample keeps the neutral strength
    strength = np.ones(size)
    for _ in range(_MM_ITERATIONS):
        denominators = (games / (strength[:, None] + strength[None, :])).sum(axis=1)
        updated = np.where(played, total_wins / np.where(played, denominators, 1), 1.0)
        updated = updated / np.exp(np.mean(np.log(updated[played])))
        done = np.max(np.abs(np.log(updated) - np.log(strength))) < _MM_TOLERANCE
        strength = updated
        if done:
            break
    points = _POINTS_PER_DECADE * np.log10(strength)
    return points - points[played].mean() + _SCALE_CENTRE


def bradley_terry_intervals(comparisons: Sequence[Comparison], samples: int = BOOTSTRAP_SAMPLES) -> dict[str, Estimate]:
    """``bradley_terry`` with each score's percentile interval over ``samples`` resamples of the votes
    (a model missing from a resample adds nothing to its interval)."""
    models, first, second, outcome = _encoded(comparisons)
    if not models:
        return {}
    size = len(models)
    scores = _fit(first, second, outcome, size)
    draws: list[list[float]] = [[] for _ in models]
    for rows in _resampled_rows(len(outcome), samples):
        fitted = _fit(first[rows], second[rows], outcome[rows], size)
        present = np.zeros(size, dtype=bool)
        present[first[rows]] = present[second[rows]] = True
        for position in np.flatnonzero(present):
            draws[position].append(float(fitted[position]))
    estimates = {}
    for position, model in enumerate(models):
        low, high = _interval(draws[position]) if draws[position] else (scores[position],) * 2
        estimates[model] = Estimate(round(float(scores[position]), 1), round(low, 1), round(high, 1))
    return estimates
