"""Real training on tiny models: both methods, both tasks, saved models the demos can load."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.errors import InsufficientMemoryError, ModelUnavailableError
from backend.jobs.progress import JobCancelled, Reporter
from backend.jobs.store import SUCCEEDED, Job
from backend.model_registry import MANIFEST
from backend.models.loader import load_model
from backend.models.resolve import catalogue
from backend.models.resolve.device import DeviceInfo
from backend.training import hf_training
from backend.training.classifier import hf_trainer
from backend.training.classifier.datasets import TextLabelColumns, prepare_text_dataset
from backend.training.classifier.image_data import prepare_image_dataset
from backend.training.classifier.params import FAST, FULL, TrainingParams
from backend.training.classifier.runner import run_training
from backend.training.common import RunOptions
from backend.uploads import open_image
from tests.support.training_data import colour_folders_zip, learnable_texts


@pytest.fixture(scope="module")
def text_data():
    return prepare_text_dataset(learnable_texts(per_class=30), TextLabelColumns("text", "label"), seed=0)


@pytest.fixture(scope="module")
def fast_text_run(tiny_model_paths, settings, text_data):
    params = TrainingParams(
        "text", FAST, tiny_model_paths["embeddings"], title="Fast reviews", epochs=30, learning_rate=1e-2, batch_size=16
    )
    run_dir = settings.runs_dir / "test-fast-text"
    events = []
    result = run_training(params, text_data, run_dir, RunOptions(events.append, owner="tester", settings=settings))
    return params, run_dir, result, events


def _demo_predictions(task: str, model_dir: str, settings, inputs) -> list[int]:
    # Exactly the interface the demo pages use.
    loaded = load_model(task, model_dir, settings)
    batch = (
        loaded.preprocessor(inputs, return_tensors="pt", padding=True, truncation=True)
        if task == catalogue.SENTIMENT
        else loaded.preprocessor(images=inputs, return_tensors="pt")
    )
    with torch.inference_mode():
        logits = loaded.model(**batch).logits
    return logits.argmax(-1).tolist(), loaded


def test_fast_text_model_beats_chance_and_loads_like_any_classifier(fast_text_run, text_data, settings):
    _, run_dir, result, _ = fast_text_run
    assert result.report.accuracy > 0.8  # chance is 0.5 on two balanced classes
    predictions, loaded = _demo_predictions(
        catalogue.SENTIMENT, result.model_dir, settings, text_data.validation.inputs
    )
    accuracy = np.mean(np.array(predictions) == np.array(text_data.validation.labels))
    assert accuracy == pytest.approx(result.report.accuracy, abs=1e-6)
    assert loaded.model.config.id2label == {0: "negative", 1: "positive"}
    model_dir = Path(result.model_dir)
    assert list(model_dir.glob("*.bin")) == [] and (model_dir / "embedding_head.safetensors").is_file()


def test_finished_model_carries_its_card_and_manifest(fast_text_run, settings):
    # The demos list a model from its job's record (see tests/backend/jobs); the manifest travels
    # with the folder, so an exported model dropped into the models folder is listed too.
    params, run_dir, result, _ = fast_text_run
    manifest = json.loads((Path(result.model_dir) / MANIFEST).read_text(encoding="utf-8"))
    assert (manifest["task"], manifest["title"], manifest["owner"]) == (catalogue.SENTIMENT, "Fast reviews", "tester")
    assert manifest["metrics"]["accuracy"] == result.report.accuracy
    card = (Path(result.model_dir) / "README.md").read_text(encoding="utf-8")
    assert "Fast reviews" in card and params.base_model in card and f"{result.report.accuracy:.3f}" in card
    assert (run_dir / "evaluation.json").is_file()


def test_progress_events_carry_eta_curves_and_logs(fast_text_run):
    *_, events = fast_text_run
    progress = [e for e in events if e.kind == "progress"]
    assert progress[-1].step == progress[-1].total_steps
    assert any(e.eta_seconds is not None for e in progress)
    curves = {e.name for e in events if e.kind == "metric"}
    assert curves == {"train_loss", "val_loss", "val_accuracy", "val_f1"}
    assert any("Best validation F1" in e.text for e in events if e.kind == "log")


def test_full_text_fine_tuning_learns(tiny_model_paths, settings, text_data):
    params = TrainingParams(
        "text",
        FULL,
        tiny_model_paths["text-classifier-base"],
        epochs=8,
        learning_rate=5e-3,
        batch_size=16,
        warmup_ratio=0.0,
    )
    events = []
    result = run_training(
        params, text_data, settings.runs_dir / "test-full-text", RunOptions(events.append, settings=settings)
    )
    assert result.report.accuracy > 0.8
    losses = [e.value for e in events if e.kind == "metric" and e.name == "train_loss"]
    assert losses[-1] < losses[0]
    predictions, loaded = _demo_predictions(
        catalogue.SENTIMENT, result.model_dir, settings, text_data.validation.inputs
    )
    assert type(loaded.model).__name__ == "BertForSequenceClassification"
    assert np.mean(np.array(predictions) == np.array(text_data.validation.labels)) == pytest.approx(
        result.report.accuracy
    )


@pytest.mark.parametrize(("method", "learning_rate"), [(FULL, 1e-3), (FAST, 1e-2)])
def test_image_classifier_learns_colours(method, learning_rate, tiny_model_paths, settings):
    run_dir = settings.runs_dir / f"test-image-{method}"
    data = prepare_image_dataset("colours.zip", colour_folders_zip(per_class=10), run_dir / "data")
    params = TrainingParams(
        "image", method, tiny_model_paths["image-classifier-base"], epochs=8, learning_rate=learning_rate, batch_size=8
    )
    result = run_training(params, data, run_dir, RunOptions(settings=settings))
    assert result.report.accuracy > 0.7
    assert result.report.confusion and sum(map(sum, result.report.confusion)) == len(data.validation)
    images = [open_image((run_dir / "data" / p).read_bytes()) for p in data.validation.inputs]
    predictions, loaded = _demo_predictions(catalogue.IMAGE_CLASSIFICATION, result.model_dir, settings, images)
    assert loaded.model.config.id2label == {0: "blue", 1: "red"}
    assert np.mean(np.array(predictions) == np.array(data.validation.labels)) == pytest.approx(result.report.accuracy)


@pytest.mark.parametrize("method", [FULL, FAST])
def test_a_stop_request_cancels_training_and_saves_nothing(method, tiny_model_paths, settings, text_data, monkeypatch):
    # Report and poll on every step, so the outcome does not depend on how fast this machine is.
    monkeypatch.setattr("backend.jobs.progress._PROGRESS_INTERVAL_SECONDS", 0.0)
    monkeypatch.setattr("backend.jobs.progress._CANCEL_POLL_SECONDS", 0.0)
    base = tiny_model_paths["text-classifier-base" if method == FULL else "embeddings"]
    params = TrainingParams("text", method, base, epochs=200, batch_size=4)
    steps = []

    def stop_after_a_few_steps() -> bool:
        return len(steps) >= 3

    run_dir = settings.runs_dir / f"test-cancel-{method}"
    with pytest.raises(JobCancelled):
        run_training(
            params,
            text_data,
            run_dir,
            RunOptions(
                lambda e: steps.append(e) if e.kind == "progress" else None, stop_after_a_few_steps, settings=settings
            ),
        )
    assert not (run_dir / "model").exists()
    assert steps[-1].step < steps[-1].total_steps


def test_out_of_memory_halves_the_batch_and_still_trains(monkeypatch, tiny_model_paths, settings, text_data):
    real = hf_trainer.train_with_trainer
    tried = []

    def tight_memory(model, train, validation, collator, params, run_dir, device, reporter, batch_size):
        tried.append(batch_size)
        if batch_size > 4:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(model, train, validation, collator, params, run_dir, device, reporter, batch_size)

    monkeypatch.setattr(hf_trainer, "train_with_trainer", tight_memory)
    params = TrainingParams("text", FULL, tiny_model_paths["text-classifier-base"], epochs=1, batch_size=16)
    events = []
    run_training(params, text_data, settings.runs_dir / "test-oom", RunOptions(events.append, settings=settings))
    assert tried == [16, 8, 4]
    assert [e.text for e in events if e.level == "warning"] == [
        f"Out of GPU memory; retrying with batch size {n} (gradient accumulation keeps the effective batch)."
        for n in (8, 4)
    ]


def test_out_of_memory_at_batch_one_gives_a_readable_message():
    def never_fits(batch_size: int):
        raise RuntimeError("CUDA error: out of memory")

    with pytest.raises(InsufficientMemoryError) as caught:
        hf_training.with_batch_backoff(never_fits, 4, Reporter(), "org/huge-model")
    assert "even with a batch size of 1" in caught.value.user_text()
    assert "smaller base model" in caught.value.user_text()


def test_other_runtime_errors_are_not_mistaken_for_memory():
    def broken(batch_size: int):
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        hf_training.with_batch_backoff(broken, 4, Reporter(), "m")


@pytest.mark.parametrize(
    ("half", "precision", "expected"),
    [
        ("bfloat16", "auto", {"fp16": False, "bf16": True}),
        ("float16", "auto", {"fp16": True, "bf16": False}),
        ("bfloat16", "fp32", {"fp16": False, "bf16": False}),
    ],
)
def test_mixed_precision_on_gpu_only(half, precision, expected):
    gpu = DeviceInfo("cuda", "cuda:0", "H100", half)
    params = TrainingParams("text", FULL, "a/b", precision=precision)
    assert hf_training.mixed_precision(params, gpu) == expected
    cpu = DeviceInfo("cpu", "cpu", "CPU", None)
    assert hf_training.mixed_precision(params, cpu) == {"fp16": False, "bf16": False}


def test_unreachable_base_model_gives_the_offline_hint(settings, text_data):
    params = TrainingParams("text", FULL, "acme/not-downloaded", epochs=1)
    with pytest.raises(ModelUnavailableError, match="is not downloaded"):
        run_training(params, text_data, settings.runs_dir / "test-offline", RunOptions(settings=settings))


def test_export_zip_holds_a_loadable_model_folder(fast_text_run, settings, tmp_path):
    from backend.training.export import export_model_zip

    params, run_dir, result, _ = fast_text_run
    job = Job("job1", "train", "text", str(run_dir), title="Fast reviews", status=SUCCEEDED)
    # An engine's cached copy beside the weights (LSM_CPU_ENGINE) stays out of the download.
    cached = run_dir / "model" / ".lsm-engines" / "onnx-1.0"
    cached.mkdir(parents=True, exist_ok=True)
    (cached / "model.onnx").write_bytes(b"engine copy")
    path = export_model_zip(job, settings)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path)
    folder = path.stem
    assert not any(".lsm-engines" in name for name in names)
    assert {
        f"{folder}/config.json",
        f"{folder}/README.md",
        f"{folder}/showcase.json",
        f"{folder}/evaluation.json",
    } <= set(names)
    assert any(n.endswith(".safetensors") for n in names)
    assert export_model_zip(job, settings) == path  # built once


@pytest.mark.parametrize(
    ("method", "base", "learning_rate", "patience"),
    [(FAST, "embeddings", 1e-2, 1), (FULL, "text-classifier-base", 5e-3, 3)],
)
def test_early_stopping_ends_training_once_validation_f1_stops_improving(
    method, base, learning_rate, patience, tiny_model_paths, settings, text_data
):
    params = TrainingParams(
        "text",
        method,
        tiny_model_paths[base],
        epochs=60,
        learning_rate=learning_rate,
        batch_size=16,
        warmup_ratio=0.0,
        early_stopping_patience=patience,
    )
    events = []
    result = run_training(
        params, text_data, settings.runs_dir / f"test-early-{method}", RunOptions(events.append, settings=settings)
    )
    epochs_seen = max(e.epoch for e in events if e.kind == "metric")
    assert epochs_seen < 60, epochs_seen
    assert result.report.accuracy > 0.8


def test_the_sentiment_demo_code_runs_a_fast_mode_model(fast_text_run, settings):
    from backend.inference import sentiment

    _, _, result, _ = fast_text_run
    loaded = load_model(catalogue.SENTIMENT, result.model_dir, settings)
    answer = sentiment.classify_text(loaded, "love great product works fine 喜欢")
    assert answer.classification.label == "positive"
    assert set(answer.classification.scores) == {"negative", "positive"}


def test_the_image_demo_code_runs_a_fine_tuned_image_model(tiny_model_paths, settings):
    from backend.inference import image_classification
    from tests.support.training_data import colour_image

    run_dir = settings.runs_dir / "test-image-demo"
    data = prepare_image_dataset("colours.zip", colour_folders_zip(per_class=10), run_dir / "data")
    params = TrainingParams(
        "image", FAST, tiny_model_paths["image-classifier-base"], epochs=8, learning_rate=1e-2, batch_size=8
    )
    result = run_training(params, data, run_dir, RunOptions(settings=settings))
    loaded = load_model(catalogue.IMAGE_CLASSIFICATION, result.model_dir, settings)
    red = open_image(colour_image((220, 30, 30), seed=4242))
    answer = image_classification.classify_image(loaded, red, "red.png")
    assert {p.label for p in answer.prediction.top} == {"blue", "red"}
    assert answer.prediction.label == "red"


def test_a_broken_fast_mode_folder_is_a_readable_load_error(fast_text_run, settings):
    import shutil

    from backend.errors import ModelLoadError

    _, _, result, _ = fast_text_run
    broken = settings.runs_dir / "test-broken-head" / "model"
    shutil.copytree(result.model_dir, broken, dirs_exist_ok=True)
    (broken / "embedding_head.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="fast-mode model in model could not be read"):
        load_model(catalogue.SENTIMENT, str(broken), settings)
