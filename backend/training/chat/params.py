"""Parameters of a chat-model tuning job ("Chat model" in the studio): validated before queuing,
saved as JSON beside the run.

Defaults are the ones that work on the smallest catalogue chat model on a CPU: LoRA rank 16 on
every linear layer, a learning rate LoRA tolerates (2e-4), 3 epochs, 512-token conversations.
Full fine-tuning is allowed only for small models, where its optimizer state fits a small host.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from backend.errors import InvalidInputError
from backend.i18n import _
from backend.jobs.submit import write_params_file
from backend.training.common import CHAT
from backend.training.param_checks import (
    ParamRange,
    check_choice,
    check_ranges,
    check_title,
    known_fields,
)

LORA = "lora"
FULL = "full"
CHAT_METHODS = (LORA, FULL)
ALL_LINEAR = "all-linear"
# Precisions a user may pick: "auto" is bf16 mixed precision on a GPU (fp16 where it has no
# bf16) and float32 on a CPU; "bf16" on a CPU trains under bf16 autocast (faster with AMX/AVX512-BF16).
CHAT_PRECISIONS = ("auto", "fp32", "bf16")
# Full fine-tuning keeps AdamW state (2 floats per weight) beside float32 weights and gradients:
# about 16 bytes a parameter, 2.2 GB at 135M. Past this size only LoRA is offered.
FULL_MAX_PARAMS = 600_000_000
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,63}$")
_MAX_MODULES = 20

CHAT_PARAM_RANGES: dict[str, ParamRange] = {
    "epochs": ParamRange(1, 50),
    "learning_rate": ParamRange(1e-7, 1.0),
    "batch_size": ParamRange(1, 256),
    "max_length": ParamRange(32, 8192, 32),
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
class ChatTuneParams:
    """Everything a chat-tuning run needs besides the conversations.

    Attributes:
        base_model: a chat model (catalogue hub id or local folder) with a chat template.
        title: the tuned model's name in the Text generation demo.
        method: ``lora`` (low-rank adapters, the base frozen) or ``full`` (every weight; small
            models only).
        epochs: passes over the training conversations.
        learning_rate: peak learning rate (linear decay after warm-up).
        batch_size: conversations per step (halved automatically on GPU out-of-memory).
        max_length: tokens per conversation; longer ones are cut at the end.
        lora_rank, lora_alpha, lora_dropout: the adapters' rank, scale (alpha / rank) and dropout.
        target_modules: ``all-linear`` or comma-separated module names (e.g. ``q_proj,v_proj``).
        warmup_ratio: share of steps with a linear warm-up.
        weight_decay: AdamW weight decay.
        validation_fraction: share of the conversations held out for validation loss.
        report_prompts: held-out prompts answered by the base and the tuned model in the report.
        report_max_new_tokens: reply length in that side-by-side table.
        seed: random seed of the split and the training.
        precision: ``auto``, ``fp32`` or ``bf16`` (see ``CHAT_PRECISIONS``).
    """

    base_model: str
    title: str = ""
    method: str = LORA
    epochs: int = 3
    learning_rate: float = 2e-4
    batch_size: int = 8
    max_length: int = 512
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: str = ALL_LINEAR
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    validation_fraction: float = 0.1
    report_prompts: int = 5
    report_max_new_tokens: int = 64
    seed: int = 42
    precision: str = "auto"

    @property
    def task(self) -> str:
        """The job's task in the job store."""
        return CHAT

    def target_module_list(self) -> str | list[str]:
        """What ``peft.LoraConfig(target_modules=...)`` takes."""
        if self.target_modules.strip() == ALL_LINEAR:
            return ALL_LINEAR
        return [name.strip() for name in self.target_modules.split(",") if name.strip()]

    def validate(self) -> ChatTuneParams:
        """Return self when every field is in range.

        Raises:
            InvalidInputError: naming the first field that is wrong and what is allowed.
        """
        check_choice("method", self.method, CHAT_METHODS)
        if not self.base_model.strip():
            raise InvalidInputError(_("No base model chosen."), _("Pick a chat model from the list."))
        check_choice("precision", self.precision, CHAT_PRECISIONS)
        check_title(self.title)
        modules = self.target_module_list()
        if modules != ALL_LINEAR and (
            not modules or len(modules) > _MAX_MODULES or not all(_MODULE_NAME.match(m) for m in modules)
        ):
            raise InvalidInputError(
                _("Target modules must be 'all-linear' or a comma-separated list of module names."),
                _("For Llama and Qwen models, for example: q_proj,k_proj,v_proj,o_proj."),
            )
        check_ranges(self, CHAT_PARAM_RANGES)
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (with ``task``, so generic job tables can read it)."""
        return {**asdict(self), "task": CHAT}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChatTuneParams:
        """Build from JSON, ignoring unknown keys and casting numbers (not validated again)."""
        values = known_fields(cls, data)
        if "base_model" not in values:
            raise InvalidInputError(_("Chat tuning parameters lack base_model."))
        return cls(**values)

    def save(self, run_dir: Path) -> Path:
        """Write ``params.json`` into the run folder."""
        return write_params_file(self.to_dict(), run_dir)


def default_chat_params(base_model: str, method: str = LORA) -> ChatTuneParams:
    """Defaults that work: LoRA as above; full fine-tuning with a 10x lower learning rate."""
    params = ChatTuneParams(base_model=base_model, method=method)
    if method == FULL:
        params = replace(params, learning_rate=2e-5)
    return params
