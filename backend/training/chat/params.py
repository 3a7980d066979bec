"""Parameters of a chat-model tuning job ("Chat model" in the studio): validated before queuing,
saved as JSON beside the run.

Defaults are the ones that work on the smallest catalogue chat model on a CPU: LoRA rank 16 on
every linear layer, a learning rate LoRA tolerates (2e-4), 3 epochs, 512-token conversations.
Full fine-tuning is allowed only for small models, where its optimizer state fits a small host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import ClassVar, Self

from backend.errors import InvalidInputError
from backend.i18n import N_, _
from backend.training.common import CHAT
from backend.training.param_checks import KindParams, ParamRange

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

# Every numeric field, declared once (``param_checks``): its bounds, its widget's step and the
# LoRA method's default (``full_learning_rate`` is full fine-tuning's).
CHAT_PARAM_RANGES: dict[str, ParamRange] = {
    "epochs": ParamRange(1, 50, default=3),
    "learning_rate": ParamRange(1e-7, 1.0, default=2e-4),
    "batch_size": ParamRange(1, 256, default=8),
    "max_length": ParamRange(32, 8192, 32, default=512),
    "lora_rank": ParamRange(1, 256, default=16),
    "lora_alpha": ParamRange(1, 512, default=32),
    "lora_dropout": ParamRange(0.0, 0.5, 0.05, default=0.05),
    "warmup_ratio": ParamRange(0.0, 0.5, 0.05, default=0.05),
    "weight_decay": ParamRange(0.0, 1.0, 0.01, default=0.0),
    "validation_fraction": ParamRange(0.05, 0.5, 0.05, default=0.1),
    "report_prompts": ParamRange(0, 20, default=5),
    "report_max_new_tokens": ParamRange(8, 256, 8, default=64),
    "seed": ParamRange(0, 2**31 - 1, default=42),
}


@dataclass(frozen=True)
class ChatModelParams(KindParams):
    """The fields chat and preference tuning share, and their checks: a chat base model, LoRA or
    full tuning, the adapters' target modules and the precision. Each kind adds its numeric
    fields (``ranges``), its task (``kind_task``) and its ``methods``."""

    base_model: str
    title: str = ""
    method: str = LORA
    target_modules: str = ALL_LINEAR
    precision: str = "auto"
    base_model_hint: ClassVar[str] = N_("Pick a chat model from the list.")
    # Generic job tables read the task from the stored parameters.
    json_properties: ClassVar[tuple[str, ...]] = ("task",)
    # Each kind's task in the job store, the methods it offers, and full fine-tuning's learning
    # rate (every weight moves, so it is far lower than the LoRA default in ``ranges``).
    kind_task: ClassVar[str]
    methods: ClassVar[tuple[str, ...]]
    full_learning_rate: ClassVar[float]

    @classmethod
    def defaults(cls, base_model: str, method: str = LORA) -> Self:
        """Defaults that work: LoRA's from ``ranges``; full fine-tuning with ``full_learning_rate``."""
        params = cls(base_model=base_model, method=method)
        return replace(params, learning_rate=cls.full_learning_rate) if method == FULL else params

    @property
    def task(self) -> str:
        """The job's task in the job store."""
        return self.kind_task

    def choices(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """The method and the precision, each one of a few words."""
        return [("method", self.method, self.methods), ("precision", self.precision, CHAT_PRECISIONS)]

    def target_module_list(self) -> str | list[str]:
        """What ``peft.LoraConfig(target_modules=...)`` takes."""
        if self.target_modules.strip() == ALL_LINEAR:
            return ALL_LINEAR
        return [name.strip() for name in self.target_modules.split(",") if name.strip()]

    def check_own_fields(self) -> None:
        """Refuse target modules that are neither ``all-linear`` nor a short list of module names."""
        modules = self.target_module_list()
        if modules != ALL_LINEAR and (
            not modules or len(modules) > _MAX_MODULES or not all(_MODULE_NAME.match(m) for m in modules)
        ):
            raise InvalidInputError(
                _("Target modules must be 'all-linear' or a comma-separated list of module names."),
                _("For Llama and Qwen models, for example: q_proj,k_proj,v_proj,o_proj."),
            )


@dataclass(frozen=True)
class ChatTuneParams(ChatModelParams):
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

    # The numeric fields, epochs to seed, come from CHAT_PARAM_RANGES.
    ranges: ClassVar[dict[str, ParamRange]] = CHAT_PARAM_RANGES
    kind_task: ClassVar[str] = CHAT
    methods: ClassVar[tuple[str, ...]] = CHAT_METHODS
    full_learning_rate: ClassVar[float] = 2e-5  # a tenth of LoRA's
