"""The optional int8 CPU setting: which tasks it quantises, and that the demos still answer."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from backend.config import load_settings
from backend.inference import sentiment, text_generation
from backend.models import quantize
from backend.models.device import choose_device
from backend.models.loader import load_model

_DYNAMIC_LINEAR = torch.ao.nn.quantized.dynamic.Linear


def _quantized_layers(model: torch.nn.Module) -> int:
    return sum(isinstance(module, _DYNAMIC_LINEAR) for module in model.modules())


@pytest.fixture
def int8_settings(settings):
    return dataclasses.replace(settings, cpu_quantize=quantize.INT8)


def test_setting_is_read_from_the_environment_and_off_by_default(monkeypatch):
    monkeypatch.delenv("LSM_CPU_QUANTIZE", raising=False)
    assert load_settings().cpu_quantize == "none"
    monkeypatch.setenv("LSM_CPU_QUANTIZE", " INT8 ")
    assert load_settings().cpu_quantize == "int8"


def test_only_cpu_demo_tasks_are_quantised(int8_settings, settings):
    cpu, gpu = choose_device("cpu"), dataclasses.replace(choose_device("cpu"), kind="cuda")
    assert quantize.wants_int8("sentiment", cpu, int8_settings)
    assert quantize.wants_int8("text-generation", cpu, int8_settings)
    assert not quantize.wants_int8("embeddings", cpu, int8_settings)
    assert not quantize.wants_int8("sentiment", gpu, int8_settings)
    assert not quantize.wants_int8("sentiment", cpu, settings)


def test_int8_classifier_answers_like_the_float_one(tiny_model_paths, settings, int8_settings):
    texts = ["I love this product, it works great.", "这是我遇到过的最差的服务。", "The weather is fine today."]
    reference = load_model("sentiment", tiny_model_paths["sentiment"], settings)
    loaded = load_model("sentiment", tiny_model_paths["sentiment"], int8_settings)
    assert _quantized_layers(reference.model) == 0
    assert _quantized_layers(loaded.model) > 0
    assert loaded.dtype == "float32"
    float_bytes = sum(p.numel() * p.element_size() for p in loaded.model.parameters())
    assert loaded.memory_bytes > float_bytes  # the int8 weights, absent from parameters(), are counted
    expected = sentiment.classify(reference, texts)
    results = sentiment.classify(loaded, texts)
    assert [r.label for r in results] == [r.label for r in expected]
    for got, want in zip(results, expected, strict=True):
        assert sum(got.scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert got.score == pytest.approx(want.score, abs=0.05)


def test_int8_chat_model_generates(tiny_model_paths, int8_settings):
    loaded = load_model("text-generation", tiny_model_paths["text-generation"], int8_settings)
    # The chat model's int8 is weight-only (tests/backend/models/test_streamed_load.py), not dynamic.
    assert _quantized_layers(loaded.model) == 0
    assert quantize.is_weight_only_int8(loaded.model)
    options = text_generation.GenerationOptions(temperature=0, max_new_tokens=5)
    [reply] = text_generation.generate(loaded, ["Hello"], options)
    assert 1 <= reply.new_tokens <= 5
