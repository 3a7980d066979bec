"""Preference tuning of a chat model with DPO (trl's ``DPOTrainer``): LoRA adapters (``peft``) or
every weight, on pairs rendered with the model's own chat template.

Around the training it measures what the report shows, on the held-out pairs: each reply's log-
probability under the base model (measured before training starts, so no second copy of the model
is kept) and under the tuned model; and the base and tuned models' greedy replies to held-out
prompts. DPO's reference log-probabilities are computed once before training (trl's
``precompute_ref_log_probs``), so full fine-tuning needs no frozen copy of the model either.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from backend.config import Settings
from backend.i18n import _
from backend.jobs.progress import Reporter
from backend.models.resolve.device import DeviceInfo
from backend.server_paths import shown_path
from backend.training.chat.trainer import (
    SideBySide,
    chat_trainer_arguments,
    fit_with_backoff,
    greedy_replies,
    load_chat_base,
)
from backend.training.hf_training import (
    checkpoints_removed,
    quiet_trainer,
    reporter_callback,
)
from backend.training.preference.data import PreferenceDataset, RenderedPair, pair_token_ids, render_pairs
from backend.training.preference.params import PreferenceParams

# Points on the curves: enough to see a trend, few enough for the job store.
_EVAL_POINTS = 4
# trl's log keys -> the curves the live view draws (beside the loss curves every trainer logs).
PREFERENCE_CURVES = {
    "rewards/accuracies": "reward_accuracy",
    "rewards/margins": "reward_margin",
    "eval_rewards/accuracies": "val_reward_accuracy",
    "eval_rewards/margins": "val_reward_margin",
}


@dataclass
class PairLogProbs:
    """Summed log-probabilities of a held-out pair's chosen and rejected reply under one model."""

    chosen: float
    rejected: float

    @property
    def margin(self) -> float:
        """How much more likely the chosen reply is than the rejected one (log scale)."""
        return self.chosen - self.rejected


@dataclass
class TunedPreferenceModel:
    """The tuned model (a ``PeftModel`` for LoRA), its tokenizer, and the before/after measures."""

    model: Any
    tokenizer: Any
    base_log_probs: list[PairLogProbs]
    tuned_log_probs: list[PairLogProbs]
    side_by_side: list[SideBySide] = field(default_factory=list)
    pairs_per_second: float = 0.0
    trainable_parameters: int = 0
    total_parameters: int = 0


def reply_log_probs(
    model: Any, tokenizer: Any, pairs: list[RenderedPair], max_length: int, device: DeviceInfo
) -> list[PairLogProbs]:
    """Each pair's summed reply log-probabilities given its prompt, cut to ``max_length`` tokens
    as the trainer cuts them (the start kept), one sequence at a time."""
    model.eval()
    measured = []
    with torch.inference_mode():
        for pair in pairs:
            prompt, *replies = pair_token_ids(tokenizer, pair)
            sums = []
            for reply in replies:
                ids = (prompt + reply)[:max_length]
                tensor = torch.tensor([ids], device=device.torch_device)
                logits = model(input_ids=tensor, attention_mask=torch.ones_like(tensor)).logits[0, :-1].float()
                chosen_tokens = torch.log_softmax(logits, dim=-1).gather(1, tensor[0, 1:, None])[:, 0]
                # Position i predicts token i + 1: the reply's tokens are predicted from len(prompt) - 1 on.
                sums.append(float(chosen_tokens[len(prompt) - 1 :].sum()))
            measured.append(PairLogProbs(*sums))
    return measured


def _dataset(rendered: list[RenderedPair]) -> Any:
    from datasets import Dataset

    return Dataset.from_list([{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in rendered])


def _train(
    model: Any,
    tokenizer: Any,
    train: list[RenderedPair],
    held_out: list[RenderedPair],
    params: PreferenceParams,
    run_dir: Path,
    device: DeviceInfo,
    reporter: Reporter,
    batch_size: int,
) -> float:
    """One ``DPOTrainer`` run; returns the training speed in pairs per second."""
    from datasets import disable_progress_bars
    from trl import DPOConfig, DPOTrainer

    disable_progress_bars()  # the worker's log is the job's log; trl's dataset maps would fill it
    shared, _steps_per_epoch = chat_trainer_arguments(params, run_dir, device, batch_size, len(train), _EVAL_POINTS)
    arguments = DPOConfig(
        **shared,
        beta=params.beta,
        max_length=params.max_length,
        truncation_mode="keep_start",
        # The reference is the model as it is now: measured once, so no frozen copy is kept.
        precompute_ref_log_probs=True,
    )
    trainer = quiet_trainer(
        arguments,
        [reporter_callback(reporter, curves=PREFERENCE_CURVES)],
        trainer_class=DPOTrainer,
        model=model,
        train_dataset=_dataset(train),
        eval_dataset=_dataset(held_out),
        processing_class=tokenizer,
    )
    with checkpoints_removed(run_dir):
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    return round(len(train) * params.epochs / seconds, 2) if seconds > 0 else 0.0


def tune_preference_model(
    params: PreferenceParams,
    dataset: PreferenceDataset,
    run_dir: Path,
    reporter: Reporter,
    settings: Settings,
    device: DeviceInfo,
) -> TunedPreferenceModel:
    """Tune ``params.base_model`` on ``dataset``'s pairs with DPO; the caller saves the result.
    It loads and fits as ``chat.trainer.tune_chat_model`` does, and raises the same errors."""
    model, tokenizer = load_chat_base(params, reporter, settings, device)
    base_name = shown_path(params.base_model, settings)
    train = render_pairs(tokenizer, dataset.train, base_name)
    held_out = render_pairs(tokenizer, dataset.validation, base_name)
    reporter.log(
        _("Training on {train} preference pairs, holding out {held_out} (max length {length} tokens, beta {beta},"
          " {method} method)").format(
            train=len(train), held_out=len(held_out), length=params.max_length, beta=params.beta, method=params.method
        )
    )  # fmt: skip
    model.to(device.torch_device)
    reporter.log(_("Measuring the base model's preference on the held-out pairs"))
    base_log_probs = reply_log_probs(model, tokenizer, held_out, params.max_length, device)
    prompts = [pair.prompt for pair in dataset.validation[: params.report_prompts]]
    base_replies = greedy_replies(model, tokenizer, prompts, params.report_max_new_tokens, device) if prompts else []
    reporter.raise_if_stopped()

    def train_once(model: Any, batch_size: int) -> float:
        return _train(model, tokenizer, train, held_out, params, run_dir, device, reporter, batch_size)

    model, speed, trainable, total = fit_with_backoff(model, params, reporter, train_once)
    reporter.raise_if_stopped()
    reporter.log(_("Measuring the tuned model's preference on the held-out pairs"))
    tuned_log_probs = reply_log_probs(model, tokenizer, held_out, params.max_length, device)
    side_by_side = []
    if prompts:
        reporter.log(_("Answering the held-out prompts with the tuned model"))
        tuned_replies = greedy_replies(model, tokenizer, prompts, params.report_max_new_tokens, device)
        side_by_side = [
            SideBySide(pair.prompt[-1]["content"], pair.chosen, base, tuned)
            for pair, base, tuned in zip(dataset.validation, base_replies, tuned_replies, strict=False)
        ]
    return TunedPreferenceModel(
        model, tokenizer, base_log_probs, tuned_log_probs, side_by_side, speed, trainable, total
    )
