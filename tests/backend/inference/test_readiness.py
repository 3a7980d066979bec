"""Ready for a demo: model states, preparing a model end to end from the local hub, the check command."""

from __future__ import annotations

import dataclasses

from backend.inference import readiness
from backend.models import availability
from backend.models.__main__ import main
from backend.models.cache import ModelCache
from backend.models.resolve import catalogue
from tests.support.local_hub import TINY_REPO


def _tiny_spec() -> catalogue.ModelSpec:
    return dataclasses.replace(catalogue.default_model(catalogue.SENTIMENT), hub_id=TINY_REPO)


def test_preparing_a_model_downloads_loads_and_answers_an_example(hub_settings, local_hub):
    cache = ModelCache(2**30, settings=hub_settings)
    events = []
    result = readiness.check_model(_tiny_spec(), cache, events.append, hub_settings)
    assert result.ok and result.step == "ready"
    assert result.message.split(" ")[0] in {"negative", "neutral", "positive"}
    assert events and events[-1].state == "done"
    assert [(m.task, m.model_ref) for m in cache.loaded()] == [(catalogue.SENTIMENT, TINY_REPO)]
    again = readiness.check_model(_tiny_spec(), cache, None, hub_settings)
    assert again.ok and local_hub.count("GET", "/api/models/") == 1  # downloaded once, loaded once


def test_model_states_say_downloaded_loadable_and_loaded(hub_settings, dead_hub_settings):
    rows = readiness.readiness(set(), dead_hub_settings, [catalogue.SENTIMENT])
    assert rows and not any(row.downloaded or row.loadable or row.loaded for row in rows)
    default = catalogue.default_model(catalogue.SENTIMENT).hub_id
    reachable = readiness.readiness({(catalogue.SENTIMENT, default)}, hub_settings, [catalogue.SENTIMENT])
    assert all(row.loadable for row in reachable)
    assert [row.model for row in reachable if row.loaded] == [default]
    assert set(reachable[0].to_row()) >= {"Downloaded", "On disk (MB)", "Can load now", "Loaded"}
    assert reachable[0].model == default  # what can answer now comes first


def test_a_failed_preparation_names_the_step_and_keeps_operator_detail_apart(dead_hub_settings):
    cache = ModelCache(2**30, settings=dead_hub_settings)
    result = readiness.check_model(_tiny_spec(), cache, None, dead_hub_settings)
    assert not result.ok and result.step == "download"
    assert "Models page" in result.message and "python -m backend.models download" in result.detail


def test_check_command_fails_when_no_model_can_serve_the_demo(capsys):
    assert main(["check", catalogue.SENTIMENT]) == 1
    captured = capsys.readouterr()
    assert "Sentiment: not ready · download: No model is downloaded" in captured.out
    assert "1 of 1 demo(s) not ready" in captured.err


def test_a_demo_is_ready_on_any_downloaded_model_not_only_the_default(dead_hub_settings, tiny_model_paths):
    specs = catalogue.models_for(catalogue.TEXT_GENERATION)
    alternative = specs[-1].hub_id
    import shutil

    shutil.copytree(
        tiny_model_paths[catalogue.TEXT_GENERATION], readiness.mirror_folder(alternative, dead_hub_settings)
    )
    cache = ModelCache(2**40, settings=dead_hub_settings)  # the catalogue's estimate is the real model's
    [chat] = readiness.demo_readiness(set(), dead_hub_settings, tasks=[catalogue.TEXT_GENERATION])
    assert (chat.demo, chat.model, chat.state, chat.can_answer) == ("Chat", alternative, readiness.READY, True)
    [result] = readiness.check_demos(cache, settings=dead_hub_settings, tasks=[catalogue.TEXT_GENERATION])
    assert result.ok and result.model == alternative
    assert readiness.result_line(result).startswith(f"Chat: ready on {specs[-1].title} · ")
    states = readiness.demo_readiness({(catalogue.TEXT_GENERATION, alternative)}, dead_hub_settings)
    assert [s.demo for s in states if s.can_answer] == ["Chat"]
    assert [s.state for s in states if s.demo == "Chat"] == [readiness.LOADED]
    line = readiness.summary_line(states, dead_hub_settings)
    assert line.startswith(f"Ready now: Chat on {specs[-1].title}.")
    assert (
        "Sentiment, Translation, Images, Search: no model is downloaded, and the Hugging Face Hub is unreachable since"
        in line
    )
    # While a blind vote is open the line names no demo's model, the rest of it unchanged.
    unnamed = readiness.summary_line(states, dead_hub_settings, name_models=False)
    assert unnamed.startswith("Ready now: Chat. Sentiment, Translation")
    assert specs[-1].title not in unnamed


def _fake_mirror(settings, hub_id: str) -> None:
    folder = readiness.mirror_folder(hub_id, settings)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")


def test_a_picker_starts_on_a_downloaded_model_when_the_hub_cannot_fetch_the_default(hub_settings, dead_hub_settings):
    refs = [spec.hub_id for spec in catalogue.models_for(catalogue.TEXT_GENERATION)]
    default, alternative = refs[0], refs[-1]

    assert availability.first_available(refs, dead_hub_settings) is None  # nothing can load: the page keeps the default
    _fake_mirror(dead_hub_settings, alternative)
    assert availability.first_available(refs, dead_hub_settings) == alternative
    _fake_mirror(hub_settings, alternative)
    assert availability.first_available(refs, hub_settings) == default  # the hub can fetch it
    _fake_mirror(dead_hub_settings, default)
    assert availability.first_available(refs, dead_hub_settings) == default
    assert availability.first_available([], dead_hub_settings) is None
