"""The model card (README.md) written beside a tuned chat model and its adapter.

Titles, replies, prompts and warnings come from users or from a model: they are escaped with
``plain_markdown`` so the card never grows links, images or HTML.
"""

from __future__ import annotations

import json
from typing import Any

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


def tuning_method(params: ChatTuneParams | Any) -> str:
    """How a chat model was tuned, for a card's introduction: its LoRA adapters, or every weight
    (``params``: chat or preference tuning's, which share these fields)."""
    if params.method != LORA:
        return _("full fine-tuning of every weight")
    return _("LoRA adapters (rank {rank}, alpha {alpha}, dropout {dropout}, modules {modules}) with peft").format(
        rank=params.lora_rank, alpha=params.lora_alpha, dropout=params.lora_dropout, modules=params.target_modules
    )


def chat_model_card(
    params: JobParams,
    report: Any,
    data_warnings: list[str],
    base_name: str,
    *,
    tags: str,
    untitled: str,
    intro: str,
    data: list[str],
    results: tuple[str, str],
    reply_columns: list[tuple[str, str]],
    closing: list[tuple[str, str]],
) -> str:
    """The card of a tuned chat model (chat and preference tuning write the same skeleton): front
    matter, title (``untitled`` when the job has none), ``intro``, the ``data`` lines with the data
    checks, the training parameters, ``results`` (heading, table) under the report's warnings, the
    held-out replies in ``reply_columns`` (row key, header), then the ``closing`` sections (heading, text).

    ``params`` has the job's ``method`` and ``title``; ``report`` its ``warnings()``,
    ``trainable_parameters``, ``total_parameters`` and ``side_by_side`` rows.
    """
    title = plain_markdown(params.title) if params.title else untitled
    adapters = "lora, peft" if params.method == LORA else "full-fine-tuning"
    checks = "\n".join(f"- {plain_markdown(w)}" for w in data_warnings) or "- " + _("none")
    warning = _("Warning")
    report_warnings = "\n".join(f"> **{warning}:** {plain_markdown(w)}\n" for w in report.warnings())
    trainable = _("Trainable parameters: {trainable:,} of {total:,}.").format(
        trainable=report.trainable_parameters, total=report.total_parameters
    )
    results_heading, results_table = results
    replies_header = "| " + " | ".join(header for _key, header in reply_columns) + " |"
    replies_rule = "|" + "---|" * len(reply_columns)
    examples = "\n".join(
        "| " + " | ".join(card_cell(row[key]) for key, _header in reply_columns) + " |" for row in report.side_by_side
    )
    data_lines = "\n".join(f"- {line}" for line in data)
    parameter_header = "| {} | {} |".format(_("parameter"), _("value"))
    closing_text = "".join(f"\n## {heading}\n\n{text}\n" for heading, text in closing)
    data_heading, checks_heading, training_heading = _("Data"), _("Data checks:"), _("Training parameters")
    replies_heading = _("Held-out prompts, greedy replies")
    return f"""---
library_name: transformers
pipeline_tag: text-generation
base_model: {json.dumps(base_name)}
tags: [{tags}, {adapters}]
---

# {title}

{intro}

## {data_heading}

{data_lines}

{checks_heading}
{checks}

## {training_heading}

{parameter_header}
|---|---|
{parameter_rows(params)}

{trainable}

## {results_heading}

{report_warnings}

{results_table}

## {replies_heading}

{replies_header}
{replies_rule}
{examples}
{closing_text}"""


def build_chat_card(
    params: ChatTuneParams, dataset: ChatDataset, report: ChatReport, created: str, device: str, base_name: str
) -> str:
    """Markdown describing how the chat model was tuned and what changed.

    Args:
        base_name: how the base model is named (a hub id, or a folder's place in the models
            folder, never a server path).
    """
    intro = _(
        "Chat model tuned from {base} with {method}, created {created} on {device} by the Large Model Showcase"
        " fine-tuning studio. The loss was taken on assistant replies only."
    ).format(base=plain_markdown(base_name), method=tuning_method(params), created=created, device=device)
    conversations = _("Conversations: {train} for training, {held_out} held out ({source})").format(
        train=report.train_conversations,
        held_out=report.validation_conversations,
        source=plain_markdown(dataset.summary.get("validation_source", "")),
    )
    shape = _("Upload shape: {shape}; training tokens per epoch: {tokens:,}").format(
        shape=plain_markdown(dataset.summary.get("shape", "")), tokens=report.train_tokens
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
    validation = "\n".join(
        (
            "| | {} | {} |".format(_("base"), _("tuned")),
            "|---|---|---|",
            "| {} | {:.4f} | {:.4f} |".format(_("loss"), report.val_loss_before, report.val_loss_after),
            "| {} | {:.2f} | {:.2f} |".format(_("perplexity"), report.perplexity_before, report.perplexity_after),
        )
    )
    return chat_model_card(
        params,
        report,
        dataset.warnings,
        base_name,
        tags="chat",
        untitled=_("Tuned chat model"),
        intro=intro,
        data=[conversations, shape],
        results=(_("Validation (held-out conversations, assistant tokens)"), validation),
        reply_columns=[("prompt", _("prompt")), ("base", _("base")), ("tuned", _("tuned"))],
        closing=[(_("Use"), use), (_("Limits"), limits)],
    )
