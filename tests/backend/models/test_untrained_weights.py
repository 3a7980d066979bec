"""No answer pretends: a load that would initialise weights the task relies on is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from backend.errors import UntrainedWeightsError
from backend.models.loader import load_for_training, load_model
from backend.models.resolve import catalogue
from backend.models.resolve.plan import plan_load


def _without(source: Path, folder: Path, drop, dtype: torch.dtype | None = None) -> str:
    """A copy of the model folder ``source`` whose checkpoint lacks the tensors ``drop`` picks
    (optionally stored in another dtype)."""
    shutil.copytree(source, folder)
    [weights] = folder.glob("*.safetensors")
    kept = {
        name: (tensor.to(dtype) if dtype and tensor.is_floating_point() else tensor).contiguous()
        for name, tensor in load_file(weights).items()
        if not drop(name)
    }
    save_file(kept, weights, metadata={"format": "pt"})
    return str(folder)


@pytest.mark.parametrize("task", [catalogue.SENTIMENT, catalogue.TEXT_GENERATION])
def test_an_embedding_model_is_refused_as_a_classifier_or_chat_model(task, tiny_model_paths, settings):
    with pytest.raises(UntrainedWeightsError) as refused:
        load_model(task, tiny_model_paths[catalogue.EMBEDDINGS], settings)
    message = refused.value.user_text()
    assert "no trained weights" in message and "would start random" in message
    assert "Pick a model made for this demo" in message
    assert str(settings.models_dir) not in message  # named by its place, not the server path


@pytest.mark.parametrize("stored", [torch.float32, torch.float16])  # float16: the lean converted read
def test_a_classifier_whose_head_is_missing_is_refused(stored, tiny_models_dir, settings, tmp_path):
    folder = settings.models_dir / "tmp-headless" / str(stored).split(".")[1]
    try:
        ref = _without(
            tiny_models_dir[catalogue.SENTIMENT], folder, lambda name: name.startswith("classifier."), stored
        )
        with pytest.raises(UntrainedWeightsError) as refused:
            load_model(catalogue.SENTIMENT, ref, settings)
        assert "2 of its weights" in refused.value.message
        assert "classifier.bias, classifier.weight" in refused.value.detail
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


def test_a_translation_model_with_missing_weights_is_refused(tiny_models_dir, settings):
    folder = settings.models_dir / "tmp-half-translator"
    try:
        ref = _without(tiny_models_dir[catalogue.TRANSLATION], folder, lambda name: ".decoder.layers.1." in name)
        with pytest.raises(UntrainedWeightsError, match="no trained weights for translation"):
            load_model(catalogue.TRANSLATION, ref, settings)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_complete_models_still_load(tiny_model_paths, settings):
    for task in (catalogue.SENTIMENT, catalogue.TRANSLATION, catalogue.TEXT_GENERATION):
        assert load_model(task, tiny_model_paths[task], settings).model is not None


def test_a_fine_tuning_base_gets_its_fresh_head_but_not_a_missing_body(tiny_model_paths, tiny_models_dir, settings):
    # An embedding model is a fine base: the head is new by design.
    plan = plan_load(catalogue.TEXT_CLASSIFIER_BASE, tiny_model_paths[catalogue.EMBEDDINGS], settings, training=True)
    model, _ = load_for_training(plan, ["a", "b"])
    assert model.config.num_labels == 2
    folder = settings.models_dir / "tmp-bodiless"
    try:
        ref = _without(tiny_models_dir[catalogue.TEXT_CLASSIFIER_BASE], folder, lambda name: ".layer.1." in name)
        plan = plan_load(catalogue.TEXT_CLASSIFIER_BASE, ref, settings, training=True)
        with pytest.raises(UntrainedWeightsError, match="cannot be a fine-tuning base") as refused:
            load_for_training(plan, ["a", "b"])
        assert "bert.encoder.layer.1." in refused.value.detail
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_an_engine_never_exports_random_weights_and_the_torch_fallback_refuses(tiny_models_dir, settings):
    import dataclasses

    folder = settings.models_dir / "tmp-embedder-for-onnx"
    try:
        shutil.copytree(tiny_models_dir[catalogue.EMBEDDINGS], folder)
        onnx_settings = dataclasses.replace(settings, cpu_engine="sentiment=onnx")
        assert plan_load(catalogue.SENTIMENT, str(folder), onnx_settings).engine == "onnx"
        with pytest.raises(UntrainedWeightsError, match="no trained weights for sentiment"):
            load_model(catalogue.SENTIMENT, str(folder), onnx_settings)
        assert not list(folder.rglob("*.onnx"))  # nothing was exported
    finally:
        shutil.rmtree(folder, ignore_errors=True)
