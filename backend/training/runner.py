"""The plain-Python training API: data + params in, a saved, registered, evaluated model out.

The worker runs queued training jobs through ``TRAINING_HANDLER`` (``run_job`` reads the job's run
folder and calls ``run_training``); benchmarks and scripts can call ``run_training`` directly,
without the queue, for both methods and both tasks.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from backend.config import Settings, get_settings
from backend.jobs.progress import ProgressCallback, Reporter
from backend.jobs.store import Job
from backend.jobs.worker import JobHandler
from backend.model_registry import write_manifest
from backend.models.load.embedding_head import EmbeddingHeadClassifier
from backend.models.resolve import catalogue
from backend.models.resolve.device import DeviceInfo, choose_device
from backend.server_paths import shown_path
from backend.training import fast_mode, image_trainer, text_trainer
from backend.training.datasets import PreparedDataset
from backend.training.evaluation import EvaluationReport, build_report
from backend.training.model_card import CARD_FILE, build_model_card
from backend.training.params import FAST, FULL, IMAGE, TEXT, TrainingParams

TRAIN = "train"  # the kind of every training job
MODEL_FOLDER = "model"
DATA_FOLDER = "data"
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
class TrainingResult:
    """Where the model went and how good it is."""

    model_dir: str
    report: EvaluationReport
    seconds: float
    device: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "model_dir": self.model_dir,
            "report": self.report.to_dict(),
            "seconds": self.seconds,
            "device": self.device,
        }


def _save_model(fitted: text_trainer.FittedModel, folder: Path) -> None:
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
    progress_callback: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    owner: str = "",
    settings: Settings | None = None,
    device: DeviceInfo | None = None,
) -> TrainingResult:
    """Train, evaluate and save a classifier; no queue involved.

    Args:
        params: training parameters, validated when the job was submitted (task and method pick
            the trainer).
        dataset: prepared data (``backend.training.datasets`` / ``image_data``).
        run_dir: the run's folder; the model is saved to ``run_dir / "model"`` with its tokenizer
            or image processor, label names, model card and demo manifest; ``evaluation.json``
            goes to ``run_dir``.
        progress_callback: receives ``JobEvent``s (progress with ETA, metric points, logs).
        should_stop: polled during training; returning True cancels the run.
        owner: recorded in the model manifest so the demos show it to its owner only.
        settings: settings to use (default: the process settings).
        device: device to train on (default: chosen from the settings).

    Raises:
        ShowcaseError: the base model cannot be loaded, or memory runs out (readable message).
        JobCancelled: ``should_stop`` returned True.
    """
    if dataset.task != params.task:
        raise ValueError(f"dataset is for {dataset.task}, params for {params.task}")
    settings = settings or get_settings()
    device = device or choose_device(settings.device)
    reporter = Reporter(progress_callback, should_stop)
    reporter.log(f"Training on {device.name} with {params.method} method")
    torch.manual_seed(params.seed)
    started = time.perf_counter()
    fitted = _TRAINERS[(params.task, params.method)](params, dataset, run_dir, reporter, settings, device)
    reporter.raise_if_stopped()
    report = build_report(
        fitted.validation_logits, dataset.validation.labels, dataset.classes, dataset.validation.inputs
    )
    reporter.log(f"Validation accuracy {report.accuracy:.3f}, macro F1 {report.f1:.3f}")
    model_dir = run_dir / MODEL_FOLDER
    _save_model(fitted, model_dir)
    report.save(run_dir)
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = params.title or f"{'Text' if params.task == TEXT else 'Image'} classifier {run_dir.name}"
    (model_dir / CARD_FILE).write_text(
        build_model_card(params, dataset, report, created, device.name), encoding="utf-8"
    )
    write_manifest(model_dir, DEMO_TASK[params.task], title, created, owner, report.headline())
    reporter.log(f"Saved the model to {shown_path(model_dir, settings)}")
    return TrainingResult(str(model_dir), report, round(time.perf_counter() - started, 2), device.name)


def run_job(
    job: Job, events: ProgressCallback, should_stop: Callable[[], bool], settings: Settings
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train a claimed job from its stored params and prepared data; returns its metrics and artefacts.

    The artefacts record the model (``model_dir``, ``model_task``), which is how the demos list it.
    """
    run_dir = Path(job.run_dir)
    params = TrainingParams.from_dict(job.params)
    result = run_training(
        params,
        PreparedDataset.load(run_dir / DATA_FOLDER),
        run_dir,
        progress_callback=events,
        should_stop=should_stop,
        owner=job.owner,
        settings=settings,
    )
    metrics = {**result.report.headline(), "seconds": result.seconds}
    artefacts = {
        "model_dir": result.model_dir,
        "model_task": DEMO_TASK[params.task],
        "evaluation": str(run_dir / "evaluation.json"),
        "device": result.device,
    }
    return metrics, artefacts


def _remove_model(job: Job) -> None:
    shutil.rmtree(Path(job.run_dir) / MODEL_FOLDER, ignore_errors=True)


TRAINING_HANDLER = JobHandler(
    run=run_job,
    doing="Training",
    output="model",
    memory_advice="Lower the batch size or the maximum text length, or pick a smaller base model",
    phase="Training",
    cleanup=_remove_model,
)
