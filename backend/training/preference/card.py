"""The model card (README.md) written beside a preference-tuned model and its adapter.

Escaped as the chat card is (``backend.training.chat.card``): no user's or model's text grows links,
images or HTML.
"""

from __future__ import annotations

import json

from backend.i18n import _
from backend.text_safety import plain_markdown
from backend.training.chat.card import card_cell, parameter_rows
from backend.training.chat.params import LORA
from backend.training.preference.data import PreferenceDataset
from backend.training.preference.params import PreferenceParams
from backend.training.preference.report import PreferenceReport


def _share(report: PreferenceReport, share: float) -> str:
    low, high = report.interval(share)
    return f"{share:.0%} (95% {low:.0%}–{high:.0%})"


def build_preference_card(
    params: PreferenceParams,
    dataset: PreferenceDataset,
    report: PreferenceReport,
    created: str,
    device: str,
    base_name: str,
) -> str:
    """Markdown describing how the model was preference-tuned and what changed.

    Args:
        base_name: how the base model is named (a hub id, or a folder's place in the models
            folder, never a server path).
    """
    method = (
        _("LoRA adapters (rank {rank}, alpha {alpha}) with peft").format(rank=params.lora_rank, alpha=params.lora_alpha)
        if params.method == LORA
        else _("full fine-tuning of every weight")
    )
    param_rows = parameter_rows(params)
    examples = "\n".join(
        f"| {card_cell(r['prompt'])} | {card_cell(r['reference'])} | {card_cell(r['base'])} | {card_cell(r['tuned'])} |"
        for r in report.side_by_side
    )
    checks = "\n".join(f"- {plain_markdown(w)}" for w in dataset.warnings) or "- " + _("none")
    warning = _("Warning")
    report_warnings = "\n".join(f"> **{warning}:** {plain_markdown(w)}\n" for w in report.warnings())
    title = plain_markdown(params.title) if params.title else _("Preference-tuned chat model")
    intro = _(
        "Chat model tuned from {base} with DPO (trl) and {method}, created {created} on {device} by the Large Model"
        " Showcase fine-tuning studio."
    ).format(base=plain_markdown(base_name), method=method, created=created, device=device)
    pairs = _("Preference pairs: {train} for training, {held_out} held out").format(
        train=report.train_pairs, held_out=report.held_out_pairs
    )
    trainable = _("Trainable parameters: {trainable:,} of {total:,}.").format(
        trainable=report.trainable_parameters, total=report.total_parameters
    )
    held_out_rows = "\n".join(
        f"| {label} | {value} |"
        for label, value in (
            (_("prefers the chosen reply, base model"), _share(report, report.preference_accuracy_before)),
            (_("prefers the chosen reply, tuned model"), _share(report, report.preference_accuracy_after)),
            (_("reward accuracy"), _share(report, report.reward_accuracy)),
            (_("mean reward margin"), f"{report.mean_reward_margin:.3f}"),
        )
    )
    limits = _(
        "The held-out pairs are drawn from the same data as the training pairs; expect the preference to hold"
        " less well on different prompts."
    )
    sections = {
        "data": _("Data"),
        "checks": _("Data checks:"),
        "training": _("Training parameters"),
        "held_out": _("Held-out pairs"),
        "replies": _("Held-out prompts, greedy replies"),
        "limits": _("Limits"),
        "parameter_header": "| {} | {} |".format(_("parameter"), _("value")),
        "replies_header": "| {} | {} | {} | {} |".format(_("prompt"), _("chosen"), _("base"), _("tuned")),
    }
    return f"""---
library_name: transformers
pipeline_tag: text-generation
base_model: {json.dumps(base_name)}
tags: [chat, dpo, {"lora, peft" if params.method == LORA else "full-fine-tuning"}]
---

# {title}

{intro}

## {sections["data"]}

- {pairs}

{sections["checks"]}
{checks}

## {sections["training"]}

{sections["parameter_header"]}
|---|---|
{param_rows}

{trainable}

## {sections["held_out"]}

{report_warnings}

| | |
|---|---|
{held_out_rows}

## {sections["replies"]}

{sections["replies_header"]}
|---|---|---|---|
{examples}

## {sections["limits"]}

{limits}
"""
