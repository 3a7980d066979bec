"""Fast mode for CPU hosts: frozen features computed once, then a linear head trained on them.

Text: a sentence-transformers embedder's pooled vectors (saved as an ``EmbeddingHeadClassifier``).
Images: the base image classifier's pooled features, captured at the input of its classification
layer; the trained head is copied into that layer, so the result is an ordinary model folder.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch

from backend.errors import ModelLoadError
from backend.i18n import _
from backend.jobs.progress import Reporter
from backend.models.load.embedding_head import from_sentence_transformer
from backend.models.loader import load_model
from backend.models.resolve import catalogue
from backend.models.resolve.device import DeviceInfo
from backend.training.classifier.datasets import PreparedDataset
from backend.training.classifier.fitting import FittedModel, TrainerInputs
from backend.training.classifier.image_trainer import ImageFiles, collate_images
from backend.training.classifier.params import TrainingParams
from backend.training.classifier.text_trainer import effective_max_length
from backend.training.evaluation import classification_scores
from backend.training.hf_training import with_batch_backoff


class _Progress:
    """Counts steps across the feature pass and the head epochs, for one progress bar."""

    def __init__(self, reporter: Reporter, total: int) -> None:
        self.reporter, self.total, self.step = reporter, total, 0

    def advance(self, epoch: float) -> None:
        self.step += 1
        self.reporter.progress(self.step, self.total, epoch)
        self.reporter.raise_if_stopped()


def _feature_batches(count: int, batch_size: int) -> int:
    return max(1, -(-count // batch_size))


def train_linear_head(
    head: torch.nn.Linear, vectors: torch.Tensor, dataset: PreparedDataset, params: TrainingParams, progress: _Progress
) -> tuple[torch.nn.Linear, np.ndarray]:
    """Train ``head`` with AdamW on cached features: ``vectors`` holds the training examples' rows,
    then the validation examples'. Keeps the epoch with the best validation F1.

    Returns:
        The trained head and its logits on the validation examples.
    """
    cut = len(dataset.train)
    train_features, val_features = vectors[:cut], vectors[cut:]
    train_labels = torch.tensor(dataset.train.labels)
    val_labels = torch.tensor(dataset.validation.labels)
    generator = torch.Generator().manual_seed(params.seed)
    optimizer = torch.optim.AdamW(head.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay)
    num_classes = head.out_features
    best_f1, best_state, epochs_without_gain = -1.0, copy.deepcopy(head.state_dict()), 0
    for epoch in range(1, params.epochs + 1):
        head.train()
        order = torch.randperm(len(train_labels), generator=generator)
        losses = []
        for start in range(0, len(order), params.batch_size):
            batch = order[start : start + params.batch_size]
            loss = torch.nn.functional.cross_entropy(head(train_features[batch]), train_labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        head.eval()
        with torch.no_grad():
            val_logits = head(val_features)
            val_loss = float(torch.nn.functional.cross_entropy(val_logits, val_labels))
        scores = classification_scores(val_labels.cpu().numpy(), val_logits.argmax(-1).cpu().numpy(), num_classes)
        reporter = progress.reporter
        for name, value in (
            ("train_loss", float(np.mean(losses))),
            ("val_loss", val_loss),
            ("val_accuracy", scores["accuracy"]),
            ("val_f1", scores["f1"]),
        ):
            reporter.metric(progress.step + 1, float(epoch), name, value)
        if scores["f1"] > best_f1:
            best_f1, best_state, epochs_without_gain = scores["f1"], copy.deepcopy(head.state_dict()), 0
        else:
            epochs_without_gain += 1
        progress.advance(float(epoch))
        if params.early_stopping_patience and epochs_without_gain >= params.early_stopping_patience:
            reporter.log(
                f"Early stopping after epoch {epoch}: validation F1 has not improved for {epochs_without_gain} epochs"
            )
            progress.reporter.progress(progress.total, progress.total, float(epoch), force=True)
            break
    head.load_state_dict(best_state)
    reporter.log(f"Best validation F1 {best_f1:.3f}")
    with torch.no_grad():
        return head, head(val_features).numpy()


def _text_features(
    classifier: Any,
    tokenizer: Any,
    texts: list[str],
    max_length: int,
    batch_size: int,
    device: DeviceInfo,
    progress: _Progress,
) -> torch.Tensor:
    vectors = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[start : start + batch_size],
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
            batch = {
                k: v.to(device.torch_device)
                for k, v in batch.items()
                if k in ("input_ids", "attention_mask", "token_type_ids")
            }
            vectors.append(classifier.embed(**batch).float().cpu())
            progress.advance(0.0)
    return torch.cat(vectors)


def train_fast_text(inputs: TrainerInputs) -> FittedModel:
    """Embed texts with a frozen sentence-transformers model and train a linear head on them."""
    params, dataset, reporter, device = inputs.params, inputs.dataset, inputs.reporter, inputs.device
    reporter.log(f"Loading embeddings model {params.base_model}")
    loaded = load_model(catalogue.EMBEDDINGS, params.base_model, inputs.settings, device)
    classifier, tokenizer = from_sentence_transformer(loaded.model, dict(enumerate(dataset.classes)))
    classifier.to(device.torch_device).eval()
    max_length = effective_max_length(tokenizer, classifier, params.max_length)
    texts = dataset.train.inputs + dataset.validation.inputs

    def features(batch_size: int) -> tuple[torch.Tensor, _Progress]:
        progress = _Progress(reporter, _feature_batches(len(texts), batch_size) + params.epochs)
        reporter.log(f"Embedding {len(texts)} texts (batch {batch_size})")
        return _text_features(classifier, tokenizer, texts, max_length, batch_size, device, progress), progress

    vectors, progress = with_batch_backoff(features, params.batch_size, reporter, params.base_model)
    classifier.head = classifier.head.float().cpu()
    reporter.log(f"Training a linear head on {len(dataset.train)} vectors of size {vectors.shape[1]}")
    # The head trains in place, so the classifier already holds the trained weights.
    _, logits = train_linear_head(classifier.head, vectors, dataset, params, progress)
    classifier.to("cpu").float()
    return FittedModel(classifier, tokenizer, logits)


def find_classifier_layer(model: torch.nn.Module, num_labels: int) -> torch.nn.Linear:
    """The final linear layer that maps features to ``num_labels`` classes.

    Raises:
        ModelLoadError: the architecture has no such layer.
    """
    candidates = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == num_labels]
    if not candidates:
        raise ModelLoadError(
            _("Fast mode could not find this model's classification layer."), _("Use full fine-tuning for it.")
        )
    return candidates[-1]


def train_fast_image(inputs: TrainerInputs) -> FittedModel:
    """Capture the frozen backbone's pooled features once; train the classification layer on them."""
    params, dataset, reporter, device = inputs.params, inputs.dataset, inputs.reporter, inputs.device
    model, processor = inputs.load_base_model(catalogue.IMAGE_CLASSIFIER_BASE)
    model.to(device.torch_device).eval()
    layer = find_classifier_layer(model, len(dataset.classes))
    captured: list[torch.Tensor] = []
    hook = layer.register_forward_pre_hook(lambda _module, inputs: captured.append(inputs[0].detach().float().cpu()))
    data_dir = Path(dataset.data_dir)
    files = [ImageFiles(processor, dataset.train, data_dir), ImageFiles(processor, dataset.validation, data_dir)]
    total_images = len(files[0]) + len(files[1])

    def features(batch_size: int) -> tuple[torch.Tensor, _Progress]:
        captured.clear()
        progress = _Progress(
            reporter,
            _feature_batches(len(files[0]), batch_size) + _feature_batches(len(files[1]), batch_size) + params.epochs,
        )
        reporter.log(f"Extracting features of {total_images} images (batch {batch_size})")
        with torch.inference_mode():
            for images in files:
                for start in range(0, len(images), batch_size):
                    batch = collate_images([images[i] for i in range(start, min(len(images), start + batch_size))])
                    model(pixel_values=batch["pixel_values"].to(device.torch_device, dtype=model.dtype))
                    progress.advance(0.0)
        return torch.cat(captured), progress

    try:
        vectors, progress = with_batch_backoff(features, params.batch_size, reporter, params.base_model)
    finally:
        hook.remove()
    head = torch.nn.Linear(layer.in_features, layer.out_features)
    with torch.no_grad():
        head.weight.copy_(layer.weight.float().cpu())
        head.bias.copy_(layer.bias.float().cpu())
    reporter.log(f"Training the classification layer on {len(files[0])} feature vectors of size {vectors.shape[1]}")
    head, logits = train_linear_head(head, vectors, dataset, params, progress)
    with torch.no_grad():
        layer.weight.copy_(head.weight.to(layer.weight.dtype))
        layer.bias.copy_(head.bias.to(layer.bias.dtype))
    return FittedModel(model.to("cpu").float(), processor, logits)
