"""Warm start: the chosen tasks' defaults download and load in the background, once per process."""

from __future__ import annotations

import dataclasses

import pytest

from backend.models import warm
from backend.models.cache import ModelCache
from backend.models.resolve import catalogue
from tests.support.local_hub import LocalHub


@pytest.fixture
def warm_reset():
    warm._reset_for_tests()
    yield
    warm._reset_for_tests()


def test_unknown_and_all_task_names(settings):
    assert warm.warm_specs(dataclasses.replace(settings, warm_tasks=("speech",))) == []
    everything = warm.warm_specs(dataclasses.replace(settings, warm_tasks=("all",)))
    assert {spec.hub_id for spec in everything} == {
        spec.hub_id for spec in [spec for spec in catalogue.CATALOGUE if spec.default]
    }


def test_warm_start_downloads_and_loads_the_default_once(hub_settings, tiny_models_dir, warm_reset):
    default = catalogue.default_model(catalogue.SENTIMENT).hub_id
    # The local hub serves the tiny classifier under the catalogue default's name.
    with LocalHub({default: tiny_models_dir["sentiment"]}) as server:
        warm_settings = dataclasses.replace(hub_settings, hub_endpoint=server.endpoint, warm_tasks=("sentiment",))
        cache = ModelCache(2**31, settings=warm_settings)
        assert warm.start(cache, warm_settings) == [(catalogue.SENTIMENT, default)]
        assert warm.start(cache, warm_settings) == []  # once per process
        assert warm.wait(catalogue.SENTIMENT, default, timeout=60)
        assert not warm.is_warming(catalogue.SENTIMENT, default)
        assert warm.warm_error(catalogue.SENTIMENT, default) == ""
        assert [(m.task, m.model_ref) for m in cache.loaded()] == [(catalogue.SENTIMENT, default)]


def test_a_failed_warm_start_is_recorded_not_raised(dead_hub_settings, warm_reset):
    default = catalogue.default_model(catalogue.SENTIMENT).hub_id
    dead = dataclasses.replace(dead_hub_settings, warm_tasks=("sentiment",))
    warm.start(ModelCache(2**31, settings=dead), dead)
    assert warm.wait(catalogue.SENTIMENT, default, timeout=30)
    assert "cannot be reached" in warm.warm_error(catalogue.SENTIMENT, default)
