"""Ready for a demo: model states, preparing a model end to end from the local hub, the check command."""

from __future__ import annotations

import dataclasses

from backend.inference import readiness
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
    assert set(reachable[0].to_row()) >= {"downloaded", "on disk (MB)", "loadable", "loaded"}


def test_a_failed_preparation_names_the_step_and_keeps_operator_detail_apart(dead_hub_settings):
    cache = ModelCache(2**30, settings=dead_hub_settings)
    result = readiness.check_model(_tiny_spec(), cache, None, dead_hub_settings)
    assert not result.ok and result.step == "download"
    assert "Models page" in result.message and "python -m backend.models download" in result.detail


def test_check_command_fails_when_defaults_are_not_ready(capsys):
    assert main(["check", catalogue.SENTIMENT]) == 1
    captured = capsys.readouterr()
    assert "FAIL" in captured.out and "not ready" in captured.err


def _fake_mirror(settings, hub_id: str) -> None:
    folder = readiness.mirror_folder(hub_id, settings)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")


def test_a_picker_starts_on_a_downloaded_model_when_the_hub_cannot_fetch_the_default(hub_settings, dead_hub_settings):
    specs = catalogue.models_for(catalogue.TEXT_GENERATION)
    default, alternative = specs[0].hub_id, specs[-1].hub_id

    assert readiness.initial_choice(specs, dead_hub_settings) == default  # nothing downloaded: keep it
    _fake_mirror(dead_hub_settings, alternative)
    assert readiness.initial_choice(specs, dead_hub_settings) == alternative
    _fake_mirror(hub_settings, alternative)
    assert readiness.initial_choice(specs, hub_settings) == default  # the hub can fetch it
    _fake_mirror(dead_hub_settings, default)
    assert readiness.initial_choice(specs, dead_hub_settings) == default
    assert readiness.initial_choice([], dead_hub_settings) is None
