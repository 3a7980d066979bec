"""The model card (README.md) written beside a tuned chat model and its adapter.

Titles, replies, prompts and warnings come from users or from a model: they are escaped with
``plain_markdown`` so the card never grows links, images or HTML.
"""

from __future__ import annotations

import json

from backend.i18n import _
from backend.jobs.kinds import JobParams
from backend.text_safety import plain_markdown
from backend.training.chat.data import ChatDataset
from backend.training.chat.params import LORA, ChatTuneParams
from backend.training.chat.report import ChatReport

_CELL_CHARS = 300


def card_cell(text: object) -> str:
    """A user's or a model's text as one table cell of a card: on one line, cut at
    ``_CELL_CHARS``, escaped (chat and preference cards alike)."""
    value = " ".join(str(text).split())
    return plain_markdown(value if len(value) <= _CELL_CHARS else value[:_CELL_CHARS] + "…")


def parameter_rows(params: JobParams) -> str:
    """The card's table rows of a tuning job's parameters (the title, base and task are said elsewhere)."""
    skipped = {"title", "base_model", "task"}
    return "\n".join(f"| {k} | {card_cell(v)} |" for k, v in params.to_dict().items() if k not in skipped)


def build_chat_card(
    params: ChatTuneParams, dataset: ChatDataset, report: ChatReport, created: str, device: str, base_name: str
) -> str:
    """Markdown describing how the chat model was tuned and what changed.

    Args:
        base_name: how the base model is named (a hub id, or a folder's place in the models
            folder, never a server path).
    """
    method = (
        _("LoRA adapters (rank {rank}, alpha {alpha}, dropout {dropout}, modules {modules}) with peft").format(
            rank=params.lora_rank, alpha=params.lora_alpha, dropout=params.lora_dropout, modules=params.target_modules
        )
        if params.method == LORA
        else _("full fine-tuning of every weight")
    )
    param_rows = parameter_rows(params)
    examples = "\n".join(
        f"| {card_cell(r['prompt'])} | {card_cell(r['base'])} | {card_cell(r['tuned'])} |" for r in report.side_by_side
    )
    checks = "\n".join(f"- {plain_markdown(w)}" for w in dataset.warnings) or "- " + _("none")
    warning = _("Warning")
    report_warnings = "\n".join(f"> **{warning}:** {plain_markdown(w)}\n" for w in report.warnings())
    title = plain_markdown(params.title) if params.title else _("Tuned chat model")
    intro = _(
        "Chat model tuned from {base} with {method}, created {created} on {device} by the Large Model Showcase"
        " fine-tuning studio. The loss was taken on assistant replies only."
    ).format(base=plain_markdown(base_name), method=method, created=created, device=device)
    conversations = _("Conversations: {train} for training, {held_out} held out ({source})").format(
        train=report.train_conversations,
        held_out=report.validation_conversations,
        source=plain_markdown(dataset.summary.get("validation_source", "")),
    )
    shape = _("Upload shape: {shape}; training tokens per epoch: {tokens:,}").format(
        shape=plain_markdown(dataset.summary.get("shape", "")), tokens=report.train_tokens
    )
    trainable = _("Trainable parameters: {trainable:,} of {total:,}.").format(
        trainable=report.trainable_parameters, total=report.total_parameters
    )
    adapter_note = (
        _(
            "This folder holds the model with the adapters merged in. The adapters alone"
            " (`adapter_model.safetensors` + `adapter_config.json`) load on the base model with"
            " `peft.PeftModel.from_pretrained(base, adapter_folder)`."
        )
        if params.method == LORA
        else _("Every weight was tuned; this folder is a complete model.")
    )
    use = _("{adapter_note} It uses the base model's own chat template (kept in the tokenizer files).").format(
        adapter_note=adapter_note
    )
    limits = _(
        "The validation set has {count} conversations drawn from the same upload as the training data; expect the"
        " tuned behaviour to hold less well on different prompts."
    ).format(count=report.validation_conversations)
    sections = {
        "data": _("Data"),
        "checks": _("Data checks:"),
        "training": _("Training parameters"),
        "validation": _("Validation (held-out conversations, assistant tokens)"),
        "replies": _("Held-out prompts, greedy replies"),
        "use": _("Use"),
        "limits": _("Limits"),
        "parameter_header": "| {} | {} |".format(_("parameter"), _("value")),
        "validation_header": "| | {} | {} |".format(_("base"), _("tuned")),
        "loss": _("loss"),
        "perplexity": _("perplexity"),
        "replies_header": "| {} | {} | {} |".format(_("prompt"), _("base"), _("tuned")),
    }
    return f"""---
library_name: transformers
pipeline_tag: text-generation
base_model: {json.dumps(base_name)}
tags: [chat, {"lora, peft" if params.method == LORA else "full-fine-tuning"}]
---

# {title}

{intro}

## {sections["data"]}

- {conversations}
- {shape}

{sections["checks"]}
{checks}

## {sections["training"]}

{sections["parameter_header"]}
|---|---|
{param_rows}

{trainable}

## {sections["validation"]}

{report_warnings}

{sections["validation_header"]}
|---|---|---|
| {sections["loss"]} | {report.val_loss_before:.4f} | {report.val_loss_after:.4f} |
| {sections["perplexity"]} | {report.perplexity_before:.2f} | {report.perplexity_after:.2f} |

## {sections["replies"]}

{sections["replies_header"]}
|---|---|---|
{examples}

## {sections["use"]}

{use}

## {sections["limits"]}

{limits}
"""
