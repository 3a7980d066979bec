"""Tiny models loaded once for the inference tests (through the real loader, from folders)."""

from __future__ import annotations

import pytest

from backend.models.loader import LoadedModel, load_model


@pytest.fixture(scope="session")
def sentiment_model(tiny_model_paths: dict[str, str], settings) -> LoadedModel:
    return load_model("sentiment", tiny_model_paths["sentiment"], settings)


@pytest.fixture(scope="session")
def translation_model(tiny_model_paths: dict[str, str], settings) -> LoadedModel:
    return load_model("translation", tiny_model_paths["translation"], settings)


@pytest.fixture(scope="session")
def image_model(tiny_model_paths: dict[str, str], settings) -> LoadedModel:
    return load_model("image-classification", tiny_model_paths["image-classification"], settings)


@pytest.fixture(scope="session")
def chat_model(tiny_model_paths: dict[str, str], settings) -> LoadedModel:
    return load_model("text-generation", tiny_model_paths["text-generation"], settings)
