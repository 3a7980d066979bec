"""The plain-Python training API: data + params in, a saved, registered, evaluated model out.

The worker runs queued training jobs through ``TRAINING_HANDLER`` (``run_job`` reads the job's run
folder and calls ``run_training``); benchmarks and scripts can call ``run_training`` directly,
without the queue, for both methods and both tasks.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.config import Settings
from backend.jobs.progress import ProgressCallback
from backend.jobs.store import Job
from backend.models.load.embedding_head import EmbeddingHeadClassifier
from backend.models.resolve import catalogue
from backend.records import JsonRecord
from backend.training.classifier import fast_mode, image_trainer, text_trainer
from backend.training.classifier.datasets import PreparedDataset
from backend.training.classifier.fitting import FittedModel, TrainerInputs
from backend.training.classifier.model_card import build_model_card
from backend.training.classifier.params import FAST, FULL, IMAGE, TEXT, TrainingParams
from backend.training.common import MODEL_FOLDER, RunOptions, run_stored_job, start_run, training_handler
from backend.training.evaluation import EvaluationReport, build_report

TRAIN = "train"  # the kind of every training job
# The demo pages list fine-tuned models under the task they run.
DEMO_TASK = {TEXT: catalogue.SENTIMENT, IMAGE: catalogue.IMAGE_CLASSIFICATION}
_TRAINERS = {
    (TEXT, FULL): text_trainer.train_text_classifier,
    (IMAGE, FULL): image_trainer.train_image_classifier,
    (TEXT, FAST): fast_mode.train_fast_text,
    (IMAGE, FAST): fast_mode.train_fast_image,
}
# The catalogue task each trainer loads its base model as (fast text embeds with a sentence encoder).
_BASE_MODEL_TASKS = {
    (TEXT, FULL): catalogue.TEXT_CLASSIFIER_BASE,
    (IMAGE, FULL): catalogue.IMAGE_CLASSIFIER_BASE,
    (TEXT, FAST): catalogue.EMBEDDINGS,
    (IMAGE, FAST): catalogue.IMAGE_CLASSIFIER_BASE,
}


def base_model_task(task: str, method: str) -> str:
    """The model task (``backend.models.resolve.catalogue``) a training job's base model loads as."""
    return _BASE_MODEL_TASKS[(task, method)]


@dataclass
class TrainingResult(JsonRecord):
    """Where the model went and how good it is."""

    model_dir: str
    report: EvaluationReport
    seconds: float
    device: str


def _save_model(fitted: FittedModel, folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    if isinstance(fitted.model, EmbeddingHeadClassifier):
        fitted.model.save(folder, fitted.preprocessor)
        return
    fitted.model.save_pretrained(folder)
    fitted.preprocessor.save_pretrained(folder)


def run_training(
    params: TrainingParams,
    dataset: PreparedDataset,
    run_dir: Path,
    options: RunOptions | None = None,
) -> TrainingResult:
    """Train, evaluate and save a classifier; no queue involved.

    Args:
        params: training parameters, validated when the job was submitted (task and method pick
            the trainer).
        dataset: prepared data (``backend.training.classifier.datasets`` / ``image_data``).
        run_dir: the run's folder; the model is saved to ``run_dir / "model"`` with its tokenizer
            or image processor, label names, model card and demo manifest; ``evaluation.json``
            goes to ``run_dir``.
        options: where it reports (metric points), who owns the model, the device.

    Raises:
        ShowcaseError: the base model cannot be loaded, or memory runs out (readable message).
        JobCancelled: ``options.should_stop`` returned True.
    """
    if dataset.task != params.task:
        raise ValueError(f"dataset is for {dataset.task}, params for {params.task}")
    run = start_run(run_dir, params.seed, f"Training on {{device}} with {params.method} method", options)
    trainer = _TRAINERS[(params.task, params.method)]
    fitted = trainer(TrainerInputs(params, dataset, run_dir, run.reporter, run.settings, run.device))
    run.reporter.raise_if_stopped()
    report = build_report(
        fitted.validation_logits, dataset.validation.labels, dataset.classes, dataset.validation.inputs
    )
    run.reporter.log(f"Validation accuracy {report.accuracy:.3f}, macro F1 {report.f1:.3f}")
    model_dir = run_dir / MODEL_FOLDER
    _save_model(fitted, model_dir)
    report.save(run_dir)
    run.finish(
        model_dir,
        DEMO_TASK[params.task],
        params.title or f"{'Text' if params.task == TEXT else 'Image'} classifier {run_dir.name}",
        report.headline(),
        lambda created: build_model_card(params, dataset, report, created, run.device.name),
    )
    return TrainingResult(str(model_dir), report, run.seconds, run.device.name)


def run_job(
    job: Job, events: ProgressCallback, should_stop: Callable[[], bool], settings: Settings
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train a claimed job from its stored params and prepared data; returns its metrics and artefacts.

    The artefacts record the model (``model_dir``, ``model_task``), which is how the demos list it.
    """
    run_dir, params, result = run_stored_job(
        job, events, should_stop, settings, TrainingParams.from_dict, PreparedDataset.load, run_training
    )
    metrics = {**result.report.headline(), "seconds": result.seconds}
    artefacts = {
        "model_dir": result.model_dir,
        "model_task": DEMO_TASK[params.task],
        "evaluation": str(run_dir / "evaluation.json"),
        "device": result.device,
    }
    return metrics, artefacts


TRAINING_HANDLER = training_handler(
    run_job,
    "Training",
    "Training",
    "Lower the batch size or the maximum text length, or pick a smaller base model",
    (MODEL_FOLDER,),
)
