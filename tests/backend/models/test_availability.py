"""Whether a model can load now, in words: downloaded, downloadable because the hub answers, or not."""

from __future__ import annotations

import dataclasses

import pytest

from backend.errors import HubUnreachableError, ModelUnavailableError
from backend.models import availability
from backend.models.resolve import catalogue
from backend.training.classifier import studio as classifier_studio
from backend.training.classifier.params import FULL, TrainingParams
from tests.support.local_hub import TINY_REPO

_MISSING = "some-org/not-downloaded-model"


def test_a_folder_on_this_server_is_downloaded(settings, tiny_model_paths):
    found = availability.model_availability(tiny_model_paths[catalogue.SENTIMENT], settings)
    assert (found.can_load, found.mark, found.is_here) == (True, availability.DOWNLOADED, True)


def test_a_hub_model_downloads_when_the_hub_answers(hub_settings):
    found = availability.base_availability(TINY_REPO, hub_settings)
    assert (found.can_load, found.mark, found.is_here) == (True, availability.NEEDS_HUB, False)
    assert "downloads from the Hugging Face Hub" in found.reason
    assert availability.require_base(TINY_REPO, hub_settings) == found


def test_a_hub_model_cannot_load_when_the_hub_is_out_of_reach(dead_hub_settings):
    found = availability.base_availability(_MISSING, dead_hub_settings)
    assert (found.can_load, found.mark) == (False, availability.UNAVAILABLE)
    assert "Hugging Face Hub is unreachable since" in found.reason
    with pytest.raises(HubUnreachableError, match="cannot be reached"):
        availability.require_base(_MISSING, dead_hub_settings)


def test_offline_mode_says_so(settings):
    offline = dataclasses.replace(settings, offline=True)
    found = availability.model_availability(_MISSING, offline)
    assert not found.can_load
    assert (
        found.reason == f"{_MISSING} is not downloaded, and this app runs without the Hugging Face Hub (offline mode)."
    )


def test_a_bad_reference_is_unavailable_with_its_own_reason(settings):
    found = availability.model_availability("no-such-folder", settings)
    assert not found.can_load and "No model folder" in found.reason
    with pytest.raises(ModelUnavailableError, match="No model folder"):
        availability.require_base("no-such-folder", settings)


def test_a_picker_opens_on_the_first_model_that_can_load(dead_hub_settings, tiny_model_paths, settings):
    local = tiny_model_paths[catalogue.SENTIMENT]
    refs = [_MISSING, local]
    assert (
        availability.first_available(refs, dataclasses.replace(dead_hub_settings, models_dir=settings.models_dir))
        == local
    )
    assert availability.first_available([_MISSING], dead_hub_settings) is None


def test_the_fine_tuning_gate_refuses_a_base_it_cannot_load_now(dead_hub_settings):
    params = TrainingParams("text", FULL, _MISSING, epochs=1)
    with pytest.raises(HubUnreachableError, match="not downloaded"):
        classifier_studio.check_base_model(params, "alice", dead_hub_settings)
