"""Training parameters: validated before a job is queued, saved as JSON beside the run.

Defaults are small on purpose (a few epochs, modest batch) so a first run finishes quickly; the
fast method trains only a small head, so its defaults use more epochs and a larger learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from backend.errors import InvalidInputError
from backend.i18n import _
from backend.jobs.submit import write_params_file
from backend.records import JsonRecord
from backend.training.param_checks import (
    ParamRange,
    check_choice,
    check_ranges,
    check_title,
    known_fields,
)

TEXT = "text"
IMAGE = "image"
TASK_KINDS = (TEXT, IMAGE)
FULL = "full"
FAST = "fast"
METHODS = (FULL, FAST)


# Per numeric field: wide enough for real use, narrow enough to catch typos such as a learning
# rate of 5 instead of 5e-5. The parameter form shows exactly these bounds.
PARAM_RANGES: dict[str, ParamRange] = {
    "epochs": ParamRange(1, 200),
    "learning_rate": ParamRange(1e-7, 1.0),
    "batch_size": ParamRange(1, 1024),
    "max_length": ParamRange(8, 4096),
    "warmup_ratio": ParamRange(0.0, 0.5, 0.05),
    "weight_decay": ParamRange(0.0, 1.0, 0.01),
    "early_stopping_patience": ParamRange(0, 50),
    "validation_fraction": ParamRange(0.05, 0.5, 0.05),
    "seed": ParamRange(0, 2**31 - 1),
}
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


@dataclass(frozen=True)
class TrainingParams(JsonRecord):
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
    epochs: int = 3
    learning_rate: float = 5e-5
    batch_size: int = 16
    max_length: int = 128
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    early_stopping_patience: int = 0
    validation_fraction: float = 0.2
    seed: int = 42
    precision: str = "auto"

    def validate(self) -> TrainingParams:
        """Return self when every field is in range.

        Raises:
            InvalidInputError: naming the first field that is wrong and its allowed range.
        """
        check_choice("task", self.task, TASK_KINDS)
        check_choice("training method", self.method, METHODS)
        if not self.base_model.strip():
            raise InvalidInputError(_("No base model chosen."), _("Pick a base model from the list."))
        check_choice("precision", self.precision, PRECISIONS)
        check_title(self.title)
        check_ranges(self, PARAM_RANGES)
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingParams:
        """Build from JSON, ignoring unknown keys and casting numbers (tolerates older files).

        Not validated again: what is stored was validated once, when the job was submitted.
        """
        values = known_fields(cls, data)
        missing = [name for name in ("task", "method", "base_model") if name not in values]
        if missing:
            raise InvalidInputError(_("Training parameters lack {value}.").format(value=", ".join(missing)))
        return cls(**values)

    def save(self, run_dir: Path) -> Path:
        """Write ``params.json`` into the run folder."""
        return write_params_file(self.to_dict(), run_dir)


def default_params(task: str, method: str, base_model: str) -> TrainingParams:
    """Sensible small defaults for a task and method."""
    params = TrainingParams(task=task, method=method, base_model=base_model)
    if method == FAST:
        params = replace(params, epochs=30, learning_rate=1e-2, batch_size=64, warmup_ratio=0.0)
    elif task == IMAGE:
        params = replace(params, learning_rate=1e-4, batch_size=16)
    return params
