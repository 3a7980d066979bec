"""The one gate reads a model's stored weights (config and safetensors headers, never the tensors)
and refuses, before anything is queued, a model whose load would start weights the job relies on
at random: in batch jobs, classifier fine-tuning (its *Check data*) and chat tuning alike."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from safetensors.torch import load_file, save_file

from backend.errors import UntrainedWeightsError
from backend.inference import batch as batch_jobs
from backend.inference.batch import BatchRequest
from backend.jobs import queue
from backend.jobs.store import JobStore
from backend.model_gate import check_job_model
from backend.models.loader import check_stored_weights, load_model
from backend.models.resolve import catalogue
from backend.models.resolve.plan import plan_load
from backend.training.chat import studio as chat_studio
from backend.training.chat.params import ChatTuneParams
from backend.training.classifier import studio as classifier_studio
from backend.training.classifier.params import FULL, TrainingParams


def _nothing_was_queued(local) -> None:
    assert JobStore(settings=local).list_jobs() == []
    assert queue.pending_count(local) == 0


def _copy_without(source: Path, folder: Path, drop) -> str:
    """A copy of ``source`` whose checkpoint lacks the tensors ``drop`` picks."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(source, folder)
    [weights] = folder.glob("*.safetensors")
    kept = {name: tensor.contiguous() for name, tensor in load_file(weights).items() if not drop(name)}
    save_file(kept, weights, metadata={"format": "pt"})
    return str(folder)


def _headers_only(folder: Path) -> None:
    """Cut every weight file after its header: a gate that read a tensor would fail to, so passing
    through these folders shows the answer came from the headers alone."""
    for weights in folder.glob("*.safetensors"):
        data = weights.read_bytes()
        weights.write_bytes(data[: 8 + int.from_bytes(data[:8], "little")])


@pytest.fixture
def embedder_folder(settings, tiny_models_dir):
    """The tiny sentence encoder copied into the models folder, its tensors cut away."""
    folder = settings.models_dir / "gate-embedder"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(tiny_models_dir[catalogue.EMBEDDINGS], folder)
    _headers_only(folder)
    yield str(folder)
    shutil.rmtree(folder, ignore_errors=True)


def test_a_sentiment_batch_on_an_embedding_model_is_refused_at_submission(local, embedder_folder):
    request = BatchRequest(catalogue.SENTIMENT, embedder_folder, "review", "reviews.csv")
    with pytest.raises(UntrainedWeightsError) as refused:
        batch_jobs.submit_batch_job(request, pd.DataFrame({"review": ["Great", "Awful"]}), owner="ann", settings=local)
    message = refused.value.user_text()
    assert "gate-embedder has no trained weights for sentiment (its classifier head)" in message
    assert "would start random" in message
    assert refused.value.detail == "Missing: classifier.bias, classifier.weight"
    assert str(local.models_dir) not in message  # named by its place, not the server path
    _nothing_was_queued(local)


def test_a_translation_model_missing_decoder_layers_is_refused_by_the_gate(settings, tiny_models_dir):
    folder = settings.models_dir / "gate-half-translator"
    try:
        ref = _copy_without(tiny_models_dir[catalogue.TRANSLATION], folder, lambda name: ".decoder.layers.1." in name)
        _headers_only(folder)
        with pytest.raises(UntrainedWeightsError, match="no trained weights for translation"):
            check_job_model(catalogue.TRANSLATION, ref, "ann", settings)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_check_data_refuses_a_classifier_base_missing_body_weights_but_takes_an_embedding_model(
    local, settings, tiny_models_dir, embedder_folder
):
    # A sentence encoder is a good classifier base: the head is new by design, the body is all there.
    classifier_studio.check_base_model(TrainingParams("text", FULL, embedder_folder, epochs=1), "ann", local)
    folder = settings.models_dir / "gate-bodiless"
    try:
        ref = _copy_without(tiny_models_dir[catalogue.TEXT_CLASSIFIER_BASE], folder, lambda name: ".layer.1." in name)
        _headers_only(folder)
        with pytest.raises(UntrainedWeightsError, match="cannot be a fine-tuning base") as refused:
            classifier_studio.check_base_model(TrainingParams("text", FULL, ref, epochs=1), "ann", local)
        assert "bert.encoder.layer.1." in refused.value.detail
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _nothing_was_queued(local)


def test_an_image_classifier_base_missing_its_body_is_refused(settings, tiny_models_dir):
    folder = settings.models_dir / "gate-headless-vit"
    try:
        ref = _copy_without(
            tiny_models_dir[catalogue.IMAGE_CLASSIFIER_BASE], folder, lambda name: ".encoder.layer.0." in name
        )
        with pytest.raises(UntrainedWeightsError, match="cannot be a fine-tuning base"):
            check_job_model(catalogue.IMAGE_CLASSIFIER_BASE, ref, "ann", settings, training=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_chat_tuning_refuses_an_embedding_model_as_its_base(local, embedder_folder):
    with pytest.raises(UntrainedWeightsError, match="no trained weights for text generation"):
        chat_studio.check_chat_base(ChatTuneParams(embedder_folder), "ann", local)


def test_complete_models_pass_the_gate(settings, tiny_model_paths):
    for task in (catalogue.SENTIMENT, catalogue.TRANSLATION, catalogue.TEXT_GENERATION):
        assert check_job_model(task, tiny_model_paths[task], "ann", settings).task == task
    tuned_base = tiny_model_paths[catalogue.TEXT_CLASSIFIER_BASE]
    assert check_job_model(catalogue.TEXT_CLASSIFIER_BASE, tuned_base, "ann", settings, training=True)


@pytest.mark.parametrize(
    ("task", "drop"),
    [
        (catalogue.SENTIMENT, lambda name: name.startswith("classifier.")),
        (catalogue.TRANSLATION, lambda name: ".encoder.layers.0." in name),
        (catalogue.TEXT_GENERATION, lambda name: ".layers.1." in name),
    ],
)
def test_the_header_check_says_what_the_load_says(task, drop, settings, tiny_models_dir):
    folder = settings.models_dir / f"gate-agrees-{task}"
    try:
        ref = _copy_without(tiny_models_dir[task], folder, drop)
        with pytest.raises(UntrainedWeightsError) as by_headers:
            check_stored_weights(plan_load(task, ref, settings), settings)
        with pytest.raises(UntrainedWeightsError) as by_load:
            load_model(task, ref, settings)
        assert by_headers.value.message == by_load.value.message
        assert by_headers.value.detail == by_load.value.detail
    finally:
        shutil.rmtree(folder, ignore_errors=True)
