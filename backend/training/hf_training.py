"""What full fine-tuning of text and image classifiers shares: ``transformers.Trainer`` with
progress/cancel callbacks, mixed precision, and out-of-memory backoff. The base model itself loads
through ``backend.models.loader.load_for_training``. Chat tuning (``chat_trainer``) shares the
out-of-memory backoff and the arguments both give ``Trainer`` alike.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from backend.errors import InsufficientMemoryError
from backend.jobs.progress import Reporter
from backend.models.device import DeviceInfo
from backend.models.memory import halve_on_oom
from backend.training.chat.params import ChatTuneParams
from backend.training.classifier.evaluation import classification_scores
from backend.training.classifier.params import TrainingParams

CHECKPOINTS_FOLDER = "checkpoints"
# Logged points per epoch on the loss curve: enough for a curve, few enough for the job store.
_LOG_POINTS_PER_EPOCH = 10
# Trainer log keys -> curve names shared with fast mode.
_CURVES = {"loss": "train_loss", "eval_loss": "val_loss", "eval_accuracy": "val_accuracy", "eval_f1": "val_f1"}


def mixed_precision(params: TrainingParams, device: DeviceInfo) -> dict[str, bool]:
    """Trainer flags for fp16/bf16: half precision only on CUDA, bf16 where the GPU has it."""
    if device.kind != "cuda" or params.precision == "fp32":
        return {"fp16": False, "bf16": False}
    wanted = (
        params.precision
        if params.precision in ("fp16", "bf16")
        else ("bf16" if device.half_dtype == "bfloat16" else "fp16")
    )
    return {"fp16": wanted == "fp16", "bf16": wanted == "bf16"}


def with_batch_backoff(run: Callable[[int], Any], batch_size: int, reporter: Reporter, what: str) -> Any:
    """Call ``run(batch_size)``, halving the batch on out-of-memory until it fits
    (``backend.models.memory.halve_on_oom``); each retry is logged and restarts the ETA clock.

    Raises:
        InsufficientMemoryError: even a batch of 1 does not fit, with what to change.
    """

    def give_up(_error: BaseException) -> InsufficientMemoryError:
        return InsufficientMemoryError(
            f"Out of GPU memory training {what}, even with a batch size of 1.",
            "Pick a smaller base model, lower max length, or use fast mode.",
        )

    def retrying(size: int) -> None:
        reporter.log(
            f"Out of GPU memory; retrying with batch size {size} (gradient accumulation keeps the effective batch).",
            "warning",
        )
        reporter.restart_clock()

    return halve_on_oom(run, batch_size, give_up, retrying)


def shared_trainer_arguments(
    params: TrainingParams | ChatTuneParams, run_dir: Path, device: DeviceInfo, batch_size: int, accumulation: int
) -> dict[str, Any]:
    """The ``TrainingArguments`` that classifier and chat tuning set alike: the run's schedule and
    batch, checkpoints in the run folder, the device, no console output or outside reporting."""
    return {
        "output_dir": str(run_dir / CHECKPOINTS_FOLDER),
        "num_train_epochs": params.epochs,
        "learning_rate": params.learning_rate,
        "per_device_train_batch_size": batch_size,
        "per_device_eval_batch_size": batch_size,
        "gradient_accumulation_steps": accumulation,
        "warmup_steps": params.warmup_ratio,
        "weight_decay": params.weight_decay,
        "report_to": "none",
        "disable_tqdm": True,
        "use_cpu": device.kind == "cpu",
        "seed": params.seed,
        "dataloader_num_workers": 0,
        "dataloader_pin_memory": device.kind == "cuda",
        "remove_unused_columns": False,
    }


def _metrics_from_predictions(prediction: Any) -> dict[str, float]:
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    labels = np.asarray(prediction.label_ids)
    return classification_scores(labels, np.asarray(logits).argmax(axis=-1), int(np.asarray(logits).shape[-1]))


def reporter_callback(reporter: Reporter, tokens_per_step: float = 0.0) -> Any:
    """The ``TrainerCallback`` every trainer reports through: progress and the cancel flag after
    each optimisation step, the curves (``_CURVES``) as the Trainer logs them, and, given
    ``tokens_per_step``, the training speed in tokens per second beside each training loss."""
    from transformers import TrainerCallback

    class ReporterCallback(TrainerCallback):
        """Progress, curves and the cancel flag, checked after every optimisation step."""

        started = 0.0

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001, ANN003 - Trainer's signature
            self.started = time.perf_counter()
            return control

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN003
            reporter.progress(state.global_step, state.max_steps, float(state.epoch or 0))
            if reporter.should_stop():
                control.should_training_stop = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001, ANN003
            epoch = float(state.epoch or 0)
            for key, value in (logs or {}).items():
                if key not in _CURVES or not isinstance(value, int | float):
                    continue
                reporter.metric(state.global_step, epoch, _CURVES[key], float(value))
                elapsed = time.perf_counter() - self.started
                if key == "loss" and tokens_per_step and elapsed > 0 and state.global_step:
                    speed = state.global_step * tokens_per_step / elapsed
                    reporter.metric(state.global_step, epoch, "tokens_per_second", speed)
            return control

    return ReporterCallback()


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
    from transformers import EarlyStoppingCallback, Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

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
    trainer = Trainer(
        model=model,
        args=arguments,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=collator,
        compute_metrics=_metrics_from_predictions,
        callbacks=callbacks,
    )
    # Our callback already records every log line; the printer would only duplicate it on stdout.
    trainer.remove_callback(PrinterCallback)
    try:
        trainer.train()
    finally:
        shutil.rmtree(run_dir / CHECKPOINTS_FOLDER, ignore_errors=True)
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
    params: TrainingParams,
    run_dir: Path,
    device: DeviceInfo,
    reporter: Reporter,
) -> tuple[Any, np.ndarray]:
    """Train with ``Trainer`` (halving the batch on out-of-memory), then score the validation set.

    Returns:
        The trained model and its validation logits.
    """
    initial_state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def fit(batch_size: int) -> Any:
        # A retry after out-of-memory starts again from the base weights, not a half-trained model.
        model.load_state_dict(initial_state)
        return train_with_trainer(model, train, validation, collator, params, run_dir, device, reporter, batch_size)

    trained = with_batch_backoff(fit, params.batch_size, reporter, params.base_model)
    reporter.log("Evaluating on the validation set")
    logits = predict_logits(trained, validation, collator, device, params.batch_size, reporter)
    return trained, logits
