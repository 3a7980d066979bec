"""Training parameters: validated before a job is queued, saved as JSON beside the run.

Defaults are small on purpose (a few epochs, modest batch) so a first run finishes quickly; the
fast method trains only a small head, so its defaults use more epochs and a larger learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from backend.i18n import N_
from backend.training.param_checks import KindParams, ParamRange

TEXT = "text"
IMAGE = "image"
TASK_KINDS = (TEXT, IMAGE)
FULL = "full"
FAST = "fast"
METHODS = (FULL, FAST)


# Every numeric field, declared once (``param_checks``): bounds wide enough for real use, narrow
# enough to catch typos such as a learning rate of 5 instead of 5e-5 (the parameter form shows
# exactly these), and the full method's default (``default_params`` has the fast method's).
PARAM_RANGES: dict[str, ParamRange] = {
    "epochs": ParamRange(1, 200, default=3),
    "learning_rate": ParamRange(1e-7, 1.0, default=5e-5),
    "batch_size": ParamRange(1, 1024, default=16),
    "max_length": ParamRange(8, 4096, default=128),
    "warmup_ratio": ParamRange(0.0, 0.5, 0.05, default=0.1),
    "weight_decay": ParamRange(0.0, 1.0, 0.01, default=0.01),
    "early_stopping_patience": ParamRange(0, 50, default=0),
    "validation_fraction": ParamRange(0.05, 0.5, 0.05, default=0.2),
    "seed": ParamRange(0, 2**31 - 1, default=42),
}
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


@dataclass(frozen=True)
class TrainingParams(KindParams):
    """Everything a training run needs besides the data.

    Attributes:
        task: ``text`` or ``image`` classification.
        method: ``full`` (fine-tune every weight) or ``fast`` (frozen features + a linear head).
        base_model: model reference (catalogue hub id or local folder). For fast text runs, a
            sentence-transformers embeddings model.
        title: the model's display name in the demo pickers.
        epochs: passes over the training data.
        learning_rate: peak learning rate.
        batch_size: examples per step (halved automatically on GPU out-of-memory).
        max_length: tokens per text; longer texts are truncated.
        warmup_ratio: share of steps with a linear warm-up (full method).
        weight_decay: AdamW weight decay.
        early_stopping_patience: stop after this many epochs without validation F1 improving
            (0 = off).
        validation_fraction: share of the data held out when no validation file is given.
        seed: random seed for the split and training.
        precision: ``auto`` (fp16/bf16 on GPU, fp32 on CPU) or a fixed choice.
    """

    task: str
    method: str
    base_model: str
    title: str = ""
    precision: str = "auto"
    # The numeric fields, epochs to seed, come from PARAM_RANGES.

    ranges: ClassVar[dict[str, ParamRange]] = PARAM_RANGES
    required: ClassVar[tuple[str, ...]] = ("task", "method", "base_model")
    base_model_hint: ClassVar[str] = N_("Pick a base model from the list.")

    def choices(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """The task, the training method and the precision, each one of a few words."""
        return [
            ("task", self.task, TASK_KINDS),
            ("training method", self.method, METHODS),
            ("precision", self.precision, PRECISIONS),
        ]


def default_params(task: str, method: str, base_model: str) -> TrainingParams:
    """Sensible small defaults for a task and method."""
    params = TrainingParams(task=task, method=method, base_model=base_model)
    if method == FAST:
        params = replace(params, epochs=30, learning_rate=1e-2, batch_size=64, warmup_ratio=0.0)
    elif task == IMAGE:
        params = replace(params, learning_rate=1e-4, batch_size=16)
    return params
