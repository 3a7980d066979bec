"""What every ``transformers.Trainer`` run of the studio shares, classifier and chat tuning alike:
progress/cancel callbacks, mixed precision, the arguments both set alike, and out-of-memory backoff.
The classifier's own training loop is ``classifier/hf_trainer.py``; chat tuning's is ``chat/trainer.py``;
preference tuning's (trl's ``DPOTrainer``) is ``preference/trainer.py``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from backend.errors import InsufficientMemoryError
from backend.i18n import _
from backend.jobs.progress import Reporter
from backend.models.memory import halve_on_oom
from backend.models.resolve.device import DeviceInfo

CHECKPOINTS_FOLDER = "checkpoints"
# Trainer log keys -> curve names shared with fast mode.
_CURVES = {"loss": "train_loss", "eval_loss": "val_loss", "eval_accuracy": "val_accuracy", "eval_f1": "val_f1"}


class TrainerParams(Protocol):
    """What the shared Trainer arguments read of a kind's parameters (classifier and chat alike)."""

    epochs: float
    learning_rate: float
    warmup_ratio: float
    weight_decay: float
    seed: int
    precision: str


def mixed_precision(params: TrainerParams, device: DeviceInfo) -> dict[str, bool]:
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
            _("Out of GPU memory training {what}, even with a batch size of 1.").format(what=what),
            _("Pick a smaller base model, lower max length, or use fast mode."),
        )

    def retrying(size: int) -> None:
        reporter.log(
            f"Out of GPU memory; retrying with batch size {size} (gradient accumulation keeps the effective batch).",
            "warning",
        )
        reporter.restart_clock()

    return halve_on_oom(run, batch_size, give_up, retrying)


def shared_trainer_arguments(
    params: TrainerParams, run_dir: Path, device: DeviceInfo, batch_size: int, accumulation: int
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


def quiet_trainer(arguments: Any, callbacks: list[Any], trainer_class: type | None = None, **inputs: Any) -> Any:
    """A ``transformers.Trainer`` (or ``trainer_class``, a subclass such as trl's ``DPOTrainer``)
    with ``arguments`` and ``callbacks``, given the model, datasets and the rest as the Trainer's
    own keywords (``inputs``), that reports only through ``callbacks``: the console printer is
    removed, since ``reporter_callback`` already records every log line."""
    from transformers import Trainer
    from transformers.trainer_callback import PrinterCallback

    trainer = (trainer_class or Trainer)(args=arguments, callbacks=callbacks, **inputs)
    trainer.remove_callback(PrinterCallback)
    return trainer


@contextmanager
def checkpoints_removed(run_dir: Path) -> Iterator[None]:
    """Delete the run's Trainer checkpoints when the block ends, however it ends: the saved model
    is all a run keeps, and a failed or cancelled run must not leave gigabytes behind."""
    try:
        yield
    finally:
        shutil.rmtree(run_dir / CHECKPOINTS_FOLDER, ignore_errors=True)


def reporter_callback(reporter: Reporter, tokens_per_step: float = 0.0, curves: dict[str, str] | None = None) -> Any:
    """The ``TrainerCallback`` every trainer reports through: progress and the cancel flag after
    each optimisation step, the curves (``_CURVES``, plus a kind's own ``curves``: log key ->
    curve name) as the Trainer logs them, and, given ``tokens_per_step``, the training speed in
    tokens per second beside each training loss."""
    from transformers import TrainerCallback

    named = {**_CURVES, **(curves or {})}

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
                if key not in named or not isinstance(value, int | float):
                    continue
                reporter.metric(state.global_step, epoch, named[key], float(value))
                elapsed = time.perf_counter() - self.started
                if key == "loss" and tokens_per_step and elapsed > 0 and state.global_step:
                    speed = state.global_step * tokens_per_step / elapsed
                    reporter.metric(state.global_step, epoch, "tokens_per_second", speed)
            return control

    return ReporterCallback()
