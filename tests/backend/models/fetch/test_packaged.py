"""Packaged real weights: located without importing, unpacked once, loaded like any mirror."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from backend.config import get_settings
from backend.inference import text_generation
from backend.models.fetch import packaged
from backend.models.loader import load_model
from backend.models.resolve import catalogue
from backend.models.resolve.plan import resolve_source
from tests.support.packaged import packaged_settings, require_packaged


def test_a_package_that_is_not_installed_is_reported_as_missing(tmp_path):
    missing = dataclasses.replace(packaged.MINILM_L6, package="no_such_weights_package_here")
    settings = dataclasses.replace(get_settings(), models_dir=tmp_path)

    assert missing.package_folder() is None
    assert packaged.unpack(missing, settings) is None
    assert not any(tmp_path.iterdir()), "nothing half-made is left in the models folder"


def test_locating_a_package_does_not_import_it():
    for model in packaged.PACKAGED_MODELS:
        model.package_folder()
        assert model.package not in sys.modules


def test_every_packaged_model_is_in_the_catalogue():
    for model in packaged.PACKAGED_MODELS:
        assert catalogue.find_spec(model.hub_id) is not None, model.hub_id


@pytest.mark.real_weights
def test_packaged_smollm2_unpacks_to_a_safetensors_mirror_and_answers():
    folder = require_packaged(packaged.SMOLLM2_135M)
    settings = packaged_settings()

    assert (folder / "model.safetensors").is_file()
    assert not list(folder.glob("*.gguf"))
    assert resolve_source(packaged.SMOLLM2_135M.hub_id, settings) == (str(folder), True)
    model = load_model(catalogue.TEXT_GENERATION, packaged.SMOLLM2_135M.hub_id, settings)
    options = text_generation.GenerationOptions(temperature=0.0, max_new_tokens=12)
    reply = text_generation.generate(model, ["What is the capital of France?"], options)[0].reply
    assert "Paris" in reply


@pytest.mark.real_weights
def test_packaged_minilm_unpacks_as_a_sentence_transformers_folder():
    folder = require_packaged(packaged.MINILM_L6)
    settings = packaged_settings()

    assert (folder / "modules.json").is_file()
    model = load_model(catalogue.EMBEDDINGS, packaged.MINILM_L6.hub_id, settings)
    vectors = model.model.encode(["card fraud detection", "detecting fraudulent payments", "growing rice"])
    similar = float(vectors[0] @ vectors[1])
    unrelated = float(vectors[0] @ vectors[2])
    assert similar > unrelated + 0.2
