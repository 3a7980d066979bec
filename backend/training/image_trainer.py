"""Full fine-tuning of an image classifier (ViT, ConvNeXt, ResNet, ...) with ``transformers.Trainer``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from backend import uploads
from backend.config import Settings
from backend.models.device import DeviceInfo
from backend.training.datasets import Examples, PreparedDataset
from backend.training.hf_training import load_base_model, predict_logits, train_with_trainer, with_batch_backoff
from backend.training.params import TrainingParams
from backend.training.progress import Reporter
from backend.training.text_trainer import FittedModel


class ImageFiles(torch.utils.data.Dataset):
    """Images read from the run's data folder and preprocessed on access."""

    def __init__(self, processor: Any, examples: Examples, data_dir: Path) -> None:
        self.processor = processor
        self.paths = [data_dir / path for path in examples.inputs]
        self.labels = examples.labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        path = self.paths[index]
        image = uploads.open_image(path.read_bytes(), path.name)
        pixels = self.processor(images=image, return_tensors="pt")["pixel_values"][0]
        return {"pixel_values": pixels, "labels": self.labels[index]}


def collate_images(items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack preprocessed images and their labels into a batch."""
    return {
        "pixel_values": torch.stack([item["pixel_values"] for item in items]),
        "labels": torch.tensor([item["labels"] for item in items], dtype=torch.long),
    }


def train_image_classifier(
    params: TrainingParams,
    dataset: PreparedDataset,
    run_dir: Path,
    reporter: Reporter,
    settings: Settings,
    device: DeviceInfo,
) -> FittedModel:
    """Fine-tune ``params.base_model`` on ``dataset`` (an image dataset).

    Raises:
        ShowcaseError: the base model cannot be loaded, or memory runs out even at batch size 1.
        TrainingCancelled: a stop was requested.
    """
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    reporter.log(f"Loading base model {params.base_model}")
    model, processor = load_base_model(
        AutoModelForImageClassification, AutoImageProcessor, params.base_model, dataset.classes, settings
    )
    data_dir = Path(dataset.data_dir)
    train = ImageFiles(processor, dataset.train, data_dir)
    validation = ImageFiles(processor, dataset.validation, data_dir)
    reporter.log(f"Training on {len(train)} images, validating on {len(validation)}")
    initial_state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def fit(batch_size: int) -> Any:
        model.load_state_dict(initial_state)
        return train_with_trainer(
            model, train, validation, collate_images, params, run_dir, device, reporter, batch_size
        )

    trained = with_batch_backoff(fit, params.batch_size, reporter, params.base_model)
    reporter.log("Evaluating on the validation set")
    logits = predict_logits(trained, validation, collate_images, device, params.batch_size, reporter)
    return FittedModel(trained.to("cpu").float(), processor, logits)
