"""Side-by-side runs on real tiny classifiers loaded through ``acquire``, and labelled-table scores."""

from __future__ import annotations

import pytest

from backend.arena import compare
from backend.errors import InvalidInputError
from backend.i18n import use_language
from backend.inference import sentiment
from backend.inference.footer import RunFooter
from backend.models import acquire
from backend.models.cache import ModelCache
from backend.models.resolve import catalogue
from tests.support.translation_marks import wrap_every_translation


def _loader(settings):
    cache = ModelCache(2**30, settings=settings)
    return lambda ref: acquire.acquire(
        catalogue.SENTIMENT, ref, cache, check_access=lambda plan: None, settings=settings
    )


def test_every_model_answers_in_its_column_and_a_refusal_stays_in_its_own(local, tiny_model_paths):
    missing = str(local.models_dir / "compare-tests" / "not-here")
    refs = [tiny_model_paths["sentiment"], missing, tiny_model_paths["text-classifier-base"]]
    columns = compare.run_each(
        refs, _loader(local), lambda loaded: sentiment.classify_text(loaded, "Great phone."), lambda r: r.footer
    )
    assert [column.model_ref for column in columns] == refs
    assert [column.ok for column in columns] == [True, False, True]
    assert columns[1].error and columns[1].answer is None and columns[1].cost is None
    answered = columns[0]
    assert answered.answer.classification.label in answered.answer.classification.scores
    assert answered.cost.rate_unit == "texts/s" and answered.cost.rate > 0
    assert answered.cost.memory_mb and answered.cost.memory_mb > 0
    assert answered.cost.device == answered.answer.footer.device


def test_two_to_four_different_models_are_compared():
    assert compare.check_model_count(["a", "b", "a"]) == ["a", "b"]
    for refs in (["a"], ["a", "a"], ["a", "b", "c", "d", "e"]):
        with pytest.raises(InvalidInputError, match="from 2 to 4"):
            compare.check_model_count(refs)


def test_dissenters_are_the_answers_off_the_majority():
    assert compare.dissenters(["pos", "pos", "neg"]) == {2}
    assert compare.dissenters(["pos", "pos", None]) == set()
    assert compare.dissenters(["pos", "neg"]) == {0, 1}
    assert compare.dissenters(["pos", None, "neg", "neg"]) == {0}


def test_a_labelled_table_scores_every_model_on_the_same_rows():
    truth = ["Positive", "negative ", "positive", "negative", "positive", "negative"]
    evaluation = compare.evaluate(
        truth,
        {
            "weak": ["positive"] * 6,  # 3 of 6
            "strong": ["positive", "negative", "positive", "negative", "positive", "positive"],  # 5 of 6
        },
    )
    assert [score.model_ref for score in evaluation.scores] == ["strong", "weak"]
    strong, weak = evaluation.scores
    assert strong.accuracy.value == pytest.approx(5 / 6)
    assert weak.accuracy.value == pytest.approx(0.5)
    # weak: positive F1 = 2*3/(2*3+3+0) = 2/3, negative F1 = 0 -> 1/3.
    assert weak.macro_f1.value == pytest.approx(1 / 3)
    assert strong.accuracy.low <= strong.accuracy.value <= strong.accuracy.high
    assert (evaluation.paired.first, evaluation.paired.second) == ("strong", "weak")
    assert (evaluation.paired.first_only, evaluation.paired.second_only) == (2, 0)
    assert evaluation.disagreeing_rows == 2
    assert evaluation.unknown_labels == []


def test_labels_no_model_predicts_are_reported():
    evaluation = compare.evaluate(["happy", "sad"], {"m1": ["positive", "negative"], "m2": ["positive", "positive"]})
    assert evaluation.unknown_labels == ["happy", "sad"]


def test_a_labelled_table_has_limits():
    with pytest.raises(InvalidInputError, match="no labelled rows"):
        compare.evaluate([], {"m": []})
    with pytest.raises(InvalidInputError, match="at most 2,000"):
        compare.evaluate(["a"] * 2001, {"m": ["a"] * 2001})


def test_reference_translations_score_every_model_and_test_the_top_two():
    references = [f"the {animal} sleeps on the {place}" for animal in ("cat", "dog", "owl") for place in ("mat", "bed")]
    outputs = {
        "close": [text.replace("sleeps", "sleep") for text in references],
        "far": ["something else entirely" for _ in references],
        "exact": list(references),
    }
    evaluation = compare.evaluate_translations(references, outputs)
    assert [score.model_ref for score in evaluation.scores] == ["exact", "close", "far"]
    assert evaluation.scores[0].chrf.value == 100.0 and evaluation.rows == 6
    assert (evaluation.paired.first, evaluation.paired.second) == ("exact", "close")
    assert evaluation.paired.difference > 0


def test_reference_translations_have_limits():
    with pytest.raises(InvalidInputError, match="no labelled rows"):
        compare.evaluate_translations([], {"m": []})
    with pytest.raises(InvalidInputError, match="at most 500"):
        compare.evaluate_translations(["a"] * 501, {"m": ["a"] * 501})


@pytest.mark.parametrize(("unit", "english"), [("text", "texts/s"), ("reply", "replies/s"), ("image", "images/s")])
def test_a_rate_is_said_whole_in_the_readers_language(unit, english, monkeypatch):
    footer = RunFooter("CPU", "org/model", 500.0, 3, unit)
    assert compare.cost_of(None, footer).rate_unit == english
    assert compare.cost_of(None, footer).rate == 6.0
    # Translated as one phrase, not an English unit with a translated "/s" after it ("text/秒").
    wrap_every_translation(monkeypatch)
    with use_language("zh"):
        assert compare.cost_of(None, footer).rate_unit == f"‹{english}›"
