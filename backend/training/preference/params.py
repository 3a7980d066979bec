"""Parameters of a preference-tuning job ("Preference tuning (DPO)" in the studio): validated before
queuing, saved as JSON beside the run.

Defaults are the ones that move the smallest catalogue chat model on a CPU within minutes: LoRA
rank 16 on every linear layer, DPO's usual beta (0.1), a learning rate LoRA tolerates (1e-4), 2
epochs, 512 tokens per prompt and reply. Full fine-tuning is allowed only for small models, as for
chat tuning, since DPO keeps a second, frozen copy of the model as its reference.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from backend.errors import InvalidInputError
from backend.i18n import _
from backend.jobs.submit import write_params_file
from backend.training.chat.params import ALL_LINEAR, FULL, LORA, ChatTuneParams
from backend.training.common import PREFERENCE
from backend.training.param_checks import ParamRange, check_choice, check_ranges, known_fields

PREFERENCE_METHODS = (LORA, FULL)

PREFERENCE_PARAM_RANGES: dict[str, ParamRange] = {
    "epochs": ParamRange(1, 50),
    "learning_rate": ParamRange(1e-7, 1.0),
    "batch_size": ParamRange(1, 256),
    "max_length": ParamRange(32, 8192, 32),
    "beta": ParamRange(0.01, 5.0, 0.01),
    "lora_rank": ParamRange(1, 256),
    "lora_alpha": ParamRange(1, 512),
    "lora_dropout": ParamRange(0.0, 0.5, 0.05),
    "warmup_ratio": ParamRange(0.0, 0.5, 0.05),
    "weight_decay": ParamRange(0.0, 1.0, 0.01),
    "validation_fraction": ParamRange(0.05, 0.5, 0.05),
    "report_prompts": ParamRange(0, 20),
    "report_max_new_tokens": ParamRange(8, 256, 8),
    "seed": ParamRange(0, 2**31 - 1),
}


@dataclass(frozen=True)
class PreferenceParams:
    """Everything a preference-tuning run needs besides the pairs.

    Attributes:
        base_model: a chat model (catalogue hub id or local folder) with a chat template.
        title: the tuned model's name in the Text generation demo.
        method: ``lora`` (low-rank adapters; the base with adapters switched off is DPO's
            reference) or ``full`` (every weight; small models only).
        epochs: passes over the training pairs.
        learning_rate: peak learning rate (linear decay after warm-up).
        batch_size: pairs per step (halved automatically on GPU out-of-memory).
        max_length: tokens of prompt plus reply; longer pairs lose the end of their replies.
        beta: DPO's strength: how far the tuned model may move from the reference (higher = less).
        lora_rank, lora_alpha, lora_dropout: the adapters' rank, scale and dropout.
        target_modules: ``all-linear`` or comma-separated module names.
        warmup_ratio: share of steps with a linear warm-up.
        weight_decay: AdamW weight decay.
        validation_fraction: share of the pairs held out for the report's reward accuracy.
        report_prompts: held-out prompts answered by the base and the tuned model in the report.
        report_max_new_tokens: reply length in that side-by-side table.
        seed: random seed of the split and the training.
        precision: ``auto``, ``fp32`` or ``bf16`` (as chat tuning).
    """

    base_model: str
    title: str = ""
    method: str = LORA
    epochs: int = 2
    learning_rate: float = 1e-4
    batch_size: int = 4
    max_length: int = 512
    beta: float = 0.1
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: str = ALL_LINEAR
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0
    validation_fraction: float = 0.15
    report_prompts: int = 5
    report_max_new_tokens: int = 64
    seed: int = 42
    precision: str = "auto"

    @property
    def task(self) -> str:
        """The job's task in the job store."""
        return PREFERENCE

    def as_chat_params(self) -> ChatTuneParams:
        """The same base, method, LoRA and precision as chat tuning's parameters, for the pieces the
        two kinds share (attaching LoRA, the full-tuning size limit, the target-module check)."""
        shared = {name: getattr(self, name) for name in ChatTuneParams.__dataclass_fields__ if hasattr(self, name)}
        return ChatTuneParams(**shared)

    def target_module_list(self) -> str | list[str]:
        """What ``peft.LoraConfig(target_modules=...)`` takes."""
        return self.as_chat_params().target_module_list()

    def validate(self) -> PreferenceParams:
        """Return self when every field is in range.

        Raises:
            InvalidInputError: naming the first field that is wrong and what is allowed.
        """
        check_choice("method", self.method, PREFERENCE_METHODS)
        # Chat tuning's checks of the fields both kinds share: base model, precision, title, modules.
        self.as_chat_params().validate()
        check_ranges(self, PREFERENCE_PARAM_RANGES)
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (with ``task``, so generic job tables can read it)."""
        return {**asdict(self), "task": PREFERENCE}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreferenceParams:
        """Build from JSON, ignoring unknown keys and casting numbers (not validated again)."""
        values = known_fields(cls, data)
        if "base_model" not in values:
            raise InvalidInputError(_("Preference tuning parameters lack base_model."))
        return cls(**values)

    def save(self, run_dir: Path) -> Path:
        """Write ``params.json`` into the run folder."""
        return write_params_file(self.to_dict(), run_dir)


def default_preference_params(base_model: str, method: str = LORA) -> PreferenceParams:
    """Defaults that work: LoRA as above; full fine-tuning with a 20x lower learning rate."""
    params = PreferenceParams(base_model=base_model, method=method)
    if method == FULL:
        params = replace(params, learning_rate=5e-6)
    return params
