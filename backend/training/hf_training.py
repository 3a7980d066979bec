"""What full fine-tuning of text and image classifiers shares: loading the base with a new head,
``transformers.Trainer`` with progress/cancel callbacks, mixed precision, and out-of-memory backoff.
"""

from __future__ import annotations

import gc
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from backend.config import Settings
from backend.errors import (
    InsufficientMemoryError,
    ModelLoadError,
    ModelUnavailableError,
    ShowcaseError,
    UnsafeModelError,
)
from backend.models import catalog
from backend.models.device import DeviceInfo
from backend.models.loader import resolve_source
from backend.server_paths import shown_path
from backend.training.evaluation import classification_scores
from backend.training.params import TrainingParams
from backend.training.progress import Reporter, TrainingCancelled

CHECKPOINTS_FOLDER = "checkpoints"
# Logged points per epoch on the loss curve: enough for a curve, few enough for the job store.
_LOG_POINTS_PER_EPOCH = 10
# Trainer log keys -> curve names shared with fast mode.
_CURVES = {"loss": "train_loss", "eval_loss": "val_loss", "eval_accuracy": "val_accuracy", "eval_f1": "val_f1"}


def load_base_model(
    auto_class: Any, processor_class: Any, base_model: str, classes: list[str], settings: Settings
) -> tuple[Any, Any]:
    """Load ``base_model`` with a freshly initialised head for ``classes``, plus its preprocessor.

    Resolution follows ``backend.models.loader.resolve_source`` (hub id or a folder inside the
    models or runs folder); local weights must be safetensors; remote code is never run.

    Raises:
        ShowcaseError: unsafe reference, missing model (with the offline hint), unreadable folder.
    """
    source, is_local = resolve_source(base_model, settings)
    if is_local and not any(Path(source).rglob("*.safetensors")):
        raise UnsafeModelError(
            f"{base_model} has no safetensors weights; other formats can run code when loaded.",
            "Convert it with save_pretrained(..., safe_serialization=True).",
        )
    common = {"local_files_only": settings.offline or is_local, "trust_remote_code": False}
    # Catalogue hub ids are vetted; anything else must come as safetensors.
    safetensors = None if (catalog.find_spec(base_model) and not is_local) else True
    try:
        preprocessor = processor_class.from_pretrained(source, **common)
        model = auto_class.from_pretrained(
            source,
            num_labels=len(classes),
            id2label=dict(enumerate(classes)),
            label2id={label: i for i, label in enumerate(classes)},
            ignore_mismatched_sizes=True,
            use_safetensors=safetensors,
            dtype=torch.float32,
            **common,
        )
    except ShowcaseError:
        raise
    except Exception as error:  # noqa: BLE001 - every loader failure becomes a message
        if is_local:
            raise ModelLoadError(
                f"The base model folder {shown_path(base_model, settings)} could not be read ({type(error).__name__}).",
                "It may be incomplete or not a classifier base; pick another base model.",
            ) from error
        raise ModelUnavailableError(
            f"The base model {base_model} could not be fetched: the Hugging Face Hub is unreachable or offline mode is on.",
            "Copy it into the models folder (LSM_MODELS_DIR) with `python -m backend.models download`.",
        ) from error
    return model, preprocessor


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


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA out-of-memory, whichever way the framework surfaced it."""
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


def _free_accelerator_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def with_batch_backoff(run: Callable[[int], Any], batch_size: int, reporter: Reporter, what: str) -> Any:
    """Call ``run(batch_size)``, halving the batch on out-of-memory until it fits.

    Raises:
        InsufficientMemoryError: even a batch of 1 does not fit, with what to change.
    """
    size = batch_size
    while True:
        try:
            return run(size)
        except TrainingCancelled:
            raise
        except (RuntimeError, torch.OutOfMemoryError) as error:
            if not is_out_of_memory(error):
                raise
            _free_accelerator_memory()
            if size == 1:
                raise InsufficientMemoryError(
                    f"Out of GPU memory training {what}, even with a batch size of 1.",
                    "Pick a smaller base model, lower max length, or use fast mode.",
                ) from error
            size = max(1, size // 2)
            reporter.log(
                f"Out of GPU memory; retrying with batch size {size} (gradient accumulation keeps the effective batch).",
                "warning",
            )
            reporter.restart_clock()


def _metrics_from_predictions(prediction: Any) -> dict[str, float]:
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    labels = np.asarray(prediction.label_ids)
    return classification_scores(labels, np.asarray(logits).argmax(axis=-1), int(np.asarray(logits).shape[-1]))


def _reporter_callback(reporter: Reporter) -> Any:
    from transformers import TrainerCallback

    class ReporterCallback(TrainerCallback):
        """Progress, curves and the cancel flag, checked after every optimisation step."""

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN003 - Trainer's signature
            reporter.progress(state.global_step, state.max_steps, float(state.epoch or 0))
            if reporter.should_stop():
                control.should_training_stop = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001, ANN003
            for key, value in (logs or {}).items():
                if key in _CURVES and isinstance(value, int | float):
                    reporter.metric(state.global_step, float(state.epoch or 0), _CURVES[key], float(value))
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
        TrainingCancelled: the reporter's stop flag was set.
    """
    from transformers import EarlyStoppingCallback, Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    accumulation = max(1, params.batch_size // batch_size)
    steps_per_epoch = max(1, len(train_dataset) // (batch_size * accumulation))
    early = params.early_stopping_patience > 0
    arguments = TrainingArguments(
        output_dir=str(run_dir / CHECKPOINTS_FOLDER),
        num_train_epochs=params.epochs,
        learning_rate=params.learning_rate,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        gradient_accumulation_steps=accumulation,
        warmup_steps=params.warmup_ratio,
        weight_decay=params.weight_decay,
        eval_strategy="epoch",
        save_strategy="epoch" if early else "no",
        save_total_limit=1,
        save_only_model=True,
        load_best_model_at_end=early,
        metric_for_best_model="f1",
        greater_is_better=True,
        logging_strategy="steps",
        logging_steps=max(1, steps_per_epoch // _LOG_POINTS_PER_EPOCH),
        report_to="none",
        disable_tqdm=True,
        use_cpu=device.kind == "cpu",
        seed=params.seed,
        dataloader_num_workers=0,
        dataloader_pin_memory=device.kind == "cuda",
        remove_unused_columns=False,
        **mixed_precision(params, device),
    )
    callbacks = [_reporter_callback(reporter)]
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
