"""Many sessions, one cache: concurrent requests to shared models give each caller its own answer.

Threads stand in for Streamlit sessions (the server runs each session's script in a thread). Every
thread asks the same cache for the same models and runs a different input; each result must equal
the result of running that input alone.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from backend.inference import image_classification, sentiment, translation
from backend.models.cache import ModelCache
from backend.models.resolve import catalogue

TEXTS = [
    "I love this product, it works great.",
    "This is the worst service I have ever had.",
    "我非常喜欢这个产品，效果很好。",
    "这是我遇到过的最差的服务。",
    "The weather is fine today and the model is fast.",
    "Large models are changing every industry.",
]
THREADS = 24
ROUNDS = 3


def _image(seed: int) -> Image.Image:
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40), (10, 10, 10), (250, 250, 250)]
    return Image.new("RGB", (40 + seed, 30 + seed), colours[seed % len(colours)])


def _run(cache: ModelCache, paths: dict[str, str], kind: str, index: int) -> object:
    """One request of ``kind`` for input ``index``, returning comparable plain values."""
    if kind == "sentiment":
        loaded = cache.get(catalogue.SENTIMENT, paths["sentiment"])
        [result] = sentiment.classify(loaded, [TEXTS[index % len(TEXTS)]])
        return result.label, tuple(round(v, 5) for v in result.scores.values()), result.tokens
    if kind == "translation":
        loaded = cache.get(catalogue.TRANSLATION, paths["translation"])
        [result] = translation.translate(loaded, [TEXTS[index % len(TEXTS)]])
        return result.translation, result.output_tokens
    loaded = cache.get(catalogue.IMAGE_CLASSIFICATION, paths["image-classification"])
    [result] = image_classification.classify_images(loaded, [_image(index % 6)], names=[f"image {index}"])
    return result.name, tuple((score.label, round(score.score, 5)) for score in result.top)


@pytest.fixture
def cache(settings) -> ModelCache:
    return ModelCache(budget_bytes=2**30, settings=settings)


def test_concurrent_requests_across_tasks_match_sequential_runs(cache, tiny_model_paths):
    kinds = ("sentiment", "translation", "image")
    work = [(kinds[i % 3], i) for i in range(THREADS)]
    expected = {(kind, i): _run(cache, tiny_model_paths, kind, i) for kind, i in work}
    # Inputs really differ, so a mixed-up answer cannot pass by accident.
    assert len({expected[("sentiment", i)] for i in range(0, THREADS, 3)}) > 1
    assert len({str(expected[("image", i)]) for i in range(2, THREADS, 3)}) > 1

    start = threading.Barrier(THREADS)

    def session(kind: str, index: int) -> list[object]:
        start.wait()
        return [_run(cache, tiny_model_paths, kind, index) for _ in range(ROUNDS)]

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = {(kind, i): pool.submit(session, kind, i) for kind, i in work}
        results = {key: future.result(timeout=300) for key, future in futures.items()}

    for key, answers in results.items():
        assert answers == [expected[key]] * ROUNDS, key
    # One copy of each model serves everyone.
    assert sorted(item.task for item in cache.loaded()) == sorted(
        [catalogue.SENTIMENT, catalogue.TRANSLATION, catalogue.IMAGE_CLASSIFICATION]
    )
