"""The comparison numbers against values worked out by hand, and the intervals against known truths."""

from __future__ import annotations

import numpy as np
import pytest

from backend.arena import stats


def test_accuracy_and_macro_f1_match_a_hand_count():
    truth = ["pos", "pos", "pos", "neg", "neg", "neu"]
    guess = ["pos", "pos", "neg", "neg", "pos", "neg"]
    assert stats.accuracy(truth, guess) == pytest.approx(3 / 6)
    # pos: 2 hits, 1 wrong (a neg called pos), 1 missed -> F1 = 4/6. neg: 1 hit, 2 wrong, 1 missed
    # -> 2/5. neu: no hit -> 0. Mean = (2/3 + 2/5 + 0) / 3.
    assert stats.macro_f1(truth, guess) == pytest.approx((2 / 3 + 2 / 5 + 0) / 3)


def test_macro_f1_agrees_with_scikit_learn_on_random_labels():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(3)
    truth = list(rng.choice(["a", "b", "c", "d"], size=300))
    guess = list(rng.choice(["a", "b", "c", "e"], size=300))
    assert stats.macro_f1(truth, guess) == pytest.approx(f1_score(truth, guess, average="macro"))


def test_a_perfect_classifier_has_a_zero_width_interval():
    truth = ["a", "b"] * 20
    estimate = stats.bootstrap_metric(truth, truth, stats.accuracy)
    assert (estimate.value, estimate.low, estimate.high) == (1.0, 1.0, 1.0)


def test_the_bootstrap_interval_covers_the_true_accuracy_about_95_times_in_100():
    # 200 test sets drawn from a classifier whose true accuracy is 0.7: the interval from each one
    # should hold 0.7 about 95% of the time (the percentile bootstrap runs a little narrow at n=80).
    rng = np.random.default_rng(11)
    covered = 0
    trials = 200
    for _ in range(trials):
        right = rng.random(80) < 0.7
        truth = ["x"] * 80
        guess = ["x" if hit else "y" for hit in right]
        estimate = stats.bootstrap_metric(truth, guess, stats.accuracy, samples=300)
        covered += estimate.low <= 0.7 <= estimate.high
    assert 0.88 * trials <= covered <= trials


def test_mcnemar_uses_only_the_rows_where_one_model_alone_is_right():
    truth = ["a"] * 20
    first = ["a"] * 12 + ["b"] * 8  # right on rows 0-11
    second = ["a"] * 2 + ["b"] * 10 + ["a"] * 8  # right on 0-1 and 12-19
    test = stats.mcnemar_exact(truth, first, second, ("one", "two"))
    assert (test.first_only, test.second_only) == (10, 8)
    # Two-sided exact binomial: 2 * P(X <= 8 | n=18, p=1/2), capped at 1.
    from math import comb

    expected = min(1.0, 2 * sum(comb(18, k) for k in range(9)) / 2**18)
    assert test.p_value == pytest.approx(expected)
    assert not test.significant


def test_mcnemar_finds_a_lopsided_split_significant():
    truth = ["a"] * 30
    first = ["a"] * 30
    second = ["b"] * 12 + ["a"] * 18
    test = stats.mcnemar_exact(truth, first, second)
    assert (test.first_only, test.second_only) == (12, 0)
    assert test.p_value == pytest.approx(2 / 2**12)
    assert test.significant


def _simulated_votes(strengths: dict[str, float], count: int, seed: int) -> list[stats.Comparison]:
    """Votes between random pairs, won with the Bradley-Terry probability of the true strengths."""
    rng = np.random.default_rng(seed)
    models = list(strengths)
    votes = []
    for _ in range(count):
        first, second = rng.choice(models, size=2, replace=False)
        win = 1 / (1 + np.exp(strengths[second] - strengths[first]))
        votes.append(stats.Comparison(str(first), str(second), float(rng.random() < win)))
    return votes


def test_bradley_terry_recovers_the_true_order_of_four_models():
    truth = {"strong": 1.5, "good": 0.5, "fair": -0.5, "weak": -1.5}
    scores = stats.bradley_terry(_simulated_votes(truth, 1500, seed=1))
    assert sorted(scores, key=scores.get, reverse=True) == ["strong", "good", "fair", "weak"]
    assert np.mean(list(scores.values())) == pytest.approx(1000.0)


