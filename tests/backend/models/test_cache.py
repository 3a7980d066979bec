import threading

import pytest

from backend.errors import InsufficientMemoryError
from backend.models.cache import ModelCache
from backend.models.loader import load_from_plan, load_model
from backend.models.resolve import catalogue


@pytest.fixture
def counting_loader(settings):
    calls: list[tuple[str, str]] = []

    def loader(plan):
        calls.append((plan.task, plan.ref))
        return load_from_plan(plan, settings)

    loader.calls = calls
    return loader


def _size(task, tiny_model_paths, settings):
    return load_model(task, tiny_model_paths[task], settings).memory_bytes


def test_second_get_reuses_the_model(tiny_model_paths, settings, counting_loader):
    cache = ModelCache(10 * 2**20, loader=counting_loader, settings=settings)
    ref = tiny_model_paths[catalogue.SENTIMENT]
    assert cache.get(catalogue.SENTIMENT, ref) is cache.get(catalogue.SENTIMENT, ref)
    assert counting_loader.calls == [(catalogue.SENTIMENT, ref)]


def test_the_cache_counts_each_models_loads(tiny_model_paths, settings, counting_loader):
    cache = ModelCache(10 * 2**20, loader=counting_loader, settings=settings)
    ref = tiny_model_paths[catalogue.SENTIMENT]
    cache.get(catalogue.SENTIMENT, ref)
    cache.get(catalogue.SENTIMENT, ref)
    assert [item.loads for item in cache.loaded()] == [1]
    cache.evict(catalogue.SENTIMENT, ref)
    cache.get(catalogue.SENTIMENT, ref)
    assert [item.loads for item in cache.loaded()] == [2]


def test_least_recently_used_model_is_evicted_past_the_budget(tiny_model_paths, settings, counting_loader):
    sizes = {
        t: _size(t, tiny_model_paths, settings)
        for t in (catalogue.SENTIMENT, catalogue.IMAGE_CLASSIFICATION, catalogue.TEXT_GENERATION)
    }
    # Room for the two largest of the three, not for all three.
    budget = sum(sizes.values()) - min(sizes.values()) + 1
    cache = ModelCache(budget, loader=counting_loader, settings=settings)
    cache.get(catalogue.SENTIMENT, tiny_model_paths[catalogue.SENTIMENT])
    cache.get(catalogue.IMAGE_CLASSIFICATION, tiny_model_paths[catalogue.IMAGE_CLASSIFICATION])
    cache.get(catalogue.SENTIMENT, tiny_model_paths[catalogue.SENTIMENT])  # now most recent
    cache.get(catalogue.TEXT_GENERATION, tiny_model_paths[catalogue.TEXT_GENERATION])
    held = {item.task for item in cache.loaded()}
    assert catalogue.TEXT_GENERATION in held
    assert cache.used_bytes() <= budget
    assert catalogue.IMAGE_CLASSIFICATION not in held or catalogue.SENTIMENT not in held
    if len(held) == 2:
        assert held == {catalogue.SENTIMENT, catalogue.TEXT_GENERATION}


def test_model_larger_than_budget_is_refused_with_advice(tiny_model_paths, settings, counting_loader):
    cache = ModelCache(1024, loader=counting_loader, settings=settings)
    with pytest.raises(InsufficientMemoryError) as caught:
        cache.get(catalogue.SENTIMENT, tiny_model_paths[catalogue.SENTIMENT])
    assert "LSM_MODEL_MEMORY_MB" in caught.value.user_text()
    assert cache.loaded() == []


def test_catalogue_estimate_refuses_before_loading(settings, counting_loader):
    cache = ModelCache(100 * 2**20, loader=counting_loader, settings=settings)
    with pytest.raises(InsufficientMemoryError):
        cache.get(catalogue.TEXT_GENERATION, catalogue.default_model(catalogue.TEXT_GENERATION).hub_id)
    assert counting_loader.calls == []


def test_concurrent_requests_load_once(tiny_model_paths, settings, counting_loader):
    cache = ModelCache(10 * 2**20, loader=counting_loader, settings=settings)
    ref = tiny_model_paths[catalogue.TRANSLATION]
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(catalogue.TRANSLATION, ref))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(counting_loader.calls) == 1
    assert all(result is results[0] for result in results)


def test_evict_and_clear(tiny_model_paths, settings):
    cache = ModelCache(10 * 2**20, settings=settings)
    cache.get(catalogue.SENTIMENT, tiny_model_paths[catalogue.SENTIMENT])
    assert cache.evict(catalogue.SENTIMENT, tiny_model_paths[catalogue.SENTIMENT])
    assert not cache.evict(catalogue.SENTIMENT, tiny_model_paths[catalogue.SENTIMENT])
    cache.get(catalogue.SENTIMENT, tiny_model_paths[catalogue.SENTIMENT])
    cache.clear()
    assert cache.loaded() == [] and cache.used_bytes() == 0
