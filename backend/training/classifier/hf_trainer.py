"""The classifier's ``transformers.Trainer`` loop: full fine-tuning of text and image classifiers,
scored with the studio's classification metrics, with the batch halved on out-of-memory. The base
model itself loads through ``backend.models.loader.load_for_training``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from backend.jobs.progress import Reporter
from backend.models.resolve.device import DeviceInfo
from backend.training.classifier.fitting import TrainerInputs
from backend.training.classifier.params import TrainingParams
from backend.training.evaluation import classification_scores
from backend.training.hf_training import (
    checkpoints_removed,
    mixed_precision,
    quiet_trainer,
    reporter_callback,
    shared_trainer_arguments,
    with_batch_backoff,
)

# Logged points per epoch on the loss curve: enough for a curve, few enough for the job store.
_LOG_POINTS_PER_EPOCH = 10


def _metrics_from_predictions(prediction: Any) -> dict[str, float]:
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    labels = np.asarray(prediction.label_ids)
    return classification_scores(labels, np.asarray(logits).argmax(axis=-1), int(np.asarray(logits).shape[-1]))


def train_with_trainer(
    model: Any,
    train_dataset: Any,
    eval_dataset: Any,
    collator: Any,
    params: TrainingParams,
    run_dir: Path,
    device: DeviceInfo,
    reporter: Reporter,
    batch_size: int,
) -> Any:
    """One ``Trainer`` run at ``batch_size``; returns the trained model (best epoch when early stopping).

    Raises:
        JobCancelled: the reporter's stop flag was set.
    """
    from transformers import EarlyStoppingCallback, TrainingArguments

    accumulation = max(1, params.batch_size // batch_size)
    steps_per_epoch = max(1, len(train_dataset) // (batch_size * accumulation))
    early = params.early_stopping_patience > 0
    arguments = TrainingArguments(
        **shared_trainer_arguments(params, run_dir, device, batch_size, accumulation),
        eval_strategy="epoch",
        save_strategy="epoch" if early else "no",
        save_total_limit=1,
        save_only_model=True,
        load_best_model_at_end=early,
        metric_for_best_model="f1",
        greater_is_better=True,
        logging_strategy="steps",
        logging_steps=max(1, steps_per_epoch // _LOG_POINTS_PER_EPOCH),
        **mixed_precision(params, device),
    )
    callbacks = [reporter_callback(reporter)]
    if early:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=params.early_stopping_patience))
    trainer = quiet_trainer(
        arguments,
        callbacks,
        model=model,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=collator,
        compute_metrics=_metrics_from_predictions,
    )
    with checkpoints_removed(run_dir):
        trainer.train()
    reporter.raise_if_stopped()
    return trainer.model


def predict_logits(
    model: Any, dataset: Any, collator: Any, device: DeviceInfo, batch_size: int, reporter: Reporter
) -> np.ndarray:
    """Logits of ``model`` over ``dataset`` (evaluation after training), in dataset order."""
    model.eval()
    model.to(device.torch_device)
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(dataset), batch_size):
            reporter.raise_if_stopped()
            batch = collator([dataset[i] for i in range(start, min(len(dataset), start + batch_size))])
            batch.pop("labels", None)
            batch = {k: v.to(device.torch_device) for k, v in batch.items()}
            outputs.append(model(**batch).logits.float().cpu().numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0, model.config.num_labels))


def fit_with_backoff(
    model: Any,
    train: Any,
    validation: Any,
    collator: Callable[[list[Any]], dict[str, torch.Tensor]],
    inputs: TrainerInputs,
) -> tuple[Any, np.ndarray]:
    """Train with ``Trainer`` (halving the batch on out-of-memory), then score the validation set.

    Returns:
        The trained model and its validation logits.
    """
    params, run_dir, device, reporter = inputs.params, inputs.run_dir, inputs.device, inputs.reporter
    initial_state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def fit(batch_size: int) -> Any:
        # A retry after out-of-memory starts again from the base weights, not a half-trained model.
        model.load_state_dict(initial_state)
        return train_with_trainer(model, train, validation, collator, params, run_dir, device, reporter, batch_size)

    trained = with_batch_backoff(fit, params.batch_size, reporter, params.base_model)
    reporter.log("Evaluating on the validation set")
    logits = predict_logits(trained, validation, collator, device, params.batch_size, reporter)
    return trained, logits
