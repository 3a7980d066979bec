"""Full fine-tuning of an image classifier (ViT, ConvNeXt, ResNet, ...) with ``transformers.Trainer``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from backend import uploads
from backend.models.resolve import catalogue
from backend.training.classifier.datasets import Examples
from backend.training.classifier.fitting import FittedModel, TrainerInputs
from backend.training.classifier.hf_trainer import fit_with_backoff


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


def train_image_classifier(inputs: TrainerInputs) -> FittedModel:
    """Fine-tune the base model on an image dataset.

    Raises:
        ShowcaseError: the base model cannot be loaded, or memory runs out even at batch size 1.
        JobCancelled: a stop was requested.
    """
    dataset = inputs.dataset
    model, processor = inputs.load_base_model(catalogue.IMAGE_CLASSIFIER_BASE)
    data_dir = Path(dataset.data_dir)
    train = ImageFiles(processor, dataset.train, data_dir)
    validation = ImageFiles(processor, dataset.validation, data_dir)
    inputs.reporter.log(f"Training on {len(train)} images, validating on {len(validation)}")
    trained, logits = fit_with_backoff(model, train, validation, collate_images, inputs)
    return FittedModel(trained.to("cpu").float(), processor, logits)
