"""Example answers are kept per model and options, bounded, oldest dropped first."""

from backend.models.answers import AnswerCache


def test_answers_are_kept_per_model_and_options_and_bounded():
    cache = AnswerCache(max_answers=2)
    cache.put(("sentiment", "org/a", "I love it", ()), "positive")
    assert cache.get(("sentiment", "org/a", "I love it", ())) == "positive"
    assert cache.get(("sentiment", "org/b", "I love it", ())) is None
    assert cache.get(("translation", "org/a", "I love it", ("en", "zh", 1))) is None
    cache.put(("sentiment", "org/b", "I love it", ()), "neutral")
    cache.get(("sentiment", "org/a", "I love it", ()))  # recently used: kept
    cache.put(("sentiment", "org/c", "I love it", ()), "negative")
    assert len(cache) == 2
    assert cache.get(("sentiment", "org/b", "I love it", ())) is None
    assert cache.get(("sentiment", "org/a", "I love it", ())) == "positive"
