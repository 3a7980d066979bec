"""Fixtures of the tests that tune a tiny chat model end to end through the worker (chat and
preference tuning): each test module gets its own workspace and base model."""

from __future__ import annotations

import dataclasses

import pytest

from tests.support import tiny_models


@pytest.fixture(scope="module")
def tuning_settings(settings, tmp_path_factory):
    """Settings with state and models folders of the test module's own, so its jobs and models are
    the only ones listed."""
    root = tmp_path_factory.mktemp("tuning")
    return dataclasses.replace(settings, state_dir=root / "state", models_dir=root / "models")


@pytest.fixture(scope="module")
def base_model(tuning_settings) -> str:
    """A tiny chat model in the models folder, with larger initial weights than the demo's, as a
    pretrained model has (see the builder)."""
    return str(tiny_models.build_chat_model(tuning_settings.models_dir / "rule-base", initializer_range=0.3))
