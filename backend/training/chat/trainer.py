"""Tuning a chat model on conversations: LoRA adapters (``peft``) or every weight, the loss on
assistant replies only, with ``transformers.Trainer``.

Around the training it measures what the report shows: validation loss before and after, and the
base model's and the tuned model's greedy replies to held-out prompts (the base replies are
generated before training starts, so no second copy of the model is needed).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch

from backend import chat_template
from backend.config import Settings
from backend.errors import InvalidInputError
from backend.i18n import _
from backend.jobs.progress import Reporter
from backend.models.loader import load_causal_lm_for_training
from backend.models.resolve import catalogue
from backend.models.resolve.device import DeviceInfo
from backend.models.resolve.plan import plan_load
from backend.server_paths import shown_path
from backend.training.chat.data import IGNORE_INDEX, ChatDataset, encode_conversations, require_chat_template
from backend.training.chat.params import LORA, ChatModelParams, ChatTuneParams
from backend.training.hf_training import (
    checkpoints_removed,
    quiet_trainer,
    reporter_callback,
    shared_trainer_arguments,
    with_batch_backoff,
)

# Points on the curves: enough to see a trend, few enough for the job store.
_LOG_POINTS = 30
_EVAL_POINTS = 6
# What one fit of a kind returns (chat: the losses and speed; preference: the speed).
Fitted = TypeVar("Fitted")


@dataclass
class SideBySide:
    """One held-out prompt with the reference reply and both models' replies."""

    prompt: str
    reference: str
    base: str
    tuned: str


@dataclass
class TunedChatModel:
    """The tuned model (a ``PeftModel`` for LoRA), its tokenizer, and the before/after measures."""

    model: Any
    tokenizer: Any
    val_loss_before: float
    val_loss_after: float
    side_by_side: list[SideBySide] = field(default_factory=list)
    train_tokens: int = 0
    tokens_per_second: float = 0.0
    trainable_parameters: int = 0
    total_parameters: int = 0


