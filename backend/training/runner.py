"""The plain-Python training API: data + params in, a saved, registered, evaluated model out.

The worker calls ``run_training`` for queued jobs; benchmarks and scripts can call it directly,
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
from backend.models import catalog
from backend.models.device import DeviceInfo, choose_device
from backend.models.embedding_head import EmbeddingHeadClassifier
from backend.models.registry import write_manifest
from backend.server_paths import shown_path
from backend.training import fast_mode, image_trainer, text_trainer
from backend.training.datasets import PreparedDataset
from backend.training.evaluation import EvaluationReport, build_report
from backend.training.model_card import CARD_FILE, build_model_card
from backend.training.params import FAST, FULL, IMAGE, TEXT, TrainingParams
from backend.training.progress import ProgressCallback, Reporter

MODEL_FOLDER = "model"
# The demo pages list fine-tuned models under the task they run.
DEMO_TASK = {TEXT: catalog.SENTIMENT, IMAGE: catalog.IMAGE_CLASSIFICATION}
_TRAINERS = {
    (TEXT, FULL): text_trainer.train_text_classifier,
    (IMAGE, FULL): image_trainer.train_image_classifier,
    (TEXT, FAST): fast_mode.train_fast_text,
    (IMAGE, FAST): fast_mode.train_fast_image,
}


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
        params: validated training parameters (task and method pick the trainer).
        dataset: prepared data (``backend.training.datasets`` / ``image_data``).
        run_dir: the run's folder; the model is saved to ``run_dir / "model"`` with its tokenizer
            or image processor, label names, model card and demo manifest; ``evaluation.json``
            goes to ``run_dir``.
        progress_callback: receives ``TrainingEvent``s (progress with ETA, metric points, logs).
        should_stop: polled during training; returning True cancels the run.
        owner: recorded in the model manifest so the demos show it to its owner only.
        settings: settings to use (default: the process settings).
        device: device to train on (default: chosen from the settings).

    Raises:
        ShowcaseError: the base model cannot be loaded, or memory runs out (readable message).
        TrainingCancelled: ``should_stop`` returned True.
    """
    params.validate()
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
