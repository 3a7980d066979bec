"""What every classifier trainer is given and what it hands back, so the four trainers
(full and fast, text and image) share one signature and one way to load their base model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from backend.config import Settings
from backend.jobs.progress import Reporter
from backend.models.loader import load_for_training
from backend.models.resolve.device import DeviceInfo
from backend.models.resolve.plan import plan_load
from backend.training.classifier.datasets import PreparedDataset
from backend.training.classifier.params import TrainingParams


@dataclass
class FittedModel:
    """A trained model, its preprocessor, and its logits on the validation set."""

    model: Any
    preprocessor: Any
    validation_logits: np.ndarray


@dataclass(frozen=True)
class TrainerInputs:
    """One training run as a trainer sees it: parameters, prepared data, run folder, reporter, settings, device."""

    params: TrainingParams
    dataset: PreparedDataset
    run_dir: Path
    reporter: Reporter
    settings: Settings
    device: DeviceInfo

    def load_base_model(self, task: str) -> tuple[Any, Any]:
        """The base model, loaded for training as ``task`` with one output per class, and its preprocessor.

        Raises:
            ShowcaseError: the base model cannot be loaded.
        """
        self.reporter.log(f"Loading base model {self.params.base_model}")
        plan = plan_load(task, self.params.base_model, self.settings, self.device, training=True)
        return load_for_training(plan, self.dataset.classes, self.settings)
