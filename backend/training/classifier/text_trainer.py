"""Full fine-tuning of a text classifier (every weight) with ``transformers.Trainer``."""

from __future__ import annotations

from typing import Any

import torch

from backend.models.resolve import catalogue
from backend.training.classifier.datasets import Examples
from backend.training.classifier.fitting import FittedModel, TrainerInputs
from backend.training.classifier.hf_trainer import fit_with_backoff


class TokenizedTexts(torch.utils.data.Dataset):
    """Texts tokenized once up front; padding happens per batch in the collator."""

    def __init__(self, tokenizer: Any, examples: Examples, max_length: int) -> None:
        self.encodings = tokenizer(examples.inputs, truncation=True, max_length=max_length)
        self.labels = examples.labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = {key: values[index] for key, values in self.encodings.items()}
        item["labels"] = self.labels[index]
        return item


def effective_max_length(tokenizer: Any, model: Any, requested: int) -> int:
    """The requested token limit, capped by what the tokenizer and position embeddings allow."""
    limits = [requested]
    tokenizer_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tokenizer_limit, int) and 0 < tokenizer_limit < 1_000_000:
        limits.append(tokenizer_limit)
    positions = getattr(model.config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limits.append(positions)
    return min(limits)


def train_text_classifier(inputs: TrainerInputs) -> FittedModel:
    """Fine-tune the base model on a text dataset.

    Raises:
        ShowcaseError: the base model cannot be loaded, or memory runs out even at batch size 1.
        JobCancelled: a stop was requested.
    """
    from transformers import DataCollatorWithPadding

    params, dataset = inputs.params, inputs.dataset
    model, tokenizer = inputs.load_base_model(catalogue.TEXT_CLASSIFIER_BASE)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        # GPT-style bases have no padding token; batches still need one.
        tokenizer.pad_token = tokenizer.eos_token
        model.config.pad_token_id = tokenizer.pad_token_id
    max_length = effective_max_length(tokenizer, model, params.max_length)
    train = TokenizedTexts(tokenizer, dataset.train, max_length)
    validation = TokenizedTexts(tokenizer, dataset.validation, max_length)
    collator = DataCollatorWithPadding(tokenizer)
    inputs.reporter.log(
        f"Training on {len(train)} texts, validating on {len(validation)} (max length {max_length} tokens)"
    )
    trained, logits = fit_with_backoff(model, train, validation, collator, inputs)
    return FittedModel(trained.to("cpu").float(), tokenizer, logits)
