"""The demos loaded in bfloat16 on CPU (setting ``cpu_bfloat16``) answer as in float32."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from backend.inference import image_classification, sentiment, text_generation, translation
from backend.inference.chat_prompt import ChatMessage
from backend.models.loader import load_model
from backend.models.resolve import catalogue
from tests.support import tolerances

TEXTS = ["I love this product", "这部电影太糟糕了", "The delivery was late and the box was damaged."]
# A score computed in bfloat16 against float32's: the weights, each product and the logits are
# rounded to bfloat16 on one side only, about three roundings of a probability's size.
_SCORE_BOUND = tolerances.tolerance("bfloat16", roundings=3).atol


def _both(task: str, tiny_model_paths, settings):
    ref = tiny_model_paths[task]
    return (
        load_model(task, ref, tolerances.settings_computing_in(settings, "float32")),
        load_model(task, ref, tolerances.settings_computing_in(settings, "bfloat16")),
    )


def _weights_dtype(loaded) -> torch.dtype:
    return next(loaded.model.parameters()).dtype


def test_sentiment_in_bfloat16_gives_the_float32_scores(tiny_model_paths, settings):
    full, half = _both(catalogue.SENTIMENT, tiny_model_paths, settings)
    assert (_weights_dtype(full), _weights_dtype(half)) == (torch.float32, torch.bfloat16)
    assert half.dtype == "bfloat16"
    for expected, got in zip(sentiment.classify(full, TEXTS), sentiment.classify(half, TEXTS), strict=True):
        assert got.scores == pytest.approx(expected.scores, abs=_SCORE_BOUND)
        assert got.tokens == expected.tokens


def test_image_classification_in_bfloat16_gives_the_float32_scores(tiny_model_paths, settings):
    full, half = _both(catalogue.IMAGE_CLASSIFICATION, tiny_model_paths, settings)
    images = [Image.new("RGB", (64, 48), colour) for colour in ((200, 30, 30), (20, 160, 90))]
    for expected, got in zip(
        image_classification.classify_images(full, images),
        image_classification.classify_images(half, images),
        strict=True,
    ):
        expected_scores = {item.label: item.score for item in expected.top}
        for item in got.top:
            assert item.score == pytest.approx(expected_scores.get(item.label, 0.0), abs=_SCORE_BOUND)


def test_generation_demos_run_in_bfloat16(tiny_model_paths, settings):
    _, translator = _both(catalogue.TRANSLATION, tiny_model_paths, settings)
    result = translation.translate_text(translator, "The weather is nice today.", "en", "zh")
    assert result.sentences and result.sentences[0].output_tokens > 0

    _, chat = _both(catalogue.TEXT_GENERATION, tiny_model_paths, settings)
    stream = text_generation.stream_reply(
        chat, [ChatMessage("user", "Hello")], text_generation.GenerationOptions(temperature=0, max_new_tokens=4)
    )
    for _ in stream:
        pass
    assert stream.result is not None and 1 <= stream.result.new_tokens <= 4
