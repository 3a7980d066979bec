"""Which weights a load would start at random, from a folder's config and safetensors headers."""

from __future__ import annotations

import logging
import shutil

import pytest

from backend.errors import UntrainedWeightsError
from backend.models.load import stored_keys
from backend.models.loader import load_model
from backend.models.resolve import catalogue


@pytest.fixture
def headers_only_embedder(tiny_models_dir, tmp_path):
    """The tiny sentence encoder with every weight file cut after its header."""
    folder = tmp_path / "embedder"
    shutil.copytree(tiny_models_dir[catalogue.EMBEDDINGS], folder)
    for weights in folder.glob("*.safetensors"):
        data = weights.read_bytes()
        weights.write_bytes(data[: 8 + int.from_bytes(data[:8], "little")])
    return folder


def test_an_encoder_read_as_a_classifier_lacks_its_head_and_nothing_is_read(headers_only_embedder):
    model, missing = stored_keys.missing_keys(headers_only_embedder, "AutoModelForSequenceClassification")
    assert missing == ["classifier.bias", "classifier.weight"]
    assert {parameter.device.type for parameter in model.parameters()} == {"meta"}
    _, missing = stored_keys.missing_keys(headers_only_embedder, "AutoModel")
    assert missing == []


def test_a_folder_the_headers_cannot_match_is_left_to_the_load(tmp_path, tiny_models_dir):
    folder = tmp_path / "no-weights"
    shutil.copytree(tiny_models_dir[catalogue.SENTIMENT], folder)
    for weights in folder.glob("*.safetensors"):
        weights.write_bytes(b"\x00" * 8)
    with pytest.raises(stored_keys.KeysUnknown):
        stored_keys.missing_keys(folder, "AutoModelForSequenceClassification")
    (folder / "config.json").write_text('{"model_type": "no-such-architecture"}')
    with pytest.raises(stored_keys.KeysUnknown):
        stored_keys.missing_keys(folder, "AutoModelForSequenceClassification")


def test_the_check_does_not_log_a_random_initialisation_but_a_real_load_still_does(
    headers_only_embedder, tiny_model_paths, settings, caplog
):
    with caplog.at_level(logging.WARNING):
        stored_keys.missing_keys(headers_only_embedder, "AutoModelForSequenceClassification")
        assert "MISSING" not in caplog.text
        with pytest.raises(UntrainedWeightsError):
            load_model(catalogue.SENTIMENT, tiny_model_paths[catalogue.EMBEDDINGS], settings)
    assert "MISSING" in caplog.text