def test_bradley_terry_intervals_cover_the_true_scores():
    # On the Elo-like scale a logit difference d is 400 * d / ln(10) points; the truth is centred.
    truth = {"a": 1.0, "b": 0.3, "c": -0.2, "d": -1.1}
    centre = np.mean(list(truth.values()))
    points = {model: 1000 + 400 * (value - centre) / np.log(10) for model, value in truth.items()}
    estimates = stats.bradley_terry_intervals(_simulated_votes(truth, 1200, seed=5), samples=200)
    for model, estimate in estimates.items():
        assert estimate.low <= points[model] <= estimate.high, (model, estimate, points[model])
        assert estimate.low < estimate.value < estimate.high


def test_ties_pull_two_models_together():
    votes = [stats.Comparison("a", "b", 0.5)] * 10
    scores = stats.bradley_terry(votes)
    assert scores["a"] == pytest.approx(scores["b"])


def test_a_model_that_never_lost_gets_a_finite_score():
    scores = stats.bradley_terry([stats.Comparison("a", "b", 1.0)] * 5)
    assert np.isfinite(scores["a"]) and scores["a"] > scores["b"]


def test_chrf_matches_a_hand_count():
    # Unigrams: {a, b} against {a, c}: precision = recall = 1/2, F = 1/2. Bigrams "ab" against "ac":
    # none match, F = 0. Orders 3 to 6 exist on neither side and are not averaged: (1/2 + 0) / 2.
    assert stats.chrf_from_statistics(stats.chrf_statistics("ab", "ac")) == pytest.approx(25.0)
    assert stats.chrf_from_statistics(stats.chrf_statistics("the cat", "thecat")) == pytest.approx(100.0)
    assert stats.chrf_from_statistics(stats.chrf_statistics("xyz", "abc")) == pytest.approx(0.0, abs=1e-9)
    # Recall weighs more than precision: a hypothesis missing half the reference scores below one
    # holding the whole reference plus as much again.
    short = stats.chrf_from_statistics(stats.chrf_statistics("abcd", "abcdefgh"))
    long = stats.chrf_from_statistics(stats.chrf_statistics("abcdefghijklmnop", "abcdefgh"))
    assert short < long


def test_chrf_gives_the_scores_sacrebleu_gives():
    # sacrebleu 2.6.0's corpus_chrf and sentence_chrf (defaults) on these pairs, recorded once.
    references = ["The cat sat on the mat.", "Guten Morgen, wie geht es dir?", "hello", "你好，世界", "a", ""]
    hypotheses = ["The cat is sitting on a mat.", "Guten Morgen wie gehts?", "hallo there", "世界你好", "abcdefgh", "x"]
    totals = sum(stats.chrf_statistics(hyp, ref) for hyp, ref in zip(hypotheses, references, strict=True))
    assert stats.chrf_from_statistics(totals) == pytest.approx(47.777972192593836, abs=1e-9)
    for (hyp, ref), expected in zip(
        zip(hypotheses[:4], references[:4], strict=True),
        (36.24524662604615, 60.967635088548974, 33.74413145539906, 33.99581589958159),
        strict=True,
    ):
        assert stats.chrf_from_statistics(stats.chrf_statistics(hyp, ref)) == pytest.approx(expected, abs=1e-9)


def test_corpus_chrf_sums_counts_before_scoring():
    references = ["ab", "abcdefgh"]
    hypotheses = ["ac", "abcdefgh"]
    totals = stats.chrf_statistics("ac", "ab") + stats.chrf_statistics("abcdefgh", "abcdefgh")
    estimate = stats.bootstrap_chrf(hypotheses, references)
    assert estimate.value == pytest.approx(stats.chrf_from_statistics(totals), abs=1e-4)
    assert estimate.low <= estimate.value <= estimate.high
    assert stats.bootstrap_chrf(references, references) == stats.Estimate(100.0, 100.0, 100.0)


def test_the_paired_bootstrap_separates_a_clearly_better_system_and_not_equal_ones():
    rng = np.random.default_rng(3)
    references = ["".join(rng.choice(list("abcdefghij"), 12)) for _ in range(60)]
    good = [ref[:10] + "zz" for ref in references]
    bad = [ref[:4] + "zzzzzzzz" for ref in references]
    clear = stats.paired_bootstrap_chrf(references, good, bad, ("good", "bad"))
    assert clear.difference > 0 and clear.significant and (clear.first, clear.second) == ("good", "bad")
    same = stats.paired_bootstrap_chrf(references, good, list(good))
    assert same.difference == 0 and not same.significant