class _Conversations(torch.utils.data.Dataset):
    def __init__(self, tokenizer: Any, conversations: list[list[dict[str, str]]], max_length: int) -> None:
        encoded = encode_conversations(tokenizer, conversations, max_length)
        # A conversation cut before its first reply teaches nothing and would give a NaN loss.
        self.items = [e for e in encoded if e.trained_tokens]
        self.tokens = sum(len(e.input_ids) for e in self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        item = self.items[index]
        return {"input_ids": item.input_ids, "labels": item.labels}


def _collator(pad_id: int):
    def collate(batch: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(item["input_ids"]) for item in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, item in enumerate(batch):
            n = len(item["input_ids"])
            ids[row, :n] = torch.tensor(item["input_ids"])
            labels[row, :n] = torch.tensor(item["labels"])
            mask[row, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    return collate


def mixed_precision(precision: str, device: DeviceInfo) -> dict[str, bool]:
    """Trainer flags: bf16 on a GPU with bf16 (fp16 otherwise) unless fp32 was asked for; on a CPU,
    bf16 autocast only when asked for."""
    if precision == "fp32":
        return {"fp16": False, "bf16": False}
    if device.kind == "cuda":
        bf16 = device.half_dtype == "bfloat16" or precision == "bf16"
        return {"fp16": not bf16, "bf16": bf16}
    return {"fp16": False, "bf16": precision == "bf16" and device.kind == "cpu"}


def chat_trainer_arguments(
    params: Any, run_dir: Path, device: DeviceInfo, batch_size: int, train_items: int, eval_points: int
) -> tuple[dict[str, Any], int]:
    """The Trainer arguments chat and preference tuning set alike, and the optimiser steps per
    epoch: ``shared_trainer_arguments`` with the effective batch reached by accumulation, a linear
    schedule that evaluates ``eval_points`` times and logs ``_LOG_POINTS`` times over the run, and
    no checkpoints saved."""
    accumulation = max(1, params.batch_size // batch_size)
    steps_per_epoch = max(1, math.ceil(train_items / (batch_size * accumulation)))
    total_steps = steps_per_epoch * params.epochs
    arguments = {
        **shared_trainer_arguments(params, run_dir, device, batch_size, accumulation),
        "lr_scheduler_type": "linear",
        "eval_strategy": "steps",
        "eval_steps": max(1, total_steps // eval_points),
        "save_strategy": "no",
        "logging_strategy": "steps",
        "logging_steps": max(1, total_steps // _LOG_POINTS),
        # Logits of every validation token would be kept otherwise (vocabulary x tokens floats).
        "prediction_loss_only": True,
        **mixed_precision(params.precision, device),
    }
    return arguments, steps_per_epoch


def _prompt_of(conversation: list[dict[str, str]]) -> tuple[list[dict[str, str]], str]:
    """The conversation up to its last reply, and that reply."""
    last = max(i for i, m in enumerate(conversation) if m["role"] == "assistant")
    return conversation[:last], conversation[last]["content"]


def greedy_replies(
    model: Any, tokenizer: Any, prompts: list[list[dict[str, str]]], max_new_tokens: int, device: DeviceInfo
) -> list[str]:
    """Greedy replies, one prompt at a time, encoded as the chat demo encodes them."""
    config = copy.deepcopy(model.generation_config)
    config.do_sample, config.temperature, config.top_p, config.top_k = False, None, None, None
    config.max_new_tokens, config.max_length, config.num_beams = max_new_tokens, None, 1
    if config.pad_token_id is None:
        config.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else config.eos_token_id
    replies = []
    model.eval()
    texts = chat_template.render_chats(tokenizer, prompts, generation_prompt=True)
    with torch.inference_mode():
        for text in texts:
            ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]], device=device.torch_device)
            output = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=config)
            replies.append(tokenizer.decode(output[0, ids.shape[-1] :], skip_special_tokens=True).strip())
    return replies


def wrap_lora(model: Any, params: ChatModelParams) -> Any:
    """``model`` with LoRA adapters of ``params`` attached (chat and preference tuning alike).

    Raises:
        InvalidInputError: the adapters cannot attach (naming the model's linear modules).
    """
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=params.lora_rank,
        lora_alpha=params.lora_alpha,
        lora_dropout=params.lora_dropout,
        target_modules=params.target_module_list(),
        task_type="CAUSAL_LM",
        bias="none",
    )
    try:
        return get_peft_model(model, config)
    except ValueError as error:
        linear = sorted(
            {name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
        )
        raise InvalidInputError(
            _("LoRA could not be attached: {error}").format(error=str(error)[:200]),
            _("Use 'all-linear', or module names this model has: {value}.").format(value=", ".join(linear[:12])),
        ) from error


def _train(
    model: Any,
    train: _Conversations,
    validation: _Conversations,
    collate: Any,
    params: ChatTuneParams,
    run_dir: Path,
    device: DeviceInfo,
    reporter: Reporter,
    batch_size: int,
) -> tuple[float, float, float]:
    """One Trainer run; returns (validation loss before, after, tokens/s)."""
    from transformers import TrainingArguments

    shared, steps_per_epoch = chat_trainer_arguments(params, run_dir, device, batch_size, len(train), _EVAL_POINTS)
    arguments = TrainingArguments(**shared)
    tokens_per_step = train.tokens / max(1, steps_per_epoch)
    trainer = quiet_trainer(
        arguments,
        [reporter_callback(reporter, tokens_per_step)],
        model=model,
        train_dataset=train,
        eval_dataset=validation,
        data_collator=collate,
    )
    with checkpoints_removed(run_dir):
        reporter.log("Measuring the validation loss before training")
        before = float(trainer.evaluate()["eval_loss"])
        reporter.raise_if_stopped()
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
        reporter.raise_if_stopped()
        after = float(trainer.evaluate()["eval_loss"])
    return before, after, round(train.tokens * params.epochs / seconds, 1) if seconds > 0 else 0.0


def load_chat_base(
    params: ChatModelParams, reporter: Reporter, settings: Settings, device: DeviceInfo
) -> tuple[Any, Any]:
    """The base model to tune, and its tokenizer, loaded for training on ``device`` (chat and
    preference tuning alike).

    Raises:
        ShowcaseError: the base model cannot load, or has no chat template.
    """
    # A folder is named by its place in the models or runs folder: the log is shown on the page.
    base_name = shown_path(params.base_model, settings)
    reporter.log(_("Loading base model {model}").format(model=base_name))
    plan = plan_load(catalogue.TEXT_GENERATION, params.base_model, settings, device, training=True)
    model, tokenizer = load_causal_lm_for_training(plan, settings)
    require_chat_template(tokenizer, base_name)
    return model, tokenizer


def fit_with_backoff(
    model: Any, params: ChatModelParams, reporter: Reporter, train_once: Callable[[Any, int], Fitted]
) -> tuple[Any, Fitted, int, int]:
    """Attach LoRA when ``params`` ask for it, then ``train_once(model, batch_size)``, halving the
    batch on out-of-memory (chat and preference tuning alike). Returns the model (with its
    adapters), what ``train_once`` returned, and the trainable and total parameter counts.

    Raises:
        ShowcaseError: LoRA cannot attach, or memory runs out even at batch size 1.
    """
    if params.method == LORA:
        model = wrap_lora(model, params)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    reporter.log(
        _("Training {trainable:,} of {total:,} parameters ({share:.2%})").format(
            trainable=trainable, total=total, share=trainable / max(1, total)
        )
    )
    initial = {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}

    def fit(batch_size: int) -> Fitted:
        # A retry after out-of-memory starts again from the initial weights, not a half-trained model.
        with torch.no_grad():
            for name, value in model.named_parameters():
                if name in initial:
                    value.copy_(initial[name])
        return train_once(model, batch_size)

    fitted = with_batch_backoff(fit, params.batch_size, reporter, params.base_model)
    initial.clear()  # the copies are no longer needed (full fine-tuning: a whole model)
    return model, fitted, trainable, total


def tune_chat_model(
    params: ChatTuneParams,
    dataset: ChatDataset,
    run_dir: Path,
    reporter: Reporter,
    settings: Settings,
    device: DeviceInfo,
) -> TunedChatModel:
    """Tune ``params.base_model`` on ``dataset``; the caller saves the result.

    Raises:
        ShowcaseError: the base model cannot load, has no chat template, LoRA cannot attach, or
            memory runs out even at batch size 1.
        JobCancelled: a stop was requested.
    """
    model, tokenizer = load_chat_base(params, reporter, settings, device)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    train = _Conversations(tokenizer, dataset.train, params.max_length)
    validation = _Conversations(tokenizer, dataset.validation, params.max_length)
    reporter.log(
        f"Training on {len(train)} conversations ({train.tokens:,} tokens), validating on {len(validation)}"
        f" (max length {params.max_length} tokens, {params.method} method)"
    )
    held_out = [_prompt_of(c) for c in dataset.validation[: params.report_prompts]]
    model.to(device.torch_device)
    base_replies: list[str] = []
    if held_out:
        reporter.log(f"Answering {len(held_out)} held-out prompts with the base model")
        base_replies = greedy_replies(model, tokenizer, [p for p, _ in held_out], params.report_max_new_tokens, device)
    reporter.raise_if_stopped()

    def train_once(model: Any, batch_size: int) -> tuple[float, float, float]:
        return _train(model, train, validation, _collator(pad_id), params, run_dir, device, reporter, batch_size)

    model, (before, after, speed), trainable, total = fit_with_backoff(model, params, reporter, train_once)
    reporter.log(f"Validation loss {before:.4f} before, {after:.4f} after ({speed:,.0f} tokens/s)")
    side_by_side = []
    if held_out:
        reporter.log("Answering the held-out prompts with the tuned model")
        tuned = greedy_replies(model, tokenizer, [p for p, _ in held_out], params.report_max_new_tokens, device)
        side_by_side = [
            SideBySide(prompt[-1]["content"], reference, base, new)
            for (prompt, reference), base, new in zip(held_out, base_replies, tuned, strict=True)
        ]
    return TunedChatModel(model, tokenizer, before, after, side_by_side, train.tokens, speed, trainable, total)
