"""Answer quality with the real default models, when their offline mirrors are present.

The tiny models have random weights, so only real ones can show that a review is read as positive,
that English becomes Chinese, that the cat is a cat and that the chat model answers. Mirrors are
looked up in the project's own models folder (where ``python -m backend.models download`` puts
them); each test is skipped when its model is absent.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from backend.config import PROJECT_ROOT, get_settings, load_settings
from backend.inference import image_classification, sentiment, text_generation, translation
from backend.models.loader import load_model
from backend.models.resolve import catalogue
from backend.models.resolve.plan import mirror_folder
from backend.uploads import open_image

PROJECT_MODELS = PROJECT_ROOT / "models"
# Read fresh settings here: the cached ones are set up for the session later, by a fixture.
_MIRROR_SETTINGS = dataclasses.replace(load_settings(), models_dir=PROJECT_MODELS)
# A tiny stand-in saved under a real model's name must not count as the real model.
_REAL_WEIGHTS_MIN_BYTES = 50 * 2**20

pytestmark = pytest.mark.real_weights


def _real_model(task: str, hub_id: str):
    mirror = mirror_folder(hub_id, _MIRROR_SETTINGS)
    weights = sum(path.stat().st_size for path in mirror.rglob("*.safetensors")) if mirror.is_dir() else 0
    if not (mirror / "config.json").is_file() or weights < _REAL_WEIGHTS_MIN_BYTES:
        pytest.skip(f"the real model {hub_id} is not in {mirror} (run `python -m backend.models download`)")
    return load_model(task, hub_id, dataclasses.replace(get_settings(), models_dir=PROJECT_MODELS))


def test_sentiment_reads_english_and_chinese_reviews():
    loaded = _real_model(catalogue.SENTIMENT, catalogue.default_model(catalogue.SENTIMENT).hub_id)
    results = sentiment.classify(
        loaded,
        [
            "I love this phone, the camera is superb.",
            "Worst service ever, the parcel arrived broken.",
            "这家餐厅的菜非常好吃，服务也很周到！",
            "质量太差了，用了两天就坏了，非常失望。",
        ],
    )
    assert [r.label for r in results] == ["positive", "negative", "positive", "negative"]


def test_english_to_chinese_gives_chinese_sentence_by_sentence():
    loaded = _real_model(catalogue.TRANSLATION, catalogue.translation_model("en", "zh").hub_id)
    result = translation.translate_text(loaded, "The weather is nice today. I am going to the park.", "en", "zh")
    assert len(result.sentences) == 2
    assert all(re.search(r"[\u4e00-\u9fff]", s.translation) for s in result.sentences)
    assert " " not in result.translation.strip()


def test_the_sample_cat_is_a_cat():
    loaded = _real_model(catalogue.IMAGE_CLASSIFICATION, catalogue.default_model(catalogue.IMAGE_CLASSIFICATION).hub_id)
    image = open_image(image_classification.read_sample("cat"), "cat.jpg")
    result = image_classification.classify_image(loaded, image)
    assert "cat" in " ".join(item.label.lower() for item in result.prediction.top[:3])


def test_the_chat_model_answers_a_simple_question():
    loaded = _real_model(catalogue.TEXT_GENERATION, catalogue.default_model(catalogue.TEXT_GENERATION).hub_id)
    stream = text_generation.stream_reply(
        loaded,
        [text_generation.ChatMessage("user", "What is the capital of France? Answer in one word.")],
        text_generation.GenerationOptions(temperature=0, max_new_tokens=16),
    )
    assert "Paris" in "".join(stream)
    assert stream.result.new_tokens > 0 and not stream.result.stopped
