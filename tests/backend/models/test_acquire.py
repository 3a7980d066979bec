"""One path from a model reference to a loaded model: a click on any demo resolves its model once and
checks its input once."""

from __future__ import annotations

import shutil

import pytest

from backend import uploads
from backend.errors import HubUnreachableError, UnsafeModelError, UntrainedWeightsError
from backend.inference import chat_prompt, image_classification, readiness, sentiment, text_generation, translation
from backend.inference.chat_prompt import ChatMessage
from backend.model_access import check_plan_access
from backend.models import acquire
from backend.models.cache import ModelCache
from backend.models.fetch import download
from backend.models.resolve import catalogue, plan
from backend.use_cases import search
from backend.use_cases.catalogue import load_catalogue
from tests.support.local_hub import TINY_REPO
from tests.support.training_data import colour_image


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


def _sentiment_click(loaded_for, raw: str):
    text = uploads.check_text(raw, sentiment.MAX_CHARS)
    result = sentiment.classify_text(loaded_for(catalogue.SENTIMENT), text)
    return result.classification.label


def _translation_click(loaded_for, raw: str):
    text = uploads.check_text(raw, translation.MAX_CHARS)
    result = translation.translate_text(loaded_for(catalogue.TRANSLATION), text, "en", "de")
    return [sentence.source for sentence in result.sentences]


def _chat_message(loaded_for, raw: str):
    prompt = uploads.check_text(raw, chat_prompt.MAX_MESSAGE_CHARS)
    options = text_generation.GenerationOptions(temperature=0, max_new_tokens=2)
    stream = text_generation.stream_reply(loaded_for(catalogue.TEXT_GENERATION), [ChatMessage("user", prompt)], options)
    for _ in stream:
        pass
    return stream.result.new_tokens


def _image_upload(loaded_for, _raw: str):
    image = uploads.open_image(colour_image((220, 30, 30), seed=1), "red.png", max_side=uploads.MODEL_IMAGE_SIDE)
    result = image_classification.classify_image(loaded_for(catalogue.IMAGE_CLASSIFICATION), image, "red.png")
    return result.prediction.label


def _use_case_search(loaded_for, raw: str):
    # The page hands the query to the backend, which checks it.
    response = search.search_catalogue(raw, load_catalogue(), lambda: loaded_for(catalogue.EMBEDDINGS))
    assert response.mode == search.SEMANTIC, response.notice
    return [hit.use_case_id for hit in response.hits]


# What each demo page does on one click, in its order: check the input (a text box, or an
# uploaded image), acquire the model, answer. A user's text has several sentences, so a task that
# checked each sentence again would show here.
_CLICKS = {
    catalogue.SENTIMENT: _sentiment_click,
    catalogue.TRANSLATION: _translation_click,
    catalogue.TEXT_GENERATION: _chat_message,
    catalogue.IMAGE_CLASSIFICATION: _image_upload,
    catalogue.EMBEDDINGS: _use_case_search,
}


def test_every_demo_task_is_a_demo_here():
    assert set(_CLICKS) == set(readiness.DEMOS)


@pytest.mark.parametrize("task", sorted(_CLICKS))
def test_one_click_resolves_its_model_once_and_checks_its_input_once(task, tiny_model_paths, settings, monkeypatch):
    cache = ModelCache(50 * 2**20, settings=settings)
    resolved = _count_calls(monkeypatch, plan, "resolve_source")
    planned = _count_calls(monkeypatch, acquire, "plan_load")
    texts_checked = _count_calls(monkeypatch, uploads, "_clean_text")
    images_opened = _count_calls(monkeypatch, uploads, "open_image")
    access = []

    def loaded_for(model_task: str):
        assert model_task == task
        return acquire.acquire(task, tiny_model_paths[task], cache, check_access=access.append, settings=settings)

    answer = _CLICKS[task](loaded_for, "  I love this phone. It is fast.\nThe battery lasts.  ")

    assert answer
    assert (len(resolved), len(planned)) == (1, 1)
    inputs_checked = len(images_opened) if task == catalogue.IMAGE_CLASSIFICATION else len(texts_checked)
    assert inputs_checked == 1
    assert [p.folder for p in access] == [plan.Path(tiny_model_paths[task]).resolve()]
    _CLICKS[task](loaded_for, "Again.")
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
