"""One path from a model reference to a loaded model: a click resolves once and checks its text once."""

from __future__ import annotations

import shutil

import pytest

from backend import uploads
from backend.errors import HubUnreachableError, UnsafeModelError, UntrainedWeightsError
from backend.inference import sentiment
from backend.model_access import check_plan_access
from backend.models import acquire
from backend.models.cache import ModelCache
from backend.models.fetch import download
from backend.models.resolve import catalogue, plan
from tests.support.local_hub import TINY_REPO


def _count_calls(monkeypatch, module, name: str) -> list:
    calls = []
    real = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def _anyone(_plan) -> None:
    return None


def test_a_sentiment_click_resolves_its_model_once_and_checks_its_text_once(tiny_model_paths, settings, monkeypatch):
    cache = ModelCache(10 * 2**20, settings=settings)
    resolved = _count_calls(monkeypatch, plan, "resolve_source")
    planned = _count_calls(monkeypatch, acquire, "plan_load")
    cleaned = _count_calls(monkeypatch, uploads, "_clean_text")
    access = []

    # What the page does on "Analyse": check the box, acquire the model, classify.
    text = uploads.check_text("  I love this phone.  ", sentiment.MAX_CHARS)
    loaded = acquire.acquire(
        catalogue.SENTIMENT, tiny_model_paths[catalogue.SENTIMENT], cache, check_access=access.append, settings=settings
    )
    result = sentiment.classify_text(loaded, text)

    assert (len(resolved), len(planned), len(cleaned)) == (1, 1, 1)
    assert [p.folder for p in access] == [plan.Path(tiny_model_paths[catalogue.SENTIMENT]).resolve()]
    assert result.classification.label in sentiment.labels_of(loaded)
    acquire.acquire(catalogue.SENTIMENT, tiny_model_paths[catalogue.SENTIMENT], cache, _anyone, settings=settings)
    assert len(resolved) == 2  # a second click plans again (cheap), and the cache hit loads nothing
    assert len(cache.loaded()) == 1


def test_a_checked_text_is_still_bounded_by_a_smaller_limit():
    text = uploads.check_text("x" * 50, 100)
    with pytest.raises(uploads.InvalidInputError, match="the limit is 10"):
        uploads.check_text(text, 10)
    assert uploads.check_text(" \x00 hi ", 10) == "hi"


def test_a_folder_of_another_owner_is_refused_before_anything_loads(tiny_model_paths, settings):
    source = plan.Path(tiny_model_paths[catalogue.SENTIMENT])
    run_folder = settings.runs_dir / "someone-elses-run"
    shutil.copytree(source, run_folder / "model")

    class Jobs:
        def list_jobs(self):
            return [type("Job", (), {"owner": "alice", "run_dir": str(run_folder)})()]

    cache = ModelCache(10 * 2**20, settings=settings)
    try:
        with pytest.raises(UnsafeModelError, match="not in your workspace"):
            acquire.acquire(
                catalogue.SENTIMENT,
                str(run_folder / "model"),
                cache,
                check_access=lambda p: check_plan_access(p, "bob", settings, Jobs()),
                settings=settings,
            )
        assert cache.loaded() == []
        acquire.acquire(
            catalogue.SENTIMENT,
            str(run_folder / "model"),
            cache,
            check_access=lambda p: check_plan_access(p, "alice", settings, Jobs()),
            settings=settings,
        )
        assert len(cache.loaded()) == 1
    finally:
        shutil.rmtree(run_folder, ignore_errors=True)


def test_a_hub_model_is_downloaded_once_then_loaded_from_its_folder(hub_settings, monkeypatch):
    cache = ModelCache(50 * 2**20, settings=hub_settings)
    reports = []
    stages = []

    class Shown:
        def __init__(self, stage):
            stages.append(stage)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    loaded = acquire.acquire(
        catalogue.SENTIMENT,
        TINY_REPO,
        cache,
        _anyone,
        on_download=reports.append,
        show_stage=Shown,
        settings=hub_settings,
    )
    assert download.is_downloaded(TINY_REPO, hub_settings)
    assert reports and reports[-1].state == "done"
    assert loaded.source == str(plan.mirror_folder(TINY_REPO, hub_settings))
    assert stages == [acquire.LOADING]


def test_a_missing_hub_model_with_the_hub_out_of_reach_says_so(dead_hub_settings):
    cache = ModelCache(50 * 2**20, settings=dead_hub_settings)
    with pytest.raises(HubUnreachableError):
        acquire.acquire(catalogue.SENTIMENT, TINY_REPO, cache, _anyone, settings=dead_hub_settings)
    assert cache.loaded() == []


def test_a_model_without_trained_weights_is_refused_before_the_cache_makes_room_for_it(
    tiny_model_paths, settings, monkeypatch
):
    sentiment_ref = tiny_model_paths[catalogue.SENTIMENT]
    cache = ModelCache(10 * 2**20, settings=settings)
    acquire.acquire(catalogue.SENTIMENT, sentiment_ref, cache, _anyone, settings=settings)
    # So small a budget that any other load would first evict the model already there.
    cache.budget_bytes = cache.used_bytes() + 1
    loads = _count_calls(monkeypatch, cache, "_loader")
    with pytest.raises(UntrainedWeightsError, match="no trained weights for sentiment"):
        acquire.acquire(catalogue.SENTIMENT, tiny_model_paths[catalogue.EMBEDDINGS], cache, _anyone, settings=settings)
    assert loads == []
    assert [(model.task, model.model_ref) for model in cache.loaded()] == [(catalogue.SENTIMENT, sentiment_ref)]
