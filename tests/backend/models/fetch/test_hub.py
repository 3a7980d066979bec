"""The hub is asked once and remembered; a dead hub fails every model action at once, typed."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from backend.errors import HubUnreachableError, ModelUnavailableError
from backend.models import loader
from backend.models.fetch import hub
from backend.models.fetch.download import download_model
from backend.models.resolve import catalogue
from tests.support.local_hub import TINY_REPO, cache_repo


def test_a_live_hub_is_reachable_and_asked_once(hub_settings, local_hub):
    first = hub.hub_state(hub_settings)
    probes = hub.probes_made()
    second = hub.hub_state(hub_settings)
    assert first.kind == second.kind == hub.REACHABLE
    assert first.label() == "reachable"
    assert hub.probes_made() == probes
    assert local_hub.count("GET", "/api/models") == 1


def test_a_proxy_answering_for_a_blocked_hub_is_not_taken_for_the_hub(hub_settings, local_hub):
    local_hub.is_a_hub = False
    state = hub.hub_state(hub_settings)
    assert state.kind == hub.UNREACHABLE and "HTTP 404" in state.reason
    with pytest.raises(HubUnreachableError):
        loader.load_model(catalogue.SENTIMENT, "someone/not-mirrored", hub_settings)


def test_a_hub_slower_than_the_probe_timeout_counts_as_unreachable(hub_settings, local_hub):
    local_hub.listing_delay_s = hub.PROBE_TIMEOUT_S + 2
    started = time.monotonic()
    state = hub.hub_state(hub_settings)
    assert state.kind == hub.UNREACHABLE
    assert time.monotonic() - started < hub.PROBE_TIMEOUT_S + 1.5  # generous: the probe gives up at 3 s


def test_offline_mode_is_reported_without_probing(settings):
    probes = hub.probes_made()
    state = hub.hub_state(dataclasses.replace(settings, offline=True))
    assert state.label() == "offline mode"
    assert hub.probes_made() == probes


def test_two_catalogue_defaults_fail_fast_with_one_probe_on_a_dead_hub(dead_hub_settings):
    sentiment = catalogue.default_model(catalogue.SENTIMENT).hub_id
    translation = catalogue.default_model(catalogue.TRANSLATION).hub_id
    probes = hub.probes_made()
    timings = []
    for task, ref in ((catalogue.SENTIMENT, sentiment), (catalogue.TRANSLATION, translation)):
        started = time.monotonic()
        with pytest.raises(HubUnreachableError) as caught:
            loader.load_model(task, ref, dead_hub_settings)
        timings.append(time.monotonic() - started)
        assert ref in caught.value.message and "cannot be reached" in caught.value.message
    assert hub.probes_made() == probes + 1  # the second load used the remembered answer
    assert max(timings) < 5  # generous bound: the issue measured 47 s
    assert hub.hub_state(dead_hub_settings).label().startswith("unreachable since ")


def test_the_unreachable_message_is_for_the_person_and_the_detail_for_the_operator(dead_hub_settings):
    with pytest.raises(HubUnreachableError) as caught:
        loader.load_model(catalogue.SENTIMENT, "someone/not-mirrored", dead_hub_settings)
    error = caught.value
    assert "python -m" not in error.user_text() and "LSM_" not in error.user_text()
    assert "Models page" in error.hint
    assert "python -m backend.models download" in error.detail and "LSM_OFFLINE=1" in error.detail
    assert dead_hub_settings.hub_endpoint in error.detail


def test_offline_mode_is_never_told_to_be_switched_on(settings):
    offline = dataclasses.replace(settings, offline=True)
    with pytest.raises(ModelUnavailableError) as caught:
        loader.load_model(catalogue.SENTIMENT, "someone/not-mirrored", offline)
    error = caught.value
    assert "set LSM_OFFLINE" not in error.detail and "LSM_OFFLINE=1" not in error.user_text()
    assert "offline" in error.detail.lower()


def test_downloads_fail_at_once_on_a_dead_hub(dead_hub_settings):
    with pytest.raises(HubUnreachableError):
        download_model(catalogue.default_model(catalogue.SENTIMENT), settings=dead_hub_settings)
    assert not any(dead_hub_settings.models_dir.iterdir())


def test_a_failed_load_is_remembered_briefly(hub_settings, local_hub):
    # The local hub does not know this repo: the first load asks it, the second answers from memory.
    with pytest.raises(ModelUnavailableError):
        loader.load_model(catalogue.SENTIMENT, "nobody/unknown-model", hub_settings)
    asked = sum(local_hub.hits.values())
    assert local_hub.count("HEAD", "/nobody/unknown-model/") >= 1
    with pytest.raises(ModelUnavailableError):
        loader.load_model(catalogue.SENTIMENT, "nobody/unknown-model", hub_settings)
    assert sum(local_hub.hits.values()) == asked


def test_a_hub_that_comes_back_clears_remembered_failures(hub_settings, local_hub):
    local_hub.is_a_hub = False
    down = hub.hub_state(hub_settings)
    hub.remember_failure(f"{catalogue.SENTIMENT}:org/model", ModelUnavailableError("failed"))
    assert hub.hub_state(hub_settings, refresh=True).since == down.since  # still down, same "since"
    local_hub.is_a_hub = True
    assert hub.hub_state(hub_settings, refresh=True).kind == hub.REACHABLE
    assert hub.recent_failure(f"{catalogue.SENTIMENT}:org/model") is None


def test_a_cached_snapshot_counts_only_with_every_weight_shard_inside_it(hub_settings, local_hub):
    assert hub.cached_snapshot(TINY_REPO) is None
    snapshot = cache_repo(local_hub, TINY_REPO)
    assert hub.cached_snapshot(TINY_REPO) == snapshot
    index = snapshot / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {"a": "model.safetensors"}}), encoding="utf-8")
    assert hub.cached_snapshot(TINY_REPO) == snapshot
    index.write_text(json.dumps({"weight_map": {"a": "model-00002.safetensors"}}), encoding="utf-8")
    assert hub.cached_snapshot(TINY_REPO) is None  # a shard not fetched yet
    (snapshot / "model-00002.safetensors").symlink_to(snapshot / "model.safetensors")
    index.write_text(json.dumps({"weight_map": {"a": "../model-00002.safetensors"}}), encoding="utf-8")
    assert hub.cached_snapshot(TINY_REPO) is None  # a name that leaves the snapshot
    index.unlink()
    (snapshot / "model.safetensors").unlink()
    assert hub.cached_snapshot(TINY_REPO) is None
