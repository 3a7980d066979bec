"""Parameters of a preference-tuning job ("Preference tuning (DPO)" in the studio): validated before
queuing, saved as JSON beside the run.

Defaults are the ones that move the smallest catalogue chat model on a CPU within minutes: LoRA
rank 16 on every linear layer, DPO's usual beta (0.1), a learning rate LoRA tolerates (1e-4), 2
epochs, 512 tokens per prompt and reply. Full fine-tuning is allowed only for small models, as for
chat tuning, since DPO keeps a second, frozen copy of the model as its reference.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import ClassVar

from backend.training.chat.params import CHAT_PARAM_RANGES, FULL, LORA, ChatModelParams, ChatTuneParams
from backend.training.common import PREFERENCE
from backend.training.param_checks import ParamRange

PREFERENCE_METHODS = (LORA, FULL)

# Every numeric field, declared once (``param_checks``): chat tuning's bounds and widget steps, with
# DPO's ``beta`` and the LoRA method's defaults for preference tuning (``full_learning_rate``
# has full fine-tuning's).
_DEFAULTS = {"epochs": 2, "learning_rate": 1e-4, "batch_size": 4, "warmup_ratio": 0.1, "validation_fraction": 0.15}
_BETA = ParamRange(0.01, 5.0, 0.01, default=0.1)


def _preference_ranges() -> dict[str, ParamRange]:
    # The order is the dataclass's field order (``KindParams``): beta stands after max_length.
    ranges = {}
    for name, bounds in CHAT_PARAM_RANGES.items():
        ranges[name] = replace(bounds, default=_DEFAULTS.get(name, bounds.default))
        if name == "max_length":
            ranges["beta"] = _BETA
    return ranges


PREFERENCE_PARAM_RANGES: dict[str, ParamRange] = _preference_ranges()


@dataclass(frozen=True)
class PreferenceParams(ChatModelParams):
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

    # The numeric fields, epochs to seed, come from PREFERENCE_PARAM_RANGES.
    ranges: ClassVar[dict[str, ParamRange]] = PREFERENCE_PARAM_RANGES
    kind_task: ClassVar[str] = PREFERENCE
    methods: ClassVar[tuple[str, ...]] = PREFERENCE_METHODS
    full_learning_rate: ClassVar[float] = 5e-6  # a twentieth of LoRA's

    def as_chat_params(self) -> ChatTuneParams:
        """The same base, method, LoRA and precision as chat tuning's parameters, for the pieces the
        two kinds share (attaching LoRA, the full-tuning size limit, the target-module check)."""
        shared = {f.name: getattr(self, f.name) for f in fields(ChatTuneParams) if hasattr(self, f.name)}
        return ChatTuneParams(**shared)
